"""The leaderboard: Bradley–Terry on synthetic votes with known strengths, and the endpoint."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from gateway.arena import ballot, leaderboard, pairs
from tests.support.turn_helpers import API, rows

TRUE_RATINGS = {"claude": 1150.0, "chatgpt": 1060.0, "gemini": 980.0, "grok": 900.0, "sonar": 910.0}


def synthetic_votes(count: int, seed: int) -> list[dict]:
    """Two-way votes whose winner is drawn with the Bradley–Terry probability of the true
    ratings (Elo scale: 400 points are 10:1 odds)."""
    rng = random.Random(seed)
    names = list(TRUE_RATINGS)
    votes = []
    for _ in range(count):
        a, b = rng.sample(names, 2)
        p_a = 1 / (1 + 10 ** ((TRUE_RATINGS[b] - TRUE_RATINGS[a]) / 400))
        winner = "A" if rng.random() < p_a else "B"
        entries = [
            {"label": "A", "provider": a, "model": f"{a}-model"},
            {"label": "B", "provider": b, "model": f"{b}-model"},
        ]
        chosen = ballot(entries, winner, None)
        votes.append(
            {"participants": chosen.participants, "ranks": chosen.ranks, "verdict": chosen.verdict}
        )
    return votes


def test_known_strengths_are_recovered_within_the_intervals():
    board = leaderboard(synthetic_votes(3000, seed=16), rounds=200, seed=0)
    assert board.votes == 3000
    mean = sum(TRUE_RATINGS.values()) / len(TRUE_RATINGS)  # ratings are relative to the mean
    for standing in board.standings:
        true = TRUE_RATINGS[standing.provider] - mean + 1000
        assert standing.ci_low <= true <= standing.ci_high, standing
        assert standing.ci_low < standing.rating < standing.ci_high
        assert standing.ci_high - standing.ci_low < 80, "3000 votes pin a rating down"
        assert standing.model == f"{standing.provider}-model"
    assert [s.provider for s in board.standings][:3] == ["claude", "chatgpt", "gemini"]
    # Seeded: the same votes give the same board.
    again = leaderboard(synthetic_votes(3000, seed=16), rounds=200, seed=0)
    assert [(s.rating, s.ci_low, s.ci_high) for s in again.standings] == [
        (s.rating, s.ci_low, s.ci_high) for s in board.standings
    ]


def test_fewer_votes_give_wider_intervals():
    few = {s.provider: s for s in leaderboard(synthetic_votes(100, seed=3)).standings}
    many = {s.provider: s for s in leaderboard(synthetic_votes(3000, seed=3)).standings}
    for name in TRUE_RATINGS:
        assert few[name].ci_high - few[name].ci_low > many[name].ci_high - many[name].ci_low


ENTRIES = [
    {"label": "A", "provider": "claude", "model": "c"},
    {"label": "B", "provider": "chatgpt", "model": "g"},
    {"label": "C", "provider": "gemini", "model": "m"},
]


def test_what_each_vote_means_in_pairs():
    winner = ballot(ENTRIES, "B", None)
    assert winner.ranks == [None, 1, None] and winner.winner_provider == "chatgpt"
    assert sorted(pairs(winner.ranks)) == [(1, 0, 1.0), (1, 2, 1.0)]  # no A-vs-C pair
    tie = ballot(ENTRIES, "tie", None)
    assert sorted(pairs(tie.ranks)) == sorted(
        (i, j, 0.5) for i in range(3) for j in range(3) if i != j
    )
    assert ballot(ENTRIES, "all_bad", None).ranks == tie.ranks  # decided: counted as a tie
    ranking = ballot(ENTRIES, None, ["C", "A"])
    assert ranking.ranks == [2, None, 1] and ranking.winner == "C"
    assert sorted(pairs(ranking.ranks)) == [(0, 1, 1.0), (2, 0, 1.0), (2, 1, 1.0)]


def test_tallies_and_win_rates():
    votes = []
    for label, verdict in (
        ("A", "winner"),
        ("A", "winner"),
        ("tie", "tie"),
        ("all_bad", "all_bad"),
    ):
        chosen = ballot(ENTRIES[:2], label, None)
        votes.append(
            {"participants": chosen.participants, "ranks": chosen.ranks, "verdict": verdict}
        )
    board = {s.provider: s for s in leaderboard(votes, rounds=50).standings}
    claude, chatgpt = board["claude"], board["chatgpt"]
    assert (claude.votes, claude.wins, claude.losses, claude.ties, claude.all_bad) == (
        4,
        2,
        0,
        2,
        1,
    )
    assert (chatgpt.wins, chatgpt.losses, chatgpt.ties) == (0, 2, 2)
    assert claude.win_rate == 0.75 and chatgpt.win_rate == 0.25
    assert claude.rating > 1000 > chatgpt.rating
    assert claude.rating + chatgpt.rating == pytest.approx(2000)


def test_equal_ratings_share_a_rank():
    # Claude and ChatGPT each beat the other once, and both beat Gemini: a tie for first.
    votes = []
    for winner in ("A", "B"):
        chosen = ballot(ENTRIES[:2], winner, None)
        votes.append(
            {"participants": chosen.participants, "ranks": chosen.ranks, "verdict": "winner"}
        )
    for first in (0, 1):
        chosen = ballot([ENTRIES[first], ENTRIES[2]], ENTRIES[first]["label"], None)
        votes.append(
            {"participants": chosen.participants, "ranks": chosen.ranks, "verdict": "winner"}
        )
    board = leaderboard(votes, rounds=20)
    ranks = {s.provider: s.rank for s in board.standings}
    assert ranks == {"claude": 1, "chatgpt": 1, "gemini": 3}, board.standings
    assert [s.rank for s in board.standings] == sorted(ranks.values())


def test_an_empty_and_an_unbeaten_board_are_defined():
    assert leaderboard([]).standings == []
    chosen = ballot(ENTRIES[:2], "A", None)
    board = leaderboard(
        [{"participants": chosen.participants, "ranks": chosen.ranks, "verdict": "winner"}] * 5
    )
    claude = board.standings[0]
    assert claude.provider == "claude" and claude.rating < 1400, "the prior keeps it finite"


async def test_the_endpoint_fits_the_stored_votes_in_a_window(stream_client, database_url):
    turns = []
    for _ in range(4):
        body = {
            "prompt": "which?",
            "models": ["claude:m+tokens=1", "gemini:m+tokens=1"],
            "blind": True,
        }
        response = await stream_client.post(f"{API}/chat/", json=body)
        turns.append(response.json()["turn_id"])
    for turn_id in turns:
        state = (await stream_client.get(f"{API}/turns/{turn_id}")).json()
        # A wins every vote, whichever provider it was.
        first = await stream_client.post(
            f"{API}/turns/{turn_id}/vote", json={"ranking": ["A", "B"]}
        )
        assert first.status_code == 201
        assert len(state["providers"]) == 2
    # Make one vote old: the window filters it out.
    await rows(
        database_url,
        "UPDATE votes SET created_at = now() - interval '10 days' WHERE turn_id = $1",
        turns[0],
    )
    board = (await stream_client.get(f"{API}/leaderboard")).json()
    assert board["votes"] == 4 and board["bootstrap_rounds"] == 200
    assert {(s["provider"], s["model"]) for s in board["standings"]} == {
        ("claude", "m+tokens=1"),
        ("gemini", "m+tokens=1"),
    }
    assert sum(s["wins"] for s in board["standings"]) == 4
    # A's provider is drawn per turn: two wins each is a tie, and a tie shares its rank.
    wins = sorted((s["wins"] for s in board["standings"]), reverse=True)
    assert [s["rank"] for s in board["standings"]] == ([1, 1] if wins[0] == wins[1] else [1, 2])
    for standing in board["standings"]:
        assert standing["ci_low"] <= standing["rating"] <= standing["ci_high"]
    recent = (await stream_client.get(f"{API}/leaderboard", params={"days": 7})).json()
    assert recent["votes"] == 3
    since = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    assert (await stream_client.get(f"{API}/leaderboard", params={"since": since})).json()[
        "votes"
    ] == 3
    both = {"days": "30", "since": since}  # the later start wins
    assert (await stream_client.get(f"{API}/leaderboard", params=both)).json()["votes"] == 3
    lower_case = since.replace("T", "t")  # RFC 3339 allows it
    assert (await stream_client.get(f"{API}/leaderboard", params={"since": lower_case})).json()[
        "votes"
    ] == 3
    for bad in (
        {"days": "0"},
        {"days": "x"},
        {"since": "yesterday"},
        {"since": "9999-12-31T23:00:00-12:00"},
    ):
        response = await stream_client.get(f"{API}/leaderboard", params=bad)
        assert response.status_code == 422, bad
