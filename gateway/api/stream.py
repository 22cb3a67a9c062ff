"""The event-stream response: sse-starlette with the contract's headers, pings and timeouts.

Events arrive already encoded, so the per-event path is as short as sse-starlette allows:

* each chunk goes to the server as it is (no ``ensure_bytes``, no debug line per event);
* the send timeout is a lazy watchdog (``SendWatchdog``): one timer per ``SEND_TIMEOUT``
  period per stream checks whether a send has been waiting that long, where sse-starlette
  opens an anyio cancel scope and a timer for every send;
* the body chunks skip the middleware ``send`` wrappers: those only look at
  ``http.response.start`` (headers, status), which still goes through them, as does the last
  empty body that ends the response. ``RawSend``, outermost, keeps the server's own ``send``
  in the scope for that.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import anyio
from sse_starlette import EventSourceResponse, ServerSentEvent
from sse_starlette.event import ensure_bytes
from sse_starlette.sse import SendTimeoutError
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.settings import Settings

STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
RAW_SEND = "multichat.raw_send"  # the scope key of the server's own send


def event_stream(
    settings: Settings, content: AsyncIterator[bytes], source: str = "memory"
) -> EventSourceResponse:
    """``X-Multichat-Source`` tells operators where the events came from: this worker's
    memory, its mirror of another worker's turn (Redis), or the database's replay."""
    return EncodedEventStream(
        content,
        headers={**STREAM_HEADERS, "X-Multichat-Source": source},
        ping=settings.ping_interval,
        ping_message_factory=lambda: ServerSentEvent(comment="ping", sep="\n"),
        send_timeout=settings.send_timeout,
        sep="\n",
    )


async def replay(chunks: list[bytes]) -> AsyncIterator[bytes]:
    yield b"".join(chunks)


class RawSend:
    """Outermost ASGI middleware: keeps the server's ``send`` in the scope, for the body
    chunks of event streams (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[RAW_SEND] = send
        await self.app(scope, receive, send)


class EncodedEventStream(EventSourceResponse):
    """An ``EventSourceResponse`` whose content is encoded SSE bytes."""

    _raw_send: Send | None = None
    _streaming = False
    _stopped = False  # the watcher ended the stream (a disconnect, a failed ping)
    _watch_error: BaseException | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The stream in the request's own task, and one task that watches for the client's
        disconnect and sends the pings: sse-starlette runs four in a task group (stream,
        ping, disconnect and exit signal, the last idle here: the gateway drains its turns
        itself, see gateway/app.py), about 10 KB and four task starts per stream."""
        if scope["type"] != "http" or scope["method"] == "HEAD" or self.data_sender_callable:
            await super().__call__(scope, receive, send)
            return
        self._raw_send = scope.get(RAW_SEND)
        task = asyncio.current_task()
        assert task is not None
        self._streaming = True
        watcher = asyncio.get_running_loop().create_task(self._watch(receive, send, task))
        try:
            await self._stream_response(send)
        except asyncio.CancelledError:
            if not self._stopped:
                raise
            task.uncancel()  # our own cancel: the client left, or a ping could not be sent
        finally:
            self._streaming = False
            watcher.cancel()
        if self._watch_error is not None:
            raise self._watch_error
        if self.background is not None:
            await self.background()

    async def _watch(self, receive: Receive, send: Send, stream: asyncio.Task) -> None:
        """Until the client disconnects (then the stream is cancelled), pinging when idle."""
        loop = asyncio.get_running_loop()
        interval = self.ping_interval or None
        due = loop.time() + interval if interval else None
        try:
            while self.active:
                try:
                    async with asyncio.timeout_at(due):
                        message = await receive()
                except TimeoutError:
                    await self._ping_once(send)
                    due = loop.time() + interval  # type: ignore[operator]  # pings are on in this loop: interval is a number
                    continue
                if message["type"] == "http.disconnect":
                    self.active = False
                    if self.client_close_handler_callable is not None:
                        await self.client_close_handler_callable(message)
                    break
        except asyncio.CancelledError:
            return  # the stream ended first
        except BaseException as error:  # a ping that could not be sent in time
            self._watch_error = error
        if self._streaming:
            self._stopped = True
            stream.cancel()

    async def _ping_once(self, send: Send) -> None:
        """One ping, as sse-starlette sends it (its own loop is not used: see ``_watch``)."""
        message = (
            self.ping_message_factory()
            if self.ping_message_factory
            else ServerSentEvent(comment="ping", sep=self.sep)
        )
        async with self._send_lock:
            if self.active:
                await self._send_with_timeout(
                    send,
                    {"type": "http.response.body", "body": ensure_bytes(message, self.sep),
                     "more_body": True},
                )  # fmt: skip

    async def _stream_response(self, send: Send) -> None:
        await send({"type": "http.response.start", "status": self.status_code,
                    "headers": self.raw_headers})  # fmt: skip
        raw = self._raw_send or send
        watchdog = SendWatchdog(self.send_timeout)
        try:
            async with asyncio.timeout(None) as deadline:
                watchdog.arm(deadline)
                clock = asyncio.get_running_loop().time
                async for chunk in self.body_iterator:
                    watchdog.since = clock()
                    await raw({"type": "http.response.body", "body": chunk, "more_body": True})
                    watchdog.since = 0.0
        except TimeoutError:
            if not watchdog.fired:
                raise
            await self._close_iterator()
            raise SendTimeoutError() from None
        except BaseException:
            await self._close_iterator()
            raise
        finally:
            watchdog.disarm()
        async with self._send_lock:
            self.active = False
            await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _close_iterator(self) -> None:
        # As sse-starlette does: the iterator's cleanup (unsubscribing) runs before the error
        # escapes, bounded by its cleanup timeout.
        aclose = getattr(self.body_iterator, "aclose", None)
        if aclose is not None:
            with anyio.move_on_after(self._cleanup_timeout, shield=True):
                await aclose()


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
