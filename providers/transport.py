"""An httpx transport that spreads requests over several connection pools.

httpcore's pool walks every connection it holds on each request and each release (to expire
idle ones and assign waiting requests), so with thousands of open streams in one pool that
bookkeeping grows with the stream count and dominated the gateway's CPU under fan-out. Round-
robin over K pools divides it by K; each pool still reuses its own keep-alive connections.
"""

from __future__ import annotations

import itertools

import httpx


class ShardedTransport(httpx.AsyncBaseTransport):
    def __init__(self, shards: int, limits: httpx.Limits) -> None:
        per_shard = httpx.Limits(
            max_connections=_ceil_div(limits.max_connections or 10_000, shards),
            max_keepalive_connections=_ceil_div(limits.max_keepalive_connections or 1_000, shards),
            keepalive_expiry=limits.keepalive_expiry,
        )
        # One SSL context for every shard: building one loads the CA bundle (~15 ms each).
        ssl_context = httpx.create_ssl_context(trust_env=False)
        self._pools = [
            httpx.AsyncHTTPTransport(verify=ssl_context, limits=per_shard, trust_env=False)
            for _ in range(shards)
        ]
        self._next = itertools.cycle(self._pools).__next__

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._next().handle_async_request(request)

    async def aclose(self) -> None:
        for pool in self._pools:
            await pool.aclose()


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)
