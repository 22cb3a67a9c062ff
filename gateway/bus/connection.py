"""The Redis client of the bus, with its timeouts set on purpose rather than left to
redis-py's defaults (which changed: none before 8, 5 s since).

A blocking read (``XREAD BLOCK``, a pub/sub wait) always asks Redis to answer well within the
socket timeout, so a quiet bus never looks like a dead connection: Redis answers "nothing
new" after a fifth of the socket timeout, and only a connection that stays silent for ``SOCKET_TIMEOUT``
is given up. A command that fails on a broken connection is tried again on a new one.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

SOCKET_TIMEOUT = 10.0  # no answer for this long: the connection is dead
CONNECT_TIMEOUT = 5.0
RETRIES = 3


def connect(url: str, socket_timeout: float = SOCKET_TIMEOUT) -> aioredis.Redis:
    """A client for the bus; another ``socket_timeout`` only for tests of quiet periods (the
    blocking reads scale with it: ``block_seconds``)."""
    return aioredis.from_url(
        url,
        socket_timeout=socket_timeout,
        socket_connect_timeout=min(CONNECT_TIMEOUT, socket_timeout),
        socket_keepalive=True,
        retry=Retry(ExponentialBackoff(cap=1.0, base=0.05), RETRIES),
        retry_on_error=[RedisConnectionError, RedisTimeoutError],
    )


def block_seconds(socket_timeout: float) -> float:
    """How long a blocking read may ask Redis to wait, on a client with this socket timeout."""
    return socket_timeout / 5
