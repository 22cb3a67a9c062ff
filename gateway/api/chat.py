"""The original backend's blocking ``POST /chat/``, and ``POST /chat/stream`` (spec §2, §3)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.api.body import read_json
from gateway.api.guard import owner_of
from gateway.api.schemas import (
    ChatRequest,
    ChatResponse,
    ChatResponseItem,
    ErrorInfo,
    UsageInfo,
    dump,
)
from gateway.api.stream import event_stream
from gateway.runtime import runtime
from gateway.turns import Turn, retry_bytes
from gateway.turns.fuse.state import providers_only
from gateway.turns.registry import TurnRegistry


async def start_turn(request: Request, *, wait_for_listener: bool) -> Turn:
    """Read a chat body and start its turn: shared by every endpoint that starts one."""
    gateway = runtime(request)
    body = await read_json(request, ChatRequest, gateway.settings.max_body_bytes)
    return await gateway.turns.create_turn(
        body.prompt,
        conversation_id=body.conversation_id,
        models=body.models,
        wait_for_listener=wait_for_listener,
        owner=owner_of(request),
        blind=body.blind,
        settings=body.turn_settings(),
    )


async def chat_stream(request: Request) -> Response:
    settings = runtime(request).settings
    turn = await start_turn(request, wait_for_listener=False)
    return event_stream(settings, turn.log.stream(0, retry_bytes(settings.retry_ms)))


async def chat(request: Request) -> Response:
    """The original backend's blocking call: every answer at once, one entry per provider."""
    turns: TurnRegistry = runtime(request).turns
    turn = await start_turn(request, wait_for_listener=False)
    await turns.wait(turn)
    # A fusion asked meanwhile is a leg of the turn too, but no answer of a provider it asked.
    asked = providers_only(turn.legs).values()
    responses = [chat_item(leg.done) for leg in asked if leg.done is not None]
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


def chat_item(done: dict) -> ChatResponseItem:
    error = done["error"]
    return ChatResponseItem(
        provider=done.get("provider"),  # a blind done names its label instead
        model=done.get("model"),
        label=done.get("label"),
        status=done["status"],
        content=done["content"],
        thinking=done.get("thinking"),
        error=error["message"] if error else None,
        error_detail=ErrorInfo(**error) if error else None,
        message_id=done["message_id"],
        finish_reason=done["finish_reason"],
        latency_ms=done["latency_ms"],
        ttft_ms=done["ttft_ms"],
        usage=UsageInfo(**done["usage"]) if done["usage"] else None,
        cost_usd=done.get("cost_usd"),  # a blind done withholds it
        settings_ignored=done.get("settings_ignored"),
    )
