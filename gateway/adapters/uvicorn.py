"""uvicorn, bounded where its options stop: the size and the time of a request's head and
the time of its body.

uvicorn (0.54) has no option for any of the three with its httptools protocol:
``timeout_keep_alive`` only runs between a response and the next request,
``limit_concurrency`` counts connections, and ``h11_max_incomplete_event_size`` belongs to the
h11 protocol (which answers an oversized head with a 400, not a 431). Without them, anyone
can hold a connection forever with half a header or a body that never comes, and 100
connections sending 10 MB headers take a gigabyte before any key is checked.

``BoundedHttpProtocol`` is what ``Config(http=...)`` accepts, an ``asyncio.Protocol`` class,
and WRAPS uvicorn's own ``HttpToolsProtocol`` rather than extending it: it sees each chunk of
request bytes before uvicorn does, tracks where heads and bodies begin and end with a parser
of its own (httptools' public API, no per-header callbacks, so it holds no bytes), and
forwards everything else untouched. Response bytes never pass through it: nothing per token.

The internals it relies on (pinned in pyproject.toml, tested in test_pinned_internals.py):
``uvicorn.protocols.http.httptools_impl.HttpToolsProtocol`` and the keyword arguments
uvicorn's server builds a protocol with (``config``, ``server_state``, ``app_state``,
``_loop``).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import httptools
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger("multichat")

HEAD_END = b"\r\n\r\n"


@dataclass(frozen=True, slots=True)
class HttpLimits:
    head_timeout: float = 5.0  # a whole request head within this many seconds
    max_head_bytes: int = 65_536  # request line and headers together; more is a 431
    body_timeout: float = 15.0  # a whole request body within this many seconds of its head

    @classmethod
    def of(cls, settings) -> HttpLimits:
        return cls(settings.header_timeout, settings.max_head_bytes, settings.body_timeout)


def _too_large() -> bytes:
    body = (
        b'{"error":{"type":"headers_too_large","message":"the request head is larger than the'
        b' gateway takes (MAX_HEAD_BYTES)"}}'
    )
    return (
        b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body)
    )


TOO_LARGE = _too_large()


class BoundedHttpProtocol(asyncio.Protocol):
    """uvicorn's httptools protocol, with bounds on request heads and bodies.

    ``limits``: set by gateway.server before serving; a worker process (which gets this class
    by name) reads them from the environment, as its app reads its settings."""

    limits: HttpLimits | None = None

    def __init__(self, config, server_state, app_state, _loop=None) -> None:
        self.inner = HttpToolsProtocol(
            config=config, server_state=server_state, app_state=app_state, _loop=_loop
        )
        self.loop = _loop or asyncio.get_event_loop()
        limits = type(self).limits or limits_from_environment()
        self.head_timeout = limits.head_timeout
        self.max_head_bytes = limits.max_head_bytes
        self.body_timeout = limits.body_timeout
        self.tracker: httptools.HttpRequestParser | None = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.in_head = True  # the bytes coming are a request head's
        self.head_bytes = 0
        self.tail = b""  # the end of the last chunk, in case a head's end straddles two
        self.first = True  # no request finished on this connection yet
        self.awaiting_body = False
        self.timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol: forwarded, with the bounds applied on the way ----------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # asyncio names a BaseTransport; uvicorn's protocol a Transport
        self.transport = transport
        self.inner.connection_made(transport)
        self._arm(self.head_timeout)

    def data_received(self, data: bytes) -> None:
        if self.in_head and self._head_too_large(data):
            self._refuse_head()
            return
        if self.tracker is not None:
            try:
                self.tracker.feed_data(data)
            except (httptools.HttpParserError, httptools.HttpParserUpgrade):
                self.tracker = None  # uvicorn answers what it makes of it; no bounds then
                self._disarm()
        if self.awaiting_body and self.timer is None:
            self._arm(self.body_timeout)
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()  # type: ignore[func-returns-value]  # asyncio reads what uvicorn's may return, whatever its annotation says

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        self.inner.connection_lost(exc)

    # -- our tracker's callbacks (httptools calls those that exist, and only those) -----------

    def on_message_begin(self) -> None:
        if self.timer is None:
            self._arm(self.head_timeout)  # the next head on a kept-alive connection

    def on_headers_complete(self) -> None:
        self.in_head = False
        self._disarm()
        self.awaiting_body = True  # until on_message_complete, in the same chunk or later

    def on_message_complete(self) -> None:
        self.awaiting_body = False
        self._disarm()
        self.first = False
        self.in_head, self.head_bytes, self.tail = True, 0, b""

    # -- the bounds -------------------------------------------------------------------------------

    def _head_too_large(self, data: bytes) -> bool:
        window = self.tail + data
        end = window.find(HEAD_END)
        if end < 0:
            self.head_bytes += len(data)
            self.tail = window[-3:]
        else:
            self.head_bytes += end + len(HEAD_END) - len(self.tail)
        return self.head_bytes > self.max_head_bytes

    def _refuse_head(self) -> None:
        """431, on a connection where no response can be under way; else just the close."""
        self._disarm()
        self.tracker = None
        transport = self.transport
        if transport is not None and not transport.is_closing():
            if self.first:
                transport.write(TOO_LARGE)
            transport.close()

    def _arm(self, seconds: float) -> None:
        self._disarm()
        self.timer = self.loop.call_later(seconds, self._timed_out)

    def _disarm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _timed_out(self) -> None:
        self.timer = None
        if self.transport is not None and not self.transport.is_closing():
            if self.awaiting_body:
                log.info("closed a connection whose request body did not come (BODY_TIMEOUT)")
            self.transport.close()


def limits_from_environment() -> HttpLimits:
    from gateway.settings import load_settings

    BoundedHttpProtocol.limits = limits = HttpLimits.of(load_settings())
    return limits
