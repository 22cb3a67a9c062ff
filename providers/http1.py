"""An httpx transport that speaks HTTP/1.1 itself: an asyncio protocol with an httptools parser.

httpx stays the client API (adapters and tests use ``httpx.AsyncClient``), but under it
httpcore read each upstream chunk through h11 and about six layers of async generators, with
a lock and pool bookkeeping per request. Here the socket's bytes go straight from
``data_received`` into httptools (C, the parser uvicorn uses), whose body callback appends to
a list; a reader is woken once per socket read and gets every body byte that read brought.
``body_reader(response)`` hands that read to the adapters as one plain coroutine per chunk.

What the gateway relies on is kept: TLS (real providers are https), keep-alive connections
reused per origin, a bound on open connections, the connect timeout, and the read timeout for
the response head. Reads of the body have no per-read timer: every adapter stream runs under
its own first-token and idle watchdog (providers.base.Watchdog), which covers them at O(1) per
chunk. Failures are httpx's own exceptions, so callers cannot tell the difference.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import ssl
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httptools
import httpx

PAUSE_AT = 2**20  # unread body bytes at which the socket stops being read
Origin = tuple[bytes, bytes, int]  # scheme, host, port
Reader = Callable[[], Awaitable[bytes]]
# httpcore's names for what its network streams tell (the ``network_stream`` extension).
EXTRA_INFO = {
    "client_addr": "sockname",
    "server_addr": "peername",
    "socket": "socket",
}


class Http1Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio protocols, with a pool of keep-alive connections per origin."""

    def __init__(
        self,
        limits: httpx.Limits | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        limits = limits or httpx.Limits()
        self.max_connections = limits.max_connections or 1_000_000
        keep = limits.max_keepalive_connections
        self.max_idle = self.max_connections if keep is None else keep
        self.keepalive_expiry = limits.keepalive_expiry
        # Built once: loading the CA bundle costs about 15 ms.
        self.ssl_context = ssl_context or httpx.create_ssl_context(trust_env=False)
        self._idle: dict[Origin, collections.deque[Connection]] = {}
        self._idle_count = 0
        self.open = 0  # connections open or opening
        self._slot_waiters: collections.deque[asyncio.Future[None]] = collections.deque()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("the transport is closed")
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"unsupported URL scheme {url.scheme!r}")
        timeouts = request.extensions.get("timeout", {})
        origin = (url.raw_scheme, url.raw_host, url.port or (443 if url.scheme == "https" else 80))
        connection = self._reuse(origin)
        if connection is not None:
            try:
                await self._exchange(connection, request, timeouts)
            except ClosedWhenIdle:
                connection = None  # the server closed it as we reused it: once more, anew
        if connection is None:
            connection = await self._connect(origin, timeouts)
            await self._exchange(connection, request, timeouts)
        response = httpx.Response(
            connection.status,
            headers=connection.headers,
            stream=Body(connection),
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": connection.reason,
                "network_stream": connection,
            },
        )
        connection.headers = []  # httpx made its own copy; these would live as long
        return response

    async def _exchange(
        self, connection: Connection, request: httpx.Request, timeouts: dict[str, float | None]
    ) -> None:
        try:
            connection.send_head(request)
            await connection.send_body(request)
            await connection.receive_head(within=timeouts.get("read"))
        except BaseException:
            connection.close()
            raise

    # -- the pool ------------------------------------------------------------------------------

    def _reuse(self, origin: Origin) -> Connection | None:
        idle = self._idle.get(origin)
        now = time.monotonic()
        while idle:
            connection = idle.pop()  # the most recent: the least likely to have been closed
            self._idle_count -= 1
            if connection.reusable(now):
                return connection
            connection.close()
        return None

    async def _connect(self, origin: Origin, timeouts: dict[str, float | None]) -> Connection:
        if self.open >= self.max_connections:
            self._close_an_idle_connection()
        if self.open >= self.max_connections:
            await self._wait_for_slot(within=timeouts.get("pool"))
        self.open += 1
        scheme, host, port = origin
        loop = asyncio.get_running_loop()
        connection = Connection(self, origin)
        hostname = host.decode("ascii")
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                await loop.create_connection(
                    lambda: connection,
                    hostname,
                    port,
                    ssl=self.ssl_context if scheme == b"https" else None,
                    server_hostname=hostname if scheme == b"https" else None,
                )
        except TimeoutError as error:
            connection.close()
            raise httpx.ConnectTimeout(f"connecting to {hostname}:{port} timed out") from error
        except (OSError, ssl.SSLError) as error:
            connection.close()
            raise httpx.ConnectError(str(error)) from error
        except BaseException:
            connection.close()
            raise
        return connection

    async def _wait_for_slot(self, within: float | None) -> None:
        waiter = asyncio.get_running_loop().create_future()
        self._slot_waiters.append(waiter)
        try:
            async with asyncio.timeout(within):
                await waiter
        except TimeoutError:
            raise httpx.PoolTimeout("no connection became free in time") from None
        finally:
            if not waiter.done():
                waiter.cancel()
            if waiter in self._slot_waiters:
                self._slot_waiters.remove(waiter)

    def _close_an_idle_connection(self) -> None:
        for idle in self._idle.values():
            if idle:
                self._idle_count -= 1
                idle.popleft().close()
                return

    def release(self, connection: Connection) -> None:
        """A response read to its end on a connection that may be kept alive."""
        if self._closed or self._slot_waiters or self._idle_count >= self.max_idle:
            connection.close()
            return
        connection.idle_since = time.monotonic()
        connection.reused = True
        self._idle.setdefault(connection.origin, collections.deque()).append(connection)
        self._idle_count += 1

    def forget(self, connection: Connection) -> None:
        """A connection closed: its slot is free."""
        self.open -= 1
        while self._slot_waiters:
            waiter = self._slot_waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                break

    async def aclose(self) -> None:
        self._closed = True
        for idle in self._idle.values():
            while idle:
                idle.pop().close()
        self._idle_count = 0


class ClosedWhenIdle(httpx.RemoteProtocolError):
    """A kept-alive connection closed before any byte of the response: the server closed it
    while idle, racing our request, which is safe to send again on a new connection."""


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: the asyncio protocol and the httptools parser's callbacks."""

    # Slots: one of these lives as long as each open upstream stream.
    __slots__ = (
        "pool", "origin", "transport", "parser", "idle_since", "closed", "reused", "ssl_object",
        "status", "reason", "headers", "head_done", "complete", "chunks", "buffered", "paused",
        "eof", "error", "waiter", "keep_alive", "until_eof", "head_request", "received", "loop",
    )  # fmt: skip

    def __init__(self, pool: Http1Transport, origin: Origin) -> None:
        self.pool = pool
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.parser: httptools.HttpResponseParser | None = None
        self.idle_since = 0.0
        self.closed = False
        self.reused = False  # it served a response before this one
        self.ssl_object: ssl.SSLObject | None = None
        # Kept: asyncio.get_running_loop() makes a getpid() system call on Python 3.11, and a
        # body read takes a new future per socket read.
        self.loop: asyncio.AbstractEventLoop | None = None
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.complete = False
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.paused = False
        self.eof = False
        self.error: Exception | None = None
        self.waiter: asyncio.Future[None] | None = None
        self.keep_alive = False
        self.until_eof = False  # a body without a length: it ends when the connection does
        self.head_request = False
        self.received = False  # a byte of this response arrived

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport = transport  # type: ignore[assignment]
        # Kept: a closed TLS transport cannot tell it any more (httpx users ask afterwards).
        self.ssl_object = transport.get_extra_info("ssl_object")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        if parser is None:  # bytes on an idle connection: it cannot be reused
            self.eof = True
            return
        self.received = True
        try:
            parser.feed_data(data)
        except httptools.HttpParserError as error:
            self.error = httpx.RemoteProtocolError(f"malformed HTTP response: {error}")
        if self.buffered >= PAUSE_AT and not self.paused and self.transport is not None:
            self.paused = True
            self.transport.pause_reading()
        self._wake()

    def eof_received(self) -> bool:
        self.eof = True
        self._wake()
        return False  # close the transport

    def connection_lost(self, exc: Exception | None) -> None:
        self.eof = True
        if not self.closed:
            self.closed = True
            self.pool.forget(self)
        self._wake()

    def _wake(self) -> None:
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # -- httptools callbacks -------------------------------------------------------------------

    def on_status(self, reason: bytes) -> None:
        self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        parser = self.parser
        assert parser is not None
        self.status = parser.get_status_code()
        self.head_done = True
        self.keep_alive = parser.should_keep_alive()
        names = {name.lower() for name, _ in self.headers}
        self.until_eof = b"content-length" not in names and b"transfer-encoding" not in names
        if self.head_request:  # no body follows, whatever the headers say
            self.complete, self.keep_alive = True, False

    def on_body(self, body: bytes) -> None:
        self.chunks.append(body)
        self.buffered += len(body)

    def on_message_complete(self) -> None:
        self.complete = True

    # -- one exchange --------------------------------------------------------------------------

    def send_head(self, request: httpx.Request) -> None:
        """The request head, and the body when httpx already holds it (always, for bytes):
        one write. Writes are not awaited: a request is small next to the socket buffer."""
        self._reset()
        self.parser = httptools.HttpResponseParser(self)
        self.head_request = request.method == "HEAD"
        head = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
        head += [b"%s: %s\r\n" % pair for pair in request.headers.raw]
        head.append(b"\r\n")
        transport = self.transport
        if transport is None or transport.is_closing():
            raise (
                ClosedWhenIdle("the connection was closed")
                if self.reused
                else httpx.WriteError("the connection was closed")
            )
        try:
            body = request.content
        except httpx.RequestNotRead:
            body = b""
        transport.write(b"".join(head) + body)

    async def send_body(self, request: httpx.Request) -> None:
        """A streamed request body (one httpx had not read), chunked as its headers say."""
        try:
            request.content  # noqa: B018 - read already: sent with the head
            return
        except httpx.RequestNotRead:
            pass
        transport = self.transport
        assert transport is not None
        chunked = "transfer-encoding" in request.headers
        async for part in request.stream:  # type: ignore[union-attr]
            if part:
                transport.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
        if chunked:
            transport.write(b"0\r\n\r\n")

    async def receive_head(self, within: float | None) -> None:
        async with asyncio.timeout(within):
            while not self.head_done:
                self._check_failed()
                await self._wait()
        if self.error is not None:
            raise self.error

    def _check_failed(self) -> None:
        if self.error is not None:
            raise self.error
        if self.eof:
            if self.reused and not self.received:
                raise ClosedWhenIdle("the server closed a kept-alive connection")
            raise httpx.RemoteProtocolError("the server closed the connection without a response")

    async def _wait(self) -> None:
        self.waiter = (self.loop or asyncio.get_running_loop()).create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None

    async def read(self) -> bytes:
        """The body bytes that have arrived (waiting for some); b"" once the body ended."""
        while True:
            chunks = self.chunks
            if chunks:
                chunk = chunks[0] if len(chunks) == 1 else b"".join(chunks)
                chunks.clear()
                self.buffered = 0
                if self.paused and self.transport is not None:
                    self.paused = False
                    self.transport.resume_reading()
                return chunk
            if self.complete:
                self._finished()
                return b""
            if self.error is not None:
                raise self.error
            if self.eof:
                if self.until_eof:
                    self.keep_alive = False
                    self.complete = True
                    continue
                raise httpx.RemoteProtocolError(
                    "peer closed connection without sending complete message body"
                )
            self.waiter = (self.loop or asyncio.get_running_loop()).create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None

    def _finished(self) -> None:
        """The body ended: the connection goes back to the pool, or is closed."""
        parser, self.parser = self.parser, None
        if parser is None:
            return  # already released
        if self.keep_alive and not self.eof and not self.closed:
            self.pool.release(self)
        else:
            self.close()

    def reusable(self, now: float) -> bool:
        expiry = self.pool.keepalive_expiry
        return not (
            self.closed
            or self.eof
            or self.transport is None
            or self.transport.is_closing()
            or (expiry is not None and now - self.idle_since > expiry)
        )

    def close(self) -> None:
        self.parser = None
        if not self.closed:
            self.closed = True
            self.pool.forget(self)
        if self.transport is not None:
            self.transport.close()

    # -- what httpx's ``network_stream`` extension offers ----------------------------------------

    def get_extra_info(self, info: str) -> Any:
        if info == "is_readable":
            return self.eof
        if info == "ssl_object":
            return self.ssl_object
        transport = self.transport
        if transport is None or transport.is_closing() or info not in EXTRA_INFO:
            return None
        return transport.get_extra_info(EXTRA_INFO[info])


class Body(httpx.AsyncByteStream):
    """A response body for httpx; ``body_reader`` reads it without the iterator stack."""

    __slots__ = ("connection", "done")

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.done = False

    async def read(self) -> bytes:
        if self.done:
            return b""
        chunk = await self.connection.read()
        if not chunk:
            self.done = True
        return chunk

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while chunk := await self.read():
            yield chunk

    async def aclose(self) -> None:
        # Closed before its end (an error, a cancel, a caller that stopped reading): the rest
        # of the body may still come, so the connection cannot be reused.
        if not self.done:
            self.done = True
            self.connection.close()


def body_reader(response: httpx.Response, decoded: bool = False) -> Reader:
    """``await read()`` gives the next body bytes, b"" at the end. On this transport's
    responses it is ``Body.read`` itself; on any other (a respx mock, another transport), or
    with ``decoded`` (Content-Encoding undone by httpx), it reads httpx's iterator."""
    stream = getattr(response.stream, "_stream", None)  # httpx wraps it in a BoundAsyncStream
    if type(stream) is Body and not decoded:
        return stream.read
    chunks = (response.aiter_bytes() if decoded else response.aiter_raw()).__aiter__()

    async def read() -> bytes:
        async for chunk in chunks:
            if chunk:
                return chunk
        return b""

    return read
