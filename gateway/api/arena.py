"""The arena's endpoints: a vote on a blind turn (cast by ``gateway.arena.voting``), and the
leaderboard (README "Arena")."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime, timedelta

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.api.body import read_json
from gateway.api.errors import HttpError
from gateway.api.guard import owner_of
from gateway.api.schemas import Leaderboard, Standing, VoteRequest, dump
from gateway.api.turns import turn_id_of, vote_out
from gateway.arena import leaderboard
from gateway.arena.voting import cast_vote
from gateway.runtime import runtime
from storage import Q

BOOTSTRAP_ROUNDS = 200
MAX_DAYS = 100_000


async def vote(request: Request) -> Response:
    gateway = runtime(request)
    turn_id = turn_id_of(request)
    owner = owner_of(request)
    body = await read_json(request, VoteRequest, gateway.settings.max_body_bytes)
    cast = await cast_vote(gateway.turns, turn_id, owner, body.winner, body.ranking)
    return JSONResponse(dump(vote_out(turn_id, cast.snapshot.providers, cast.row)), status_code=201)


async def get_leaderboard(request: Request) -> Response:
    gateway = runtime(request)
    board = await standings(gateway.pool, owner_of(request), window_start(request))
    return JSONResponse(dump(board))


async def standings(pool, voter: int, since: datetime | None) -> Leaderboard:
    """A voter's leaderboard: this endpoint's answer, and a shared leaderboard's."""
    rows = await Q.leaderboard_votes.fetch(pool, voter=voter, since=since)
    # The bootstrap is pure Python: off the event loop.
    board = await asyncio.to_thread(leaderboard, rows, rounds=BOOTSTRAP_ROUNDS)
    return Leaderboard(
        since=since,
        votes=board.votes,
        bootstrap_rounds=board.rounds,
        standings=[
            Standing(
                provider=s.provider,
                model=s.model,
                rank=s.rank,
                rating=round(s.rating, 1),
                ci_low=round(s.ci_low, 1),
                ci_high=round(s.ci_high, 1),
                votes=s.votes,
                wins=s.wins,
                losses=s.losses,
                ties=s.ties,
                all_bad=s.all_bad,
                win_rate=None if s.win_rate is None else round(s.win_rate, 4),
            )
            for s in board.standings
        ],
    )


def window_start(request: Request) -> datetime | None:
    """``?since=`` (an RFC 3339 time; without a zone, UTC) and/or ``?days=`` (the last N days);
    with both, the window starts at the later of the two."""
    since, days = request.query_params.get("since"), request.query_params.get("days")
    starts = []
    if days is not None:
        if not (days.isascii() and days.isdigit() and 1 <= len(days) <= 6):
            raise HttpError(422, "days must be a positive integer")
        if not 1 <= int(days) <= MAX_DAYS:
            raise HttpError(422, f"days must be between 1 and {MAX_DAYS}")
        starts.append(datetime.now(UTC) - timedelta(days=int(days)))
    if since is not None:
        starts.append(parse_time(since))
    return max(starts) if starts else None


def parse_time(text: str) -> datetime:
    # RFC 3339 allows a lower-case t and z, any number of fraction digits and a leap second,
    # which datetime.fromisoformat does not all take.
    normal = text.strip().upper().replace("Z", "+00:00")
    normal = re.sub(r"(\.\d{6})\d+", r"\1", normal).replace(":60", ":59", 1)
    try:
        start = datetime.fromisoformat(normal)
        return (start if start.tzinfo else start.replace(tzinfo=UTC)).astimezone(UTC)
    except ValueError:
        raise HttpError(422, "since must be a time such as 2026-01-31T00:00:00Z") from None
    except OverflowError:  # the year 9999 in a zone behind UTC
        raise HttpError(422, "since is out of range") from None
