"""``POST /v1/chat/completions``, ``GET /v1/models`` and ``GET /v1/models/{model}``.

A call is a turn like any other (``TurnRegistry.create_turn``): stored as a conversation,
priced, metered and held to the key's limits. It starts a new conversation, or is added to
the one named by the ``X-Multichat-Conversation-Id`` header (or by ``user`` set to
``conversation:<id>``, for clients that can only set body fields); every response names
both in ``X-Multichat-Conversation-Id`` and ``X-Multichat-Turn-Id``.
"""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from typing import Any

from pydantic import RootModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from gateway.api.body import read_json
from gateway.api.errors import HttpError
from gateway.api.guard import owner_of
from gateway.api.openai_compat.chunks import ChunkShaper
from gateway.api.openai_compat.completion import completion_body
from gateway.api.openai_compat.errors import failure_body, failure_status
from gateway.api.openai_compat.messages import asks_reasoning, read_messages, turn_inputs
from gateway.api.openai_compat.models import find_model, listed_models, parse_model
from gateway.api.openai_compat.request import ChatCompletionRequest, not_honoured, read_request
from gateway.api.stream import event_stream
from gateway.runtime import runtime
from gateway.turns import Turn

CONVERSATION_HEADER = "X-Multichat-Conversation-Id"
TURN_HEADER = "X-Multichat-Turn-Id"
USER_CONVERSATION = re.compile(r"conversation:([0-9]{1,19})")
MAX_ID = 2**63 - 1


class JsonObject(RootModel[dict[str, Any]]):
    """Any JSON object: the body is read by ``read_request``, parameter by parameter."""


def body_limit(settings) -> int:
    """A call's body may carry one image of the largest size an upload may have, in base64,
    beyond what any other body may be (several images must fit in that)."""
    return settings.max_body_bytes + settings.max_upload_bytes * 4 // 3


async def chat_completions(request: Request) -> Response:
    gateway = runtime(request)
    raw = await read_json(request, JsonObject, body_limit(gateway.settings))
    body = read_request(raw.root)
    choice = parse_model(body.model, gateway.providers)
    if body.n != 1:
        raise not_honoured(
            "n",
            "n > 1 is not supported: ask model 'multichat' (or 'multichat:a,b') for one "
            "choice per provider",
        )
    exchange = read_messages(body)
    owner = owner_of(request)
    history, settings = await turn_inputs(
        body, exchange, gateway.pool, owner, gateway.settings.max_upload_bytes
    )
    turn = await gateway.turns.create_turn(
        exchange.prompt.text,
        conversation_id=conversation_of(request, body),
        models=choice.models,
        owner=owner,
        blind=False,  # the choices name their providers, whatever the conversation does
        history=history,
        settings=settings,
    )
    legs = [(name, leg.model) for name, leg in turn.legs.items()]
    model = body.model if choice.fan_out else f"{legs[0][0]}:{legs[0][1]}"
    completion_id, created = f"chatcmpl-{turn.id}", int(time.time())
    headers = {CONVERSATION_HEADER: str(turn.conversation_id), TURN_HEADER: turn.id}
    if not body.stream:
        await gateway.turns.wait(turn)
        dones = [leg.done for leg in turn.legs.values() if leg.done is not None]
        if not choice.fan_out and dones[0]["status"] != "complete":
            return failed(dones[0], headers)
        ids = {"conversation_id": turn.conversation_id, "turn_id": turn.id}
        shaped = completion_body(
            completion_id, created, model, dones, ids, reasoning=asks_reasoning(body)
        )
        return JSONResponse(shaped, headers=headers)
    include_usage = body.stream_options is not None and body.stream_options.include_usage
    shaper = ChunkShaper(
        completion_id,
        created,
        model,
        legs,
        fan_out=choice.fan_out,
        include_usage=include_usage,
        reasoning=asks_reasoning(body),
    )
    return await stream(request, turn, shaper, headers)


async def stream(request: Request, turn: Turn, shaper: ChunkShaper, headers: dict) -> Response:
    events = turn.log.stream(0)
    first = shaper.opening() if shaper.fan_out else b""
    if not shaper.committed:
        # One provider: no status before its first word, so that a failure can be one.
        async for data in events:
            first += shaper.feed(data)
            if shaper.committed or shaper.refused is not None or shaper.finished:
                break
        if shaper.refused is not None:
            await events.aclose()  # type: ignore[attr-defined]  # an async generator
            return failed(shaper.refused, headers)
    response = event_stream(runtime(request).settings, relay(first, events, shaper))
    response.headers.update(headers)
    return response


async def relay(first: bytes, events: AsyncIterator[bytes], shaper: ChunkShaper):
    try:
        if first:
            yield first
        async for data in events:
            if chunks := shaper.feed(data):
                yield chunks
        if not shaper.finished:
            yield shaper.cut_short()
    finally:
        await events.aclose()  # type: ignore[attr-defined]  # an async generator


def failed(done: dict, headers: dict) -> Response:
    status = failure_status(done["error"])
    return JSONResponse(failure_body(status, done["error"], done["provider"]), status, headers)


def conversation_of(request: Request, body: ChatCompletionRequest) -> int | None:
    """The conversation to add the call to: the header's, else ``user``'s; None: a new one."""
    named = request.headers.get(CONVERSATION_HEADER)
    if named is None:
        match = USER_CONVERSATION.fullmatch(body.user or "")
        named = match.group(1) if match else None
        where = "user"
    else:
        where = CONVERSATION_HEADER
    if named is None:
        return None
    if not named.isascii() or not named.isdigit() or not 1 <= int(named[:20]) <= MAX_ID:
        message = f"{where}: a conversation id is a positive integer"
        raise HttpError(422, message, details=[{"field": where, "message": message}])
    return int(named)


async def list_models(request: Request) -> Response:
    return JSONResponse({"object": "list", "data": listed_models(runtime(request).providers)})


async def get_model(request: Request) -> Response:
    model_id = request.path_params["model"]
    model = find_model(model_id, runtime(request).providers)
    if model is None:
        raise HttpError(
            404,
            f"The model '{model_id[:200]}' does not exist or you do not have access to it.",
            type="model_not_found",
        )
    return JSONResponse(model)


def openai_routes() -> list[Route]:
    return [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/models", list_models, methods=["GET"]),
        Route("/v1/models/{model:path}", get_model, methods=["GET"]),
    ]
