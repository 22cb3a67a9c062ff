"""The leaderboard: stored votes → per-model pairwise tallies and a Bradley–Terry fit.

A model is a provider with the model it ran (``claude`` with ``claude-sonnet-5`` and with
``claude-haiku-4-5`` are two entries). Votes are grouped into distinct patterns (who took part,
who won) before fitting, so that the bootstrap resamples patterns, not rows.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway.arena.bradley_terry import fit
from gateway.arena.votes import pairs

Model = tuple[str, str]  # (provider, model)


@dataclass(slots=True)
class Standing:
    provider: str
    model: str
    rating: float = 1000.0
    ci_low: float = 1000.0
    ci_high: float = 1000.0
    votes: int = 0  # votes it took part in
    wins: int = 0  # pairwise
    losses: int = 0
    ties: int = 0
    all_bad: int = 0  # all-bad votes it took part in
    rank: int = 0  # 1 + how many rate higher: equal whole-point ratings share a rank

    @property
    def win_rate(self) -> float | None:
        """Its share of pairwise comparisons won, a tie counting half."""
        games = self.wins + self.losses + self.ties
        return None if games == 0 else (self.wins + 0.5 * self.ties) / games


@dataclass(slots=True)
class Leaderboard:
    votes: int
    rounds: int
    standings: list[Standing] = field(default_factory=list)


def leaderboard(votes: Iterable[Mapping], *, rounds: int = 200, seed: int = 0) -> Leaderboard:
    """From rows with ``participants``, ``ranks`` and ``verdict`` (see gateway.arena.votes);
    best first."""
    index: dict[Model, int] = {}
    standings: list[Standing] = []
    patterns: Counter[tuple] = Counter()
    count = 0
    for vote in votes:
        count += 1
        positions = []
        for participant in vote["participants"]:
            key = (participant["provider"], participant["model"])
            if key not in index:
                index[key] = len(standings)
                standings.append(Standing(*key))
            positions.append(index[key])
            standing = standings[index[key]]
            standing.votes += 1
            standing.all_bad += vote["verdict"] == "all_bad"
        implied = pairs(vote["ranks"])
        for w, lose, weight in implied:
            if weight == 1.0:
                standings[positions[w]].wins += 1
                standings[positions[lose]].losses += 1
            elif w < lose:  # a tie is two halves, (i, j) then (j, i): count it once
                standings[positions[w]].ties += 1
                standings[positions[lose]].ties += 1
        outcomes = tuple((positions[w], positions[lose], weight) for w, lose, weight in implied)
        patterns[outcomes] += 1
    result = fit(len(standings), list(patterns.items()), rounds=rounds, seed=seed)
    for i, standing in enumerate(standings):
        standing.rating, standing.ci_low, standing.ci_high = (
            result.ratings[i],
            result.low[i],
            result.high[i],
        )
    standings.sort(key=lambda s: (-s.rating, s.provider, s.model))
    # Ratings are shown in whole points: two that look the same are a tie, and share a rank.
    shown = [round(s.rating) for s in standings]
    for standing, points in zip(standings, shown, strict=True):
        standing.rank = 1 + sum(other > points for other in shown)
    return Leaderboard(count, rounds, standings)
