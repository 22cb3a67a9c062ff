"""The event-stream response (gateway/api/stream.py): its headers byte for byte, HEAD, pings,
disconnects, the send timeout, and stream bodies passing through the app's middleware.

Most tests call the ASGI response directly with a hand-written ``receive`` and ``send``, as a
server would; each wait is on an event the fake server sets.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from gateway.api.stream import PING, STREAM_HEADERS, EventStream, event_stream
from gateway.drops import SendTimeout
from tests.support.gateways import make_settings

SCOPE = {"type": "http", "method": "GET", "path": "/api/v1/turns/t/events"}


class FakeServer:
    """``receive`` gives what ``disconnect`` puts; ``send`` records, and blocks while
    ``stalled`` (a client that stopped reading)."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.incoming: asyncio.Queue[dict] = asyncio.Queue()
        self.stalled = False
        self.sent = asyncio.Event()

    async def receive(self) -> dict:
        return await self.incoming.get()

    async def send(self, message: dict) -> None:
        if self.stalled and message["type"] == "http.response.body" and message["body"]:
            await asyncio.Future()  # never taken
        self.messages.append(message)
        self.sent.set()

    def disconnect(self) -> None:
        self.incoming.put_nowait({"type": "http.disconnect"})

    async def next_body(self) -> bytes:
        while True:
            bodies = [m for m in self.messages if m["type"] == "http.response.body"]
            if bodies:
                return self.messages.pop(self.messages.index(bodies[0]))["body"]
            self.sent.clear()
            await self.sent.wait()

    def bodies(self) -> list[bytes]:
        return [m["body"] for m in self.messages if m["type"] == "http.response.body"]


class Source:
    """An iterator of chunks fed by the test, which says whether its cleanup ran."""

    def __init__(self) -> None:
        self.chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.cleaned_up = asyncio.Event()
        self.started = False

    async def stream(self):
        self.started = True
        try:
            while (chunk := await self.chunks.get()) is not None:
                yield chunk
        finally:
            self.cleaned_up.set()


def response(source: Source, *, ping: float | None = None, send_timeout: float | None = None):
    return EventStream(
        source.stream(), headers=STREAM_HEADERS, ping_interval=ping, send_timeout=send_timeout
    )


def test_the_headers_are_those_the_contract_and_proxies_need_byte_for_byte():
    stream = event_stream(make_settings(), Source().stream(), "mirror")
    assert stream.raw_headers == [
        (b"cache-control", b"no-cache"),
        (b"x-accel-buffering", b"no"),
        (b"x-multichat-source", b"mirror"),
        (b"connection", b"keep-alive"),
        (b"content-type", b"text/event-stream; charset=utf-8"),
    ]
    assert stream.status_code == 200


async def test_chunks_go_out_as_they_are_and_the_body_ends():
    server, source = FakeServer(), Source()
    for chunk in (b"id: 1\nevent: turn\ndata: {}\n\n", b"id: 2\nevent: end\ndata: {}\n\n", None):
        source.chunks.put_nowait(chunk)
    await response(source)(SCOPE, server.receive, server.send)
    start, *bodies = server.messages
    assert start["type"] == "http.response.start" and start["status"] == 200
    assert [(m["body"], m["more_body"]) for m in bodies] == [
        (b"id: 1\nevent: turn\ndata: {}\n\n", True),
        (b"id: 2\nevent: end\ndata: {}\n\n", True),
        (b"", False),
    ]
    assert source.cleaned_up.is_set()


async def test_head_answers_the_headers_and_an_empty_body_without_starting_the_stream():
    server, source = FakeServer(), Source()
    await response(source)({**SCOPE, "method": "HEAD"}, server.receive, server.send)
    assert [m["type"] for m in server.messages] == ["http.response.start", "http.response.body"]
    assert server.bodies() == [b""] and not source.started


async def test_a_disconnect_ends_the_response_quietly_and_the_iterator_cleans_up():
    server, source = FakeServer(), Source()
    source.chunks.put_nowait(b"id: 1\n\n")
    task = asyncio.create_task(response(source)(SCOPE, server.receive, server.send))
    assert await server.next_body() == b"id: 1\n\n"
    server.disconnect()
    await task  # no error: a client leaving is routine
    assert source.cleaned_up.is_set()
    assert b"" not in server.bodies()  # nobody is left to end the body for


async def test_a_client_that_stops_reading_is_dropped_after_the_send_timeout():
    server, source = FakeServer(), Source()
    server.stalled = True
    source.chunks.put_nowait(b"id: 1\n\n")
    with pytest.raises(SendTimeout):
        await response(source, send_timeout=0.05)(SCOPE, server.receive, server.send)
    assert source.cleaned_up.is_set()


async def test_pings_go_out_while_the_stream_is_idle():
    server, source = FakeServer(), Source()
    task = asyncio.create_task(response(source, ping=0.02)(SCOPE, server.receive, server.send))
    assert await server.next_body() == PING == b": ping\n\n"
    assert await server.next_body() == PING
    source.chunks.put_nowait(None)
    await task
    assert server.bodies()[-1] == b""


async def test_a_ping_that_cannot_be_sent_in_time_drops_the_client():
    server, source = FakeServer(), Source()
    server.stalled = True  # the idle stream's first ping never leaves
    with pytest.raises(SendTimeout):
        await response(source, ping=0.02, send_timeout=0.05)(SCOPE, server.receive, server.send)
    assert source.cleaned_up.is_set()


async def test_the_servers_own_cancel_is_not_taken_for_a_disconnect():
    server, source = FakeServer(), Source()
    source.chunks.put_nowait(b"id: 1\n\n")
    task = asyncio.create_task(response(source)(SCOPE, server.receive, server.send))
    await server.next_body()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert source.cleaned_up.is_set()


def test_the_response_is_built_on_starlettes_public_response_only():
    from starlette.responses import Response

    assert EventStream.__bases__ == (Response,)


# -- through the app -------------------------------------------------------------------------------


class BodyRecorder:
    """A pure ASGI middleware that keeps every body chunk it passes on (as GZip, timing or
    tracing middleware would see them)."""

    seen: list[bytes] = []

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        async def recording(message: dict) -> None:
            if message["type"] == "http.response.body":
                BodyRecorder.seen.append(message["body"])
            await send(message)

        await self.app(scope, receive, recording)


async def test_stream_bodies_pass_through_middleware_added_to_the_app(database_url, sim):
    from gateway.app import create_app
    from tests.support.servers import ServerThread

    def app(port: int):
        built = create_app(
            make_settings(database_url=database_url, port=port, simulator_url=sim.url)
        )
        built.add_middleware(BodyRecorder)
        return built

    BodyRecorder.seen = []
    server = ServerThread.for_app(app).start()
    try:
        body = {"prompt": "hi", "models": ["claude:claude-sonnet-5+tokens=5,gap=0,ttft=0"]}
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            received = await client.post("/api/v1/chat/stream", json=body)
    finally:
        server.stop()
    assert received.status_code == 200 and b"event: end" in received.content
    assert b"".join(BodyRecorder.seen) == received.content
    assert BodyRecorder.seen[-1] == b""
