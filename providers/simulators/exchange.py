"""One simulated request over raw ASGI: check it, then stream the answer or inject the fault.

Per-token work is a lookup of precomputed JSON pieces, one bytes join and one ``send``; pacing
is ``asyncio.sleep``; a watcher task turns the client's disconnect into a cancellation, so a
stream notices at once even while it sleeps, stalls or holds back its headers.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import orjson

from providers.simulators.images import preface
from providers.simulators.knobs import KnobError, Knobs
from providers.simulators.state import SimulatorState
from providers.simulators.text import answer_token_tuple, count_tokens, natural_length
from providers.simulators.thoughts import planned, thinking_token_tuple
from providers.simulators.wire import EventStream, RejectedRequest, Reply, SimulatedApi

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

# With gap=0 events are written in batches, and the loop gets a turn between batches so that one
# fast stream cannot starve the others.
BATCH = 16

# Set while a request ends with fault=drop, to silence uvicorn's complaint about it (below).
_DROPPING: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "simulator_dropping", default=False
)
_INCOMPLETE_RESPONSE = "ASGI callable returned without completing response."


class QuietDrops(logging.Filter):
    """fault=drop returns without finishing the response on purpose: that is how an ASGI app
    makes the server close the connection mid-body, so the client sees a truncated chunked body.
    uvicorn logs it as an error; hide that line for drops only (the context variable is set in
    the request's own task, which is where uvicorn logs it)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_DROPPING.get() and record.msg == _INCOMPLETE_RESPONSE)


def quiet_drops() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(existing, QuietDrops) for existing in logger.filters):
        logger.addFilter(QuietDrops())


@dataclass(frozen=True, slots=True)
class Plan:
    """An accepted request reduced to what answering it takes. The request body is not kept:
    a long conversation would otherwise sit in memory for the whole stream."""

    model: str
    knobs: Knobs
    fault: str  # knobs.fault, or "none" once fail_times is used up
    events: EventStream
    pieces: tuple[bytes, ...]  # the JSON string literal of each text event
    count: int  # tokens to stream before the ending (or the fault)
    finish: str
    thoughts: tuple[bytes, ...] = ()  # the JSON string literal of each reasoning event


async def serve_api(
    api: SimulatedApi, state: SimulatorState, scope: Scope, receive: Receive, send: Send, rest: str
) -> None:
    counters = state.counters[api.flavour]
    counters.requests += 1
    try:
        plan = await accept(api, state, scope, receive, rest)
    except RejectedRequest as refusal:
        counters.rejected += 1
        await send_reply(send, refusal.reply)
        return
    if plan is None:
        counters.aborted += 1
        return
    counters.open += 1
    outcome = "aborted"  # unless perform() returns: a cancel is the client leaving or a shutdown
    watch = DisconnectWatch(receive)
    try:
        outcome = await perform(api, plan, send)
    except asyncio.CancelledError:
        if not watch.client_gone:
            raise
        asyncio.current_task().uncancel()  # type: ignore[union-attr]  # inside a request's task: current_task() is never None
    finally:
        watch.stop()
        counters.open -= 1
        setattr(counters, outcome, getattr(counters, outcome) + 1)


async def accept(
    api: SimulatedApi, state: SimulatorState, scope: Scope, receive: Receive, rest: str
) -> Plan | None:
    """Read the request and check what the real API checks, then the knobs; raises RejectedRequest,
    returns None if the client left. The body dies with this frame, not the stream's."""
    body = await read_body(receive)
    if body is None:
        return None
    headers = dict(scope["headers"])
    query = scope.get("query_string", b"")
    refusal = api.check_key(headers, query, state.config.api_key)
    if refusal is not None:
        raise RejectedRequest(refusal)
    request = api.parse(body, headers, query, rest)
    entry = state.log(api.flavour, request.model, request.body)
    header = headers.get(b"x-simulator", b"").decode("latin-1")
    try:
        knobs = state.knobs[api.flavour].resolve(header, request.knobs)
    except KnobError as error:
        raise api.invalid(str(error)) from None
    entry.knobs = knobs
    fault = state.take_fault(api.flavour, header, request.knobs, knobs)
    reasoning = planned(request.reasoning_level, knobs.thinking, visible=request.reasoning_visible)
    request.reasoning = reasoning
    said = preface(request.images)
    length, finish = knobs.tokens, knobs.finish
    if knobs.natural:
        length = min(length, natural_length(api.flavour, request.prompt) + count_tokens(said))
    limit = request.max_tokens
    if limit is not None and api.limit_counts_reasoning:
        limit -= reasoning.tokens
    if limit is not None and limit < length:
        length, finish = max(limit, 0), "length"
    count = length if fault == "none" else knobs.fault_after(length)
    pieces = encoded_pieces(api.flavour, request.prompt, count, knobs.chunk, said)
    thoughts = encoded_thoughts(api.flavour, request.prompt, reasoning.shown, knobs.chunk)
    return Plan(
        request.model, knobs, fault, api.event_stream(request), pieces, count, finish, thoughts
    )


async def perform(api: SimulatedApi, plan: Plan, send: Send) -> str:
    """Answer an accepted request; returns the outcome counter to bump."""
    knobs = plan.knobs
    if knobs.headers_delay:
        await asyncio.sleep(knobs.headers_delay / 1000)
    if plan.fault == "status":
        reply = api.error(
            knobs.status, model=plan.model, retry_after=knobs.retry_after, quota=knobs.quota
        )
        await send_reply(send, reply)
        return "faulted"
    return await stream_answer(api, plan, send)


async def stream_answer(api: SimulatedApi, plan: Plan, send: Send) -> str:
    knobs, fault, events, count = plan.knobs, plan.fault, plan.events, plan.count

    await send({"type": "http.response.start", "status": 200, "headers": api.stream_headers()})
    opening = events.opening()
    if opening:
        await send_body(send, opening)
    if knobs.ttft:
        await asyncio.sleep(knobs.ttft / 1000)

    gap = knobs.gap / 1000
    pending: list[bytes] = []  # gap=0 only: events waiting to be written as one batch
    for index, piece in enumerate(plan.thoughts):
        event = events.thinking(piece)
        if gap:
            if index:
                await asyncio.sleep(gap)
            await send_body(send, event)
        else:
            pending.append(event)
            if len(pending) == BATCH:
                await send_body(send, b"".join(pending))
                pending.clear()
                await asyncio.sleep(0)
    if between := events.thinking_end():
        pending.append(between)
    paced = bool(plan.thoughts)  # the answer's first event waits a gap after the reasoning
    emitted = 0
    for index, piece in enumerate(plan.pieces):
        emitted = min(emitted + knobs.chunk, count)
        event = events.text(piece, emitted)
        if gap:
            if index or paced:
                await asyncio.sleep(gap)
            if pending:
                event = b"".join((*pending, event))
                pending.clear()
            await send_body(send, event)
        else:
            pending.append(event)
            if len(pending) == BATCH:
                await send_body(send, b"".join(pending))
                pending.clear()
                await asyncio.sleep(0)

    if fault in ("drop", "stall"):
        if pending:
            await send_body(send, b"".join(pending))
        if fault == "stall":
            await asyncio.get_running_loop().create_future()  # until the client leaves
        _DROPPING.set(True)
        return "faulted"
    if fault == "none":
        pending.append(events.ending(plan.finish, emitted))
    elif fault == "midstream":
        pending.append(events.error())
    else:  # malformed: the next text event, cut short of its closing braces
        broken = events.text(b'""', emitted)
        pending.append(broken[: -len(events.separator)].rstrip(b"} ") + events.separator)
    await send({"type": "http.response.body", "body": b"".join(pending), "more_body": False})
    return "completed" if fault == "none" else "faulted"


@lru_cache(maxsize=512)
def encoded_pieces(
    flavour: str, prompt: str, count: int, chunk: int, preface: str = ""
) -> tuple[bytes, ...]:
    """The JSON string literal of each event's text: ``count`` tokens, ``chunk`` per event."""
    tokens = answer_token_tuple(flavour, prompt, count, preface)
    return tuple(
        orjson.dumps("".join(tokens[start : start + chunk])) for start in range(0, count, chunk)
    )


@lru_cache(maxsize=256)
def encoded_thoughts(flavour: str, prompt: str, count: int, chunk: int) -> tuple[bytes, ...]:
    """The same for the reasoning the model streams before its answer."""
    tokens = thinking_token_tuple(flavour, prompt, count)
    return tuple(
        orjson.dumps("".join(tokens[start : start + chunk])) for start in range(0, count, chunk)
    )


class DisconnectWatch:
    """Cancels the request's task when the client disconnects.

    Started once the body is read, so ``receive()`` has nothing left to return but the
    disconnect. The request task only suspends inside serve_api's try block, and stop() runs
    before anything else can suspend it, so the cancel always lands where it is caught.
    """

    __slots__ = ("client_gone", "task")

    def __init__(self, receive: Receive) -> None:
        self.client_gone = False
        self.task = asyncio.create_task(self.watch(receive, asyncio.current_task()))

    async def watch(self, receive: Receive, target: asyncio.Task[Any] | None) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        self.client_gone = True
        if target is not None:
            target.cancel()

    def stop(self) -> None:
        self.task.cancel()


async def read_body(receive: Receive) -> bytes | None:
    """The whole request body, or None if the client left before sending it."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_body(send: Send, data: bytes) -> None:
    await send({"type": "http.response.body", "body": data, "more_body": True})


async def send_reply(send: Send, reply: Reply) -> None:
    headers = [
        (b"content-type", reply.content_type),
        (b"content-length", str(len(reply.body)).encode()),
        *reply.headers,
    ]
    await send({"type": "http.response.start", "status": reply.status, "headers": headers})
    await send({"type": "http.response.body", "body": reply.body})
