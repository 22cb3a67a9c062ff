"""A vote on a blind turn, and the pairwise outcomes it implies.

A vote names a winner label, ``tie`` or ``all_bad``, or ranks labels best first. Stored, it
is resolved to the turn's providers and models: ``participants`` (one per label) and
``ranks`` (1 = best; equal ranks tie; ``None`` = not ranked). As pairs:

* a winner beats each other answer (the others are not compared with each other);
* a ranking: each listed label beats those after it and every unlisted one;
* ``tie``: every pair is a tie, half a win each;
* ``all_bad``: decided to count as a tie too, as LMArena counts "both are bad": it says the
  answers were alike in quality (all poor), which is evidence about their relative strength,
  not about none. The leaderboard also reports how often each model was in an all-bad vote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

SPECIAL = ("tie", "all_bad")


class InvalidVote(ValueError):
    """A vote that names a label the turn does not have (the message says which): 422."""


@dataclass(frozen=True, slots=True)
class Ballot:
    verdict: str  # winner | tie | all_bad | ranking
    winner: str | None  # a label
    winner_provider: str | None
    ranking: list[str] | None
    participants: list[dict]  # [{label, provider, model}] in label order
    ranks: list[int | None]


def ballot(entries: Sequence[Mapping], winner: str | None, ranking: Sequence[str] | None) -> Ballot:
    """The vote on a turn whose providers are ``entries`` ({provider, model, label})."""
    participants = [
        {"label": e["label"], "provider": e["provider"], "model": e["model"]}
        for e in sorted(entries, key=lambda e: e["label"])
    ]
    labels = [p["label"] for p in participants]
    if ranking is not None:
        order = _known(ranking, labels)
        ranks = [order.index(label) + 1 if label in order else None for label in labels]
        first = order[0]
        return Ballot("ranking", first, _provider(participants, first), order, participants, ranks)
    assert winner is not None
    if winner in SPECIAL:
        return Ballot(winner, None, None, None, participants, [1] * len(labels))
    _known([winner], labels)
    ranks = [1 if label == winner else None for label in labels]
    return Ballot("winner", winner, _provider(participants, winner), None, participants, ranks)


def _known(named: Sequence[str], labels: list[str]) -> list[str]:
    unknown = [label for label in named if label not in labels]
    if unknown:
        raise InvalidVote(
            f"{', '.join(map(repr, unknown))} is not a label of this turn "
            f"(its labels: {', '.join(labels)}; or 'tie', 'all_bad')"
        )
    if len(set(named)) != len(named):
        raise InvalidVote("ranking: a label is listed twice")
    return list(named)


def _provider(participants: list[dict], label: str) -> str:
    return next(p["provider"] for p in participants if p["label"] == label)


def pairs(ranks: Sequence[int | None]) -> list[tuple[int, int, float]]:
    """(winner, loser, weight) between positions of ``ranks``; a tie is two halves."""
    found: list[tuple[int, int, float]] = []
    for i, a in enumerate(ranks):
        for j in range(i + 1, len(ranks)):
            b = ranks[j]
            if a is None and b is None:
                continue
            if b is None or (a is not None and a < b):
                found.append((i, j, 1.0))
            elif a is None or b < a:
                found.append((j, i, 1.0))
            else:
                found += [(i, j, 0.5), (j, i, 0.5)]
    return found
