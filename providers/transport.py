"""An httpx transport that spreads requests over several connection pools.

httpcore's pool walks every connection it holds on each request and each release (to expire
idle ones and assign waiting requests), so with thousands of open streams in one pool that
bookkeeping grows with the stream count and dominated the gateway's CPU under fan-out. Round-
robin over K pools divides it by K; each pool still reuses its own keep-alive connections.
"""

from __future__ import annotations

import itertools
import ssl

import httpcore
import httpx

from providers.netio import AsyncioBackend


class ShardedTransport(httpx.AsyncBaseTransport):
    def __init__(
        self,
        shards: int,
        limits: httpx.Limits,
        *,
        asyncio_streams: bool = True,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        per_shard = httpx.Limits(
            max_connections=_ceil_div(limits.max_connections or 10_000, shards),
            max_keepalive_connections=_ceil_div(limits.max_keepalive_connections or 1_000, shards),
            keepalive_expiry=limits.keepalive_expiry,
        )
        # One SSL context for every shard: building one loads the CA bundle (~15 ms each).
        ssl_context = ssl_context or httpx.create_ssl_context(trust_env=False)
        self._pools = [_shard(ssl_context, per_shard, asyncio_streams) for _ in range(shards)]
        self._next = itertools.cycle(self._pools).__next__

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._next().handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


def _shard(
    ssl_context: ssl.SSLContext, limits: httpx.Limits, asyncio_streams: bool
) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(verify=ssl_context, limits=limits, trust_env=False)
    if asyncio_streams:
        # httpx has no argument for httpcore's network backend; its pool is rebuilt with ours,
        # with the same settings httpx gives it for a direct (proxy-less) transport.
        transport._pool = httpcore.AsyncConnectionPool(  # noqa: SLF001
            ssl_context=ssl_context,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=AsyncioBackend(),
        )
    return transport


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)
