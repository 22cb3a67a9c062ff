"""Casting a vote on a blind turn: checked against the turn's labels, stored once per turn and
voter, and the turn's open stream told who was who (here, or by the process that runs it)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg

from gateway.arena.votes import InvalidVote, ballot
from gateway.turns import Conflict, InvalidChoice, TurnSnapshot
from gateway.turns.registry import TurnRegistry
from storage import Q


class NotBlind(Conflict):
    """Only a blind turn takes a vote."""

    kind = "not_blind"


class AlreadyVoted(Conflict):
    """A turn takes one vote (per voter)."""

    kind = "already_voted"


@dataclass(frozen=True, slots=True)
class CastVote:
    snapshot: TurnSnapshot  # the turn as it was voted on (its labels and who they were)
    row: asyncpg.Record  # the stored vote


async def cast_vote(
    turns: TurnRegistry,
    turn_id: str,
    owner: int,
    winner: str | None,
    ranking: Sequence[str] | None,
) -> CastVote:
    """Store ``owner``'s vote on the turn and reveal it to its open stream; NotFound for
    another key's turn, NotBlind, InvalidChoice for a label it does not have, AlreadyVoted."""
    record = await turns.stored(turn_id, owner)
    snapshot = record.snapshot()
    if not snapshot.blind:
        raise NotBlind("only a blind turn takes a vote")
    try:
        chosen = ballot(record.row["providers"], winner, ranking)
    except InvalidVote as error:
        raise InvalidChoice(str(error)) from None
    row = await Q.insert_vote.fetchrow(
        turns.pool,
        turn_id=turn_id,
        voter=owner,
        verdict=chosen.verdict,
        winner=chosen.winner,
        winner_provider=chosen.winner_provider,
        ranking=chosen.ranking,
        participants=chosen.participants,
        ranks=chosen.ranks,
    )
    if row is None:
        raise AlreadyVoted("this turn has been voted on already")
    # A stream still open learns who was who: here, or from the process that runs the turn.
    turn = turns.live(turn_id, owner)
    if turn is not None:
        turn.reveal()
    elif record.running:
        await turns.bridge.reveal_elsewhere(turn_id)
    return CastVote(snapshot, row)
