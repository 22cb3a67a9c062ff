"""The event-stream response: the gateway's own small ASGI response, on public APIs only.

Events arrive already encoded (``gateway.turns.events``), so a body chunk goes to ``send`` as it
is, through every middleware like any other response's body. What the response adds to the
bytes, and how it ends:

* **headers**: ``text/event-stream; charset=utf-8``, ``Cache-Control: no-cache``,
  ``X-Accel-Buffering: no`` (proxies must not buffer), ``Connection: keep-alive``, and
  ``X-Multichat-Source`` (see ``event_stream``);
* **pings**: a ``: ping`` comment every ``PING_INTERVAL`` seconds, so that proxies and
  browsers keep an idle stream open;
* **disconnects**: one watcher task per stream waits for the client's ``http.disconnect``
  (and sends the pings); it cancels the stream, whose iterator then runs its cleanup;
* **send timeout**: a client that stops reading makes a send wait; one that has waited
  ``SEND_TIMEOUT`` seconds is dropped with ``SendTimeout`` (counted as a ``send_timeout`` drop).
  The check is a lazy watchdog (``SendWatchdog``): one timer per period per stream, where a
  timeout around each send would start and cancel a timer per token;
* **HEAD**: the headers and an empty body; the stream never starts.

Why not sse-starlette's ``EventSourceResponse``: its public API does all of this, at a cost per
token and per stream that the gateway does not pay (each chunk through ``ensure_bytes`` and a
debug log call, an anyio cancel scope and timer around each send, four tasks and a task group
per stream, ~11 KB). Measured in docs/benchmarks.md.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from gateway.drops import SendTimeout
from gateway.settings import Settings

STREAM_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",
}
PING = b": ping\n\n"
CLEANUP_TIMEOUT = 30.0  # seconds for a stream's iterator to clean up after a failed send


def event_stream(
    settings: Settings, content: AsyncIterator[bytes], source: str = "memory"
) -> EventStream:
    """``X-Multichat-Source`` tells operators where the events came from: this worker's
    memory, its mirror of another worker's turn (Redis), or the database's replay."""
    return EventStream(
        content,
        headers={**STREAM_HEADERS, "X-Multichat-Source": source},
        ping_interval=settings.ping_interval,
        send_timeout=settings.send_timeout,
    )


async def replay(chunks: list[bytes]) -> AsyncIterator[bytes]:
    yield b"".join(chunks)


class EventStream(Response):
    """A ``text/event-stream`` response of encoded SSE chunks (see the module docstring)."""

    media_type = "text/event-stream"

    def __init__(
        self,
        content: AsyncIterator[bytes],
        *,
        headers: dict[str, str],
        ping_interval: float | None,
        send_timeout: float | None,
        status_code: int = 200,
    ) -> None:
        self.body_iterator = content
        self.status_code = status_code
        self.background = None
        self.init_headers({**headers, "Connection": "keep-alive"})
        self.ping_interval = ping_interval or None  # 0: no pings
        self.send_timeout = send_timeout
        self._sending = False  # a body send is in progress (the watcher does not ping then)
        self._ended = False  # the last chunk is sent: nothing left for a disconnect to stop
        self._stopped = False  # the watcher cancelled the stream (a disconnect, a failed ping)
        self._watch_error: BaseException | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})  # fmt: skip
        if scope["method"] == "HEAD":
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        task = asyncio.current_task()
        assert task is not None
        watcher = asyncio.get_running_loop().create_task(self._watch(receive, send, task))
        try:
            await self._stream(send)
        except asyncio.CancelledError:
            # Our own cancel (the client left, or a ping could not be sent) ends the response
            # quietly; any other (the server's) goes on.
            if not self._stopped or task.uncancel() > 0:
                raise
        finally:
            watcher.cancel()
        if self._watch_error is not None:
            raise self._watch_error

    async def _stream(self, send: Send) -> None:
        """Every chunk of the iterator, then the end of the body."""
        watchdog = SendWatchdog(self.send_timeout)
        try:
            async with asyncio.timeout(None) as deadline:
                watchdog.arm(deadline)
                clock = asyncio.get_running_loop().time
                async for chunk in self.body_iterator:
                    watchdog.since = clock()
                    self._sending = True
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    self._sending = False
                    watchdog.since = 0.0
        except TimeoutError:
            if not watchdog.fired:
                raise
            await self._close_iterator()
            raise SendTimeout() from None
        except BaseException:
            await self._close_iterator()
            raise
        finally:
            watchdog.disarm()
        self._ended = True
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _watch(self, receive: Receive, send: Send, stream: asyncio.Task) -> None:
        """Until the client disconnects (then the stream is cancelled), pinging when due."""
        loop = asyncio.get_running_loop()
        interval = self.ping_interval
        due = loop.time() + interval if interval else None
        try:
            while True:
                try:
                    async with asyncio.timeout_at(due):
                        message = await receive()
                except TimeoutError:
                    assert interval is not None  # no deadline, no timeout, without pings
                    await self._ping(send)
                    due = loop.time() + interval
                    continue
                if message["type"] == "http.disconnect":
                    break
        except asyncio.CancelledError:
            return  # the stream ended first
        except BaseException as error:  # a ping that could not be sent in time
            self._watch_error = error
        if not self._ended:
            self._stopped = True
            stream.cancel()

    async def _ping(self, send: Send) -> None:
        """A ping, unless a body send is in progress: that one already waits for the client,
        and bytes must not be added in the middle of an event."""
        if self._sending or self._ended:
            return
        try:
            async with asyncio.timeout(self.send_timeout):
                await send({"type": "http.response.body", "body": PING, "more_body": True})
        except TimeoutError:
            raise SendTimeout() from None

    async def _close_iterator(self) -> None:
        """The iterator's cleanup (unsubscribing) runs before the error escapes, bounded."""
        aclose: Any = getattr(self.body_iterator, "aclose", None)
        if aclose is not None:
            try:
                async with asyncio.timeout(CLEANUP_TIMEOUT):
                    await aclose()
            except TimeoutError:
                pass


class SendWatchdog:
    """Drops a client whose send has waited ``timeout`` seconds, at O(1) per send: a send only
    stores when it began; one timer per period checks whether a send is that old."""

    __slots__ = ("timeout", "since", "fired", "_deadline", "_handle", "_loop")

    def __init__(self, timeout: float | None) -> None:
        self.timeout = timeout
        self.since = 0.0  # when the send in progress began; 0: none is
        self.fired = False
        self._deadline: asyncio.Timeout | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()

    def arm(self, deadline: asyncio.Timeout) -> None:
        if self.timeout is None:
            return
        self._deadline = deadline
        self._handle = self._loop.call_later(self.timeout, self._check)

    def _check(self) -> None:
        assert self.timeout is not None and self._deadline is not None
        now = self._loop.time()
        if self.since and now - self.since >= self.timeout:
            self.fired = True
            self._handle = None
            self._deadline.reschedule(now)
            return
        due = (self.since + self.timeout) if self.since else now + self.timeout
        self._handle = self._loop.call_at(due, self._check)

    def disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
