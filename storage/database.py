"""The connection pool, and what counts as "the database is unavailable" (HTTP 503)."""

from __future__ import annotations

import asyncpg
import orjson

UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, no such socket
    TimeoutError,  # connect or command timeout
    asyncpg.PostgresConnectionError,  # class 08
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.InterfaceError,  # "connection is closed" mid-query
)


def is_unavailable(error: BaseException) -> bool:
    return isinstance(error, UNAVAILABLE_ERRORS)


async def _init_connection(connection: asyncpg.Connection) -> None:
    # jsonb in and out as Python objects, through orjson.
    await connection.set_type_codec(
        "jsonb",
        encoder=lambda value: orjson.dumps(value).decode(),
        decoder=orjson.loads,
        schema="pg_catalog",
    )


async def create_pool(
    dsn: str, *, min_size: int, max_size: int, command_timeout: float
) -> asyncpg.Pool:
    """A pool that heals itself: a broken connection is replaced on the next acquire."""
    return await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=command_timeout,
        timeout=command_timeout,  # connect timeout
        max_inactive_connection_lifetime=60.0,
        init=_init_connection,
    )
