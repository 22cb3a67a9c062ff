"""Turns for EventSource clients: start, stream (resumable), cancel, state (spec §3)."""

from __future__ import annotations

import re
from collections.abc import Collection

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.api.body import read_json
from gateway.api.chat import start_turn
from gateway.api.errors import HttpError, not_found
from gateway.api.guard import owner_of
from gateway.api.paths import events_path
from gateway.api.runs_view import add_runs
from gateway.api.schemas import (
    CancelRequest,
    FusionState,
    RerunRequest,
    RerunStarted,
    RevealedLabel,
    TurnCreated,
    TurnProviderState,
    TurnSettingsOut,
    TurnState,
    Vote,
    dump,
)
from gateway.api.stream import event_stream, replay
from gateway.runtime import runtime
from gateway.turns import ProviderSnapshot, Rerun, Turn, TurnSnapshot, retry_bytes
from gateway.turns.turn import FusionSnapshot
from storage import Q

MAX_EVENT_ID_DIGITS = 18  # any id we send fits; more is garbage
TURN_ID = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16); nothing else is a turn


async def create_turn(request: Request) -> Response:
    return turn_created(request, await start_turn(request, wait_for_listener=True))


def turn_created(request: Request, turn: Turn) -> Response:
    """201 and where to stream it: a turn started by POST /turns or an edit."""
    events_url = events_path(turn.id)
    if turn.owner > 0:
        # An EventSource cannot send Authorization: the URL carries a token for this turn.
        token = runtime(request).access.signer.turn_token(turn.id, turn.owner)
        events_url += f"?token={token}"
    created = TurnCreated(
        turn_id=turn.id,
        conversation_id=turn.conversation_id,
        user_message_id=turn.user_message_id,
        events_url=events_url,
    )
    return JSONResponse(dump(created), status_code=201)


async def turn_events(request: Request) -> Response:
    gateway = runtime(request)
    turn_id = turn_id_of(request)
    after = last_event_id(request)
    first = retry_bytes(gateway.settings.retry_ms)
    owner = owner_of(request)
    turn = gateway.turns.live(turn_id, owner)
    bus = gateway.turns.bus
    if turn is not None:
        if not (turn.ended and after >= turn.log.last_id):
            return event_stream(gateway.settings, turn.log.stream(after, first))
        if bus is None:
            return Response(status_code=204)  # nothing more will come: EventSource stops here
        # Ended here; but another worker may have reopened it since (a retry): ask the record.
    stored = await gateway.turns.stored(turn_id, owner)
    if turn is not None and not stored.running and after >= (stored.row["end_event_id"] or 0):
        return Response(status_code=204)
    if bus is not None:
        # Run by another worker (or finished there lately): its exact events, deltas and
        # all, through this worker's mirror of its Redis Stream.

        async def goes_on(last: int) -> bool:
            # The stream ended although the record said "running": reopened by a retry since,
            # or ended meanwhile? The record, read again after the stream, says which.
            now = await gateway.turns.stored(turn_id, owner)
            return now.running or (now.row["end_event_id"] or 0) > last

        mirror = await bus.mirror(
            turn_id,
            last_id=stored.row["end_event_id"] or 0,
            running=stored.running,
            goes_on=goes_on,
        )
        if mirror is not None:
            if mirror.log.ended and after >= mirror.log.last_id:
                return Response(status_code=204)
            return event_stream(gateway.settings, mirror.log.stream(after, first), "mirror")
    events, ended = stored.events_after(after)
    if ended and not events:
        return Response(status_code=204)
    return event_stream(gateway.settings, replay([first, *events]), "database")


async def retry_turn(request: Request) -> Response:
    return await rerun(request, add=False)


async def add_to_turn(request: Request) -> Response:
    return await rerun(request, add=True)


async def rerun(request: Request, *, add: bool) -> Response:
    """Retry providers of a turn, or add new ones: 202, and where to follow their events."""
    gateway = runtime(request)
    turn_id = turn_id_of(request)
    body = await read_json(request, RerunRequest, gateway.settings.max_body_bytes)
    owner = owner_of(request)
    started = await gateway.turns.rerun(turn_id, body.providers, add=add, owner=owner)
    return started_response(request, started, owner)


def started_response(request: Request, started: Rerun, owner: int) -> Response:
    """202, and where to follow the run: the turn's stream from just before its first event."""
    gateway = runtime(request)
    turn_id = started.turn_id
    events_url = f"{events_path(turn_id)}?last_event_id={started.after}"
    if owner > 0:
        token = gateway.access.signer.turn_token(turn_id, owner)
        events_url += f"&token={token}"
    accepted = RerunStarted(
        turn_id=turn_id,
        conversation_id=started.conversation_id,
        providers=started.providers,
        last_event_id=started.after,
        events_url=events_url,
    )
    return JSONResponse(dump(accepted), status_code=202)


async def cancel_turn(request: Request) -> Response:
    gateway = runtime(request)
    turn_id = turn_id_of(request)
    body = (
        await read_json(request, CancelRequest, gateway.settings.max_body_bytes, optional=True)
        or CancelRequest()
    )  # an empty body cancels every provider
    owner = owner_of(request)
    turn = gateway.turns.live(turn_id, owner)
    if turn is None:
        # Finished (or run by another process): nothing to stop here, but the same answer to
        # a provider the turn never had as while it ran.
        stored = await gateway.turns.stored(turn_id, owner)
        snapshot = stored.snapshot()
        providers = named_providers(body.providers, snapshot)
        if stored.running:
            await gateway.turns.bridge.cancel_elsewhere(turn_id, providers)  # to its owner
        return JSONResponse(dump(await turn_view(gateway.pool, snapshot, owner)))
    gateway.turns.cancel(turn_id, named_providers(body.providers, turn.snapshot()))
    return JSONResponse(dump(await turn_view(gateway.pool, turn.snapshot(), owner)))


async def get_turn(request: Request) -> Response:
    gateway = runtime(request)
    turn_id = turn_id_of(request)
    owner = owner_of(request)
    turn = gateway.turns.live(turn_id, owner)
    snapshot = turn.snapshot() if turn else (await gateway.turns.stored(turn_id, owner)).snapshot()
    return JSONResponse(dump(await turn_view(gateway.pool, snapshot, owner)))


def turn_id_of(request: Request) -> str:
    turn_id = request.path_params["turn_id"]
    if not TURN_ID.fullmatch(turn_id):
        raise not_found("turn")  # without asking the database about text it cannot hold
    return turn_id


def check_providers(named: list[str] | None, in_turn: Collection[str]) -> None:
    unknown = [p for p in named or () if p not in in_turn]
    if unknown:
        raise HttpError(422, f"providers: {', '.join(unknown)} not in this turn")


def named_providers(named: list[str] | None, snapshot: TurnSnapshot) -> list[str] | None:
    """The providers a cancel names: a blind turn's client knows labels only."""
    if not snapshot.blind:
        check_providers(named, [p.provider for p in snapshot.providers])
        return named
    by_label = {p.label: p.provider for p in snapshot.providers if p.label is not None}
    check_providers(named, by_label)
    return None if named is None else [by_label[label] for label in named]


def last_event_id(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id") or "0"
    raw = raw.strip()
    # ASCII digits only: str.isdigit() also takes "²" and other digits that int() refuses (a
    # 500), and a bounded length keeps int() away from its 4300-digit limit.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_EVENT_ID_DIGITS):
        raise HttpError(422, "Last-Event-ID must be a non-negative integer")
    return int(raw)


async def turn_view(pool, snapshot: TurnSnapshot, owner: int) -> TurnState:
    """The turn's state as its owner may see it: a blind turn's, with its vote if it has one."""
    vote = None
    if snapshot.blind:
        vote = await Q.turn_vote.fetchrow(pool, turn_id=snapshot.turn_id, voter=owner)
    state = turn_state(snapshot, vote)
    await add_runs(pool, state)  # every run of each answer, and the one its history uses
    return state


def turn_state(snapshot: TurnSnapshot, vote=None) -> TurnState:
    """Before its vote, a blind turn's state names labels only, in label order."""
    hidden = snapshot.blind and vote is None
    providers = snapshot.providers
    if snapshot.blind:
        providers = sorted(providers, key=lambda p: p.label or "")
    return TurnState(
        turn_id=snapshot.turn_id,
        conversation_id=snapshot.conversation_id,
        user_message_id=snapshot.user_message_id,
        status=snapshot.status,
        cost_usd=snapshot.cost_usd,
        providers=[
            TurnProviderState(
                provider=None if hidden else p.provider,
                model=None if hidden else p.model,
                simulated=None if hidden else p.simulated,
                status=p.status,
                message_id=p.message_id,
                label=p.label,
            )
            for p in providers
        ],
        blind=snapshot.blind,
        vote=vote_out(snapshot.turn_id, providers, vote) if vote is not None else None,
        settings=TurnSettingsOut(**snapshot.settings.shown()),
        fusion=fusion_state(snapshot.fusion),
    )


def fusion_state(fusion: FusionSnapshot | None) -> FusionState | None:
    if fusion is None:
        return None
    return FusionState(
        judge=fusion.judge,
        model=fusion.model,
        status=fusion.status,
        message_id=fusion.message_id,
        fused_from=list(fusion.fused_from),
        content=fusion.content,
    )


def vote_out(turn_id: str, providers: list[ProviderSnapshot], vote) -> Vote:
    """A stored vote, and who each label was."""
    return Vote(
        turn_id=turn_id,
        verdict=vote["verdict"],
        winner=vote["winner"],
        ranking=vote["ranking"],
        created_at=vote["created_at"],
        revealed=[
            RevealedLabel(label=p.label, provider=p.provider, model=p.model, simulated=p.simulated)
            for p in sorted(providers, key=lambda p: p.label or "")
            if p.label is not None
        ],
    )
