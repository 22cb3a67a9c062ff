"""One HTTP/1.1 connection: an asyncio protocol whose bytes go straight into httptools.

The socket's bytes go from ``data_received`` into httptools (C, the parser uvicorn uses),
whose body callback appends to a list; a reader is woken once per socket read and gets every
body byte that read brought. ``body_reader(response)`` hands that read to the adapters as one
plain coroutine per chunk.

Per exchange: the request goes out in one write; informational (1xx) responses are skipped;
the head is awaited under the read timeout, and so is every body read, through one timer per
timeout period rather than one per read (``_check_read``). A connection is reused only once
its body was read to the end, and only if nothing arrived on it while idle (a close on its way
is seen before anything is written: ``reusable``). Nothing here ever sends a request twice.
"""

from __future__ import annotations

import asyncio
import select
import socket
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import httptools
import httpx


class Pool(Protocol):
    """Where a connection goes back when its response is read, and leaves when it closes (the
    transport's pool, ``providers.transport.pool``; named here, not imported, so that the two
    modules do not import each other)."""

    keepalive_expiry: float | None

    def release(self, connection: Connection) -> None: ...

    def forget(self, connection: Connection) -> None: ...


PAUSE_AT = 2**20  # unread body bytes at which the socket stops being read
Origin = tuple[bytes, bytes, int]  # scheme, host, port
Reader = Callable[[], Awaitable[bytes]]
# Where a response of this transport carries its Body (a public httpx extension dict).
BODY_EXTENSION = "multichat.body"
# httpcore's names for what its network streams tell (the ``network_stream`` extension).
EXTRA_INFO = {
    "client_addr": "sockname",
    "server_addr": "peername",
    "socket": "socket",
}


class Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: the asyncio protocol and the httptools parser's callbacks."""

    # Slots: one of these lives as long as each open upstream stream.
    __slots__ = (
        "pool", "origin", "loop", "transport", "parser", "idle_since", "closed", "ssl_object",
        "fd", "forward", "status", "reason", "headers", "head_done", "informational",
        "complete", "chunks", "buffered", "paused", "eof", "error", "waiter", "keep_alive",
        "until_eof", "head_request", "read_timeout", "waiting_since", "timer",
    )  # fmt: skip

    def __init__(self, pool: Pool, origin: Origin) -> None:
        self.pool = pool
        self.origin = origin
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.parser: httptools.HttpResponseParser | None = None
        self.idle_since = 0.0
        self.closed = False
        self.ssl_object: ssl.SSLObject | None = None
        self.fd = -1
        # Through an HTTP proxy to an http:// origin: the absolute-form prefix of the request
        # target (b"http://host:port") and the Proxy-Authorization header, if any.
        self.forward: tuple[bytes, bytes | None] | None = None
        self.read_timeout: float | None = None
        self.timer: asyncio.TimerHandle | None = None
        self._reset()

    def _reset(self) -> None:
        self.status = 0
        self.reason = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.informational = False  # the parser is in a 1xx response, which is skipped
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
        self.waiting_since = 0.0

    # -- asyncio.Protocol ----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.attach(transport)  # type: ignore[arg-type]  # asyncio names a BaseTransport; TCP gives a Transport

    def attach(self, transport: asyncio.Transport) -> None:
        """The transport to speak over: from connection_made, or the TLS transport a tunnel
        through a proxy started (``loop.start_tls`` does not call connection_made)."""
        self.transport = transport
        # Kept: a closed TLS transport cannot tell it any more (httpx users ask afterwards).
        self.ssl_object = transport.get_extra_info("ssl_object")
        sock = transport.get_extra_info("socket")
        if sock is not None:
            self.fd = sock.fileno()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        parser = self.parser
        if parser is None:  # bytes on an idle connection: it cannot be reused
            self.eof = True
            return
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.error = httpx.RemoteProtocolError("the server switched protocols (101) unasked")
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
        self._stop_timer()
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
        status = parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            # 100 Continue, 103 Early Hints ...: a final response follows on the same stream.
            self.informational = True
            self.reason, self.headers = b"", []
            return
        self.status = status
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
        if self.informational:
            self.informational = False
            return
        self.complete = True

    # -- one exchange --------------------------------------------------------------------------

    def send_head(self, request: httpx.Request) -> None:
        """The request head, and the body when httpx already holds it (always, for bytes):
        one write. Writes are not awaited: a request is small next to the socket buffer."""
        self._reset()
        self.parser = httptools.HttpResponseParser(self)
        self.head_request = request.method == "HEAD"
        target = request.url.raw_path
        head = []
        if self.forward is not None:
            prefix, authorization = self.forward
            target = prefix + target
            if authorization is not None:
                head.append(b"proxy-authorization: %s\r\n" % authorization)
        head.insert(0, b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), target))
        head += [b"%s: %s\r\n" % pair for pair in request.headers.raw]
        head.append(b"\r\n")
        transport = self.transport
        if transport is None or transport.is_closing():
            raise httpx.WriteError("the connection was closed")
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
        async for part in request.stream:  # type: ignore[union-attr]  # a request with a body always has a stream here
            if part:
                transport.write(b"%x\r\n%s\r\n" % (len(part), part) if chunked else part)
        if chunked:
            transport.write(b"0\r\n\r\n")

    async def receive_head(self, within: float | None) -> None:
        try:
            async with asyncio.timeout(within):
                while not self.head_done:
                    self._check_failed()
                    await self._wait()
        except TimeoutError:
            raise httpx.ReadTimeout(f"no response head within {within:g} s") from None
        if self.error is not None:
            raise self.error
        self.read_timeout = within

    def _check_failed(self) -> None:
        if self.error is not None:
            raise self.error
        if self.eof:
            raise httpx.RemoteProtocolError("the server closed the connection without a response")

    async def _wait(self) -> None:
        self.waiter = self.loop.create_future()
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
            if self.read_timeout is not None:
                self.waiting_since = self.loop.time()
                if self.timer is None:
                    self.timer = self.loop.call_at(
                        self.waiting_since + self.read_timeout, self._check_read
                    )
            self.waiter = self.loop.create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None

    def _check_read(self) -> None:
        """The read timeout, checked once per period: a reader waiting that long fails; any
        other state waits for the next read to arm it again (a chunk costs a clock read)."""
        self.timer = None
        timeout, waiter = self.read_timeout, self.waiter
        if waiter is None or waiter.done() or timeout is None or self.complete or self.closed:
            return  # not waiting, or bytes came in the same loop turn as this timer
        due = self.waiting_since + timeout
        if self.loop.time() < due:
            self.timer = self.loop.call_at(due, self._check_read)
            return
        self.error = httpx.ReadTimeout(f"no body bytes within {timeout:g} s")
        self._wake()

    def _stop_timer(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None

    def _finished(self) -> None:
        """The body ended: the connection goes back to the pool, or is closed."""
        parser, self.parser = self.parser, None
        if parser is None:
            return  # already released
        self._stop_timer()
        if self.keep_alive and not self.eof and not self.closed:
            self.pool.release(self)
        else:
            self.close()

    def reusable(self, now: float) -> bool:
        """Whether an idle connection can carry a request. Anything readable on it (a close,
        a TLS alert, stray bytes) that the loop has not handled yet rules it out too: once a
        byte of the request is written, nothing may send it again."""
        expiry = self.pool.keepalive_expiry
        if (
            self.closed
            or self.eof
            or self.transport is None
            or self.transport.is_closing()
            or (expiry is not None and now - self.idle_since > expiry)
        ):
            return False
        return self.fd < 0 or not readable(self.fd)

    def close(self) -> None:
        self.parser = None
        self._stop_timer()
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


def readable(fd: int) -> bool:
    """Whether the socket has something to read (or was closed), without reading it."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))


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
    responses it is ``Body.read`` itself (found in the response's extensions); on any other (a
    respx mock, httpx's own transport), or with ``decoded`` (Content-Encoding undone by
    httpx), it reads httpx's iterator."""
    body = response.extensions.get(BODY_EXTENSION)
    if type(body) is Body and not decoded:
        return body.read
    chunks = (response.aiter_bytes() if decoded else response.aiter_raw()).__aiter__()

    async def read() -> bytes:
        async for chunk in chunks:
            if chunk:
                return chunk
        return b""

    return read
