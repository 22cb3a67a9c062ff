"""Chat and turns: the streaming endpoints of the contract (§3) and the original POST /chat/."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.body import read_json
from gateway.engine import Engine
from gateway.errors import ApiError, not_found
from gateway.models import (
    CancelRequest,
    ChatRequest,
    ChatResponse,
    ChatResponseItem,
    ErrorInfo,
    TurnCreated,
    TurnProviderState,
    TurnState,
    UsageInfo,
    dump,
)
from gateway.runtime import Runtime, runtime
from gateway.sse import retry_bytes
from gateway.turns import Turn
from storage.sql import Q

MAX_EVENT_ID_DIGITS = 18  # any id we send fits; more is garbage
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def engine_of(gateway: Runtime) -> Engine:
    assert gateway.engine is not None
    return gateway.engine


async def chat_stream(request: Request) -> Response:
    gateway = runtime(request)
    body = await read_json(request, ChatRequest, gateway.settings.max_body_bytes)
    turn = await engine_of(gateway).create_turn(body, wait_for_listener=False)
    return event_stream(gateway, turn.stream(0, retry_bytes(gateway.settings.retry_ms)))


async def create_turn(request: Request) -> Response:
    gateway = runtime(request)
    body = await read_json(request, ChatRequest, gateway.settings.max_body_bytes)
    turn = await engine_of(gateway).create_turn(body, wait_for_listener=True)
    created = TurnCreated(
        turn_id=turn.id,
        conversation_id=turn.conversation_id,
        user_message_id=turn.user_message_id,
        events_url=f"/api/v1/turns/{turn.id}/events",
    )
    return JSONResponse(dump(created), status_code=201)


async def turn_events(request: Request) -> Response:
    gateway = runtime(request)
    engine = engine_of(gateway)
    turn_id = request.path_params["turn_id"]
    after = last_event_id(request)
    first = retry_bytes(gateway.settings.retry_ms)
    turn = engine.turns.get(turn_id)
    if turn is not None:
        if turn.ended and after >= turn.last_id:
            return Response(status_code=204)  # nothing more will come: EventSource stops here
        return event_stream(gateway, turn.stream(after, first))
    stored = await engine.stored_events(turn_id, after)
    if stored is None:
        raise not_found("turn")
    events, ended = stored
    if ended and not events:
        return Response(status_code=204)
    return event_stream(gateway, replay([first, *events]))


async def cancel_turn(request: Request) -> Response:
    gateway = runtime(request)
    engine = engine_of(gateway)
    turn_id = request.path_params["turn_id"]
    body = CancelRequest()
    if await request.body():
        body = await read_json(request, CancelRequest, gateway.settings.max_body_bytes)
    turn = engine.turns.get(turn_id)
    if turn is None:
        # Finished (or run by another process): nothing to stop here, but the same answer to
        # a provider the turn never had as while it ran.
        state = await stored_state(gateway, turn_id)
        check_providers(body.providers, [p.provider for p in state.providers])
        return JSONResponse(dump(state))
    check_providers(body.providers, turn.legs)
    engine.cancel(turn_id, body.providers)
    return JSONResponse(dump(live_state(turn, engine)))


def check_providers(named: list[str] | None, in_turn: Collection[str]) -> None:
    unknown = [p for p in named or () if p not in in_turn]
    if unknown:
        raise ApiError(422, f"providers: {', '.join(unknown)} not in this turn")


async def get_turn(request: Request) -> Response:
    gateway = runtime(request)
    turn_id = request.path_params["turn_id"]
    turn = engine_of(gateway).turns.get(turn_id)
    if turn is not None:
        return JSONResponse(dump(live_state(turn, engine_of(gateway))))
    return JSONResponse(dump(await stored_state(gateway, turn_id)))


async def chat(request: Request) -> Response:
    """The original backend's blocking call: every answer at once, one entry per provider."""
    gateway = runtime(request)
    engine = engine_of(gateway)
    body = await read_json(request, ChatRequest, gateway.settings.max_body_bytes)
    turn = await engine.create_turn(body, wait_for_listener=False)
    await engine.wait(turn)
    responses = [chat_item(leg.done) for leg in turn.legs.values() if leg.done is not None]
    return JSONResponse(
        dump(
            ChatResponse(
                conversation_id=turn.conversation_id,
                user_message_id=turn.user_message_id,
                turn_id=turn.id,
                responses=responses,
            )
        )
    )


# -- helpers -------------------------------------------------------------------------------------


def event_stream(gateway: Runtime, content: AsyncIterator[bytes]) -> EventSourceResponse:
    settings = gateway.settings
    return EventSourceResponse(
        content,
        headers=STREAM_HEADERS,
        ping=settings.ping_interval,
        ping_message_factory=lambda: ServerSentEvent(comment="ping", sep="\n"),
        send_timeout=settings.send_timeout,
        sep="\n",
    )


async def replay(chunks: list[bytes]) -> AsyncIterator[bytes]:
    yield b"".join(chunks)


def last_event_id(request: Request) -> int:
    raw = request.headers.get("last-event-id") or request.query_params.get("last_event_id") or "0"
    raw = raw.strip()
    # ASCII digits only: str.isdigit() also takes "²" and other digits that int() refuses (a
    # 500), and a bounded length keeps int() away from its 4300-digit limit.
    if not (raw.isascii() and raw.isdigit() and len(raw) <= MAX_EVENT_ID_DIGITS):
        raise ApiError(422, "Last-Event-ID must be a non-negative integer")
    return int(raw)


def live_state(turn: Turn, engine: Engine) -> TurnState:
    return TurnState(
        turn_id=turn.id,
        conversation_id=turn.conversation_id,
        user_message_id=turn.user_message_id,
        status="finished" if turn.ended else "running",
        providers=[
            TurnProviderState(
                provider=leg.provider,
                model=leg.model,
                simulated=leg.simulated,
                status=leg.status,
                message_id=leg.message_id,
            )
            for leg in turn.legs.values()
        ],
    )


async def stored_state(gateway: Runtime, turn_id: str) -> TurnState:
    row = await Q.get_turn.fetchrow(gateway.pool, id=turn_id)
    if row is None:
        raise not_found("turn")
    answers = {a["provider"]: a for a in await Q.turn_answers.fetch(gateway.pool, turn_id=turn_id)}
    return TurnState(
        turn_id=row["id"],
        conversation_id=row["conversation_id"],
        user_message_id=row["user_message_id"],
        status=row["status"],
        providers=[
            TurnProviderState(
                provider=entry["provider"],
                model=entry["model"],
                simulated=entry["simulated"],
                status=answers[entry["provider"]]["status"]
                if entry["provider"] in answers
                else "pending",
                message_id=answers[entry["provider"]]["id"]
                if entry["provider"] in answers
                else None,
            )
            for entry in row["providers"]
        ],
    )


def chat_item(done: dict) -> ChatResponseItem:
    error = done["error"]
    return ChatResponseItem(
        provider=done["provider"],
        model=done["model"],
        status=done["status"],
        content=done["content"],
        error=error["message"] if error else None,
        error_detail=ErrorInfo(**error) if error else None,
        message_id=done["message_id"],
        finish_reason=done["finish_reason"],
        latency_ms=done["latency_ms"],
        ttft_ms=done["ttft_ms"],
        usage=UsageInfo(**done["usage"]) if done["usage"] else None,
    )
