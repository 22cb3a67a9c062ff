"""``Http1Transport``: the httpx transport, with a pool of keep-alive connections per origin.

httpx stays the client API (adapters and tests use ``httpx.AsyncClient``), but under it
httpcore read each upstream chunk through h11 and about six layers of async generators, with
a lock and pool bookkeeping per request; here the pool is O(1) per request and each chunk is
one plain await (providers/transport/connection.py).

A connection is opened directly, or through an HTTP proxy: a CONNECT tunnel with TLS inside
for https origins (providers/transport/tunnel.py), the absolute-form request for http ones.
Failures are httpx's own exceptions, so callers cannot tell the difference; a ConnectError's
message says what failed (DNS, refused, TLS, the proxy's answer) and never a credential.
"""

from __future__ import annotations

import asyncio
import collections
import socket
import ssl
import time

import httpx

from providers.transport.connection import BODY_EXTENSION, Body, Connection, Origin
from providers.transport.proxy import Proxy
from providers.transport.tls import client_context, handshake_failure, reason
from providers.transport.tunnel import ProxyFailure, open_tunnel, refusal


class Http1Transport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio protocols, directly or through one HTTP proxy."""

    def __init__(
        self,
        limits: httpx.Limits | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        proxy: Proxy | None = None,
    ) -> None:
        limits = limits or httpx.Limits()
        self.max_connections = limits.max_connections or 1_000_000
        keep = limits.max_keepalive_connections
        self.max_idle = self.max_connections if keep is None else keep
        self.keepalive_expiry = limits.keepalive_expiry
        self.ssl_context = ssl_context or client_context()
        self.proxy = proxy
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
        # Never a second try here: once a byte of the request may have reached the server,
        # only the caller's retry policy may send it again (an answer can be billed twice).
        connection = self._reuse(origin) or await self._connect(origin, timeouts)
        try:
            connection.send_head(request)
            await connection.send_body(request)
            await connection.receive_head(within=timeouts.get("read"))
            if connection.status == 407 and connection.forward is not None:
                assert self.proxy is not None
                raise httpx.ConnectError(refusal(self.proxy, url.netloc.decode(), 407, ""))
        except BaseException:
            connection.close()
            raise
        body = Body(connection)
        response = httpx.Response(
            connection.status,
            headers=connection.headers,
            stream=body,
            extensions={
                "http_version": b"HTTP/1.1",
                "reason_phrase": connection.reason,
                "network_stream": connection,
                BODY_EXTENSION: body,
            },
        )
        connection.headers = []  # httpx made its own copy; these would live as long
        return response

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
        connection = Connection(self, origin)
        try:
            async with asyncio.timeout(timeouts.get("connect")):
                await self._open(connection)
        except BaseException as error:
            connection.close()
            failure = self._connect_error(error, origin)
            if failure is error:
                raise
            raise failure from error
        return connection

    async def _open(self, connection: Connection) -> None:
        scheme, raw_host, port = connection.origin
        host = raw_host.decode("ascii")
        secure = scheme == b"https"
        loop = asyncio.get_running_loop()
        proxy = self.proxy
        if proxy is None:
            await loop.create_connection(
                lambda: connection,
                host,
                port,
                ssl=self.ssl_context if secure else None,
                server_hostname=host if secure else None,
            )
        elif secure:
            connection.attach(await open_tunnel(proxy, host, port, self.ssl_context, connection))
        else:
            # An http:// origin through the proxy: the request itself goes to the proxy.
            await loop.create_connection(
                lambda: connection,
                proxy.host,
                proxy.port,
                ssl=self.ssl_context if proxy.scheme == "https" else None,
                server_hostname=proxy.host if proxy.scheme == "https" else None,
            )
            authority = b"[%s]" % raw_host if b":" in raw_host else raw_host  # IPv6 literal
            connection.forward = (b"http://%s:%d" % (authority, port), proxy.authorization())

    def _connect_error(self, error: BaseException, origin: Origin) -> BaseException:
        """httpx's exception for a failed connect, its message naming what failed."""
        _, raw_host, port = origin
        peer = f"{raw_host.decode('ascii')}:{port}"
        proxy = self.proxy
        via = "" if proxy is None else f" through the proxy {proxy.display}"
        if isinstance(error, TimeoutError):
            return httpx.ConnectTimeout(f"connecting to {peer}{via} timed out")
        if isinstance(error, ProxyFailure):
            return httpx.ConnectError(str(error))
        if isinstance(error, ssl.SSLError):
            return httpx.ConnectError(handshake_failure(error, peer) + via)
        if isinstance(error, OSError):
            if proxy is not None:
                return httpx.ConnectError(
                    f"could not connect to the proxy {proxy.display}: {describe_os_error(error)}"
                )
            return httpx.ConnectError(f"could not connect to {peer}: {describe_os_error(error)}")
        return error  # a cancel, or a bug: as it is

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


def describe_os_error(error: OSError) -> str:
    if isinstance(error, socket.gaierror):
        return "the name does not resolve"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    return reason(error)
