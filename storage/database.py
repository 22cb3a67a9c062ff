# asyncpg's pool methods name this parameter `timeout`; the overrides keep its signature.
# ruff: noqa: ASYNC109
"""The connection pool, and what counts as "the database is unavailable" (HTTP 503).

Every operation on the pool has one deadline: waiting for a free connection, connecting, the
query and handing the connection back, together. asyncpg bounds those steps one by one (the
wait for a free connection not at all), so against a frozen server they add up: a query that
times out after ``command_timeout`` then waits as long again for PostgreSQL to acknowledge the
cancel request before its connection is released. Here the caller gets ``TimeoutError`` (a 503)
when the deadline passes, and what is left (the cancel, the reset) finishes in the background,
holding its connection until then, so nothing piles up beyond the pool's size.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import asyncpg
import orjson

log = logging.getLogger("multichat.database")

UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, no such socket
    TimeoutError,  # connect or command timeout, or the operation's deadline
    asyncpg.PostgresConnectionError,  # class 08
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.InterfaceError,  # "connection is closed" mid-query
)

T = TypeVar("T")


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


class Pool:
    """An asyncpg pool (made by ``asyncpg.create_pool``) whose ``fetch``, ``fetchrow``,
    ``fetchval``, ``fetchmany``, ``execute`` and ``executemany`` each finish within ``deadline``
    seconds (or their ``timeout=``); the rest is asyncpg's pool as it is.

    ``timeout=`` here bounds the whole operation, not only the query as in asyncpg.
    """

    def __init__(self, pool: asyncpg.Pool, *, deadline: float) -> None:
        self.pool = pool
        self.deadline = deadline
        self._releasing: set[asyncio.Task] = set()

    # -- asyncpg's own --------------------------------------------------------------------------

    def acquire(self, *, timeout: float | None = None) -> Any:
        return self.pool.acquire(timeout=timeout)

    async def release(
        self, connection: asyncpg.Connection, *, timeout: float | None = None
    ) -> None:
        await self.pool.release(connection, timeout=timeout)

    async def close(self) -> None:
        await self.pool.close()

    def terminate(self) -> None:
        self.pool.terminate()

    def get_size(self) -> int:
        return self.pool.get_size()

    def get_idle_size(self) -> int:
        return self.pool.get_idle_size()

    def get_min_size(self) -> int:
        return self.pool.get_min_size()

    def get_max_size(self) -> int:
        return self.pool.get_max_size()

    # -- each operation within its deadline -----------------------------------------------------

    async def _within_deadline(
        self, call: Callable[[asyncpg.Connection], Awaitable[T]], seconds: float | None
    ) -> T:
        answered = False
        result: Any = None
        try:
            async with asyncio.timeout(self.deadline if seconds is None else seconds):
                connection = await self.acquire()
                try:
                    result = await call(connection)
                except BaseException:
                    # Releasing waits for the server to acknowledge the cancel of a query that
                    # timed out: not the caller's business.
                    self._release_in_background(connection)
                    raise
                answered = True
                # Shielded: past the deadline it goes on alone. Should it fail, asyncpg has
                # terminated the connection and the next acquire reconnects: not our caller's
                # business either, the answer is in.
                with contextlib.suppress(Exception):
                    await self.release(connection)
        except TimeoutError:
            if answered:  # the answer is in: only the reset of the connection was late
                return result
            raise
        return result

    def _release_in_background(self, connection: asyncpg.Connection) -> None:
        task = asyncio.get_running_loop().create_task(self._release_quietly(connection))
        self._releasing.add(task)
        task.add_done_callback(self._releasing.discard)

    async def _release_quietly(self, connection: asyncpg.Connection) -> None:
        try:
            await self.release(connection)
        except Exception as error:  # asyncpg has terminated it; the next acquire reconnects
            log.debug("releasing a connection failed: %r", error)

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:
        return await self._within_deadline(lambda con: con.execute(query, *args), timeout)

    async def executemany(self, command: str, args: Any, *, timeout: float | None = None) -> None:
        return await self._within_deadline(lambda con: con.executemany(command, args), timeout)

    async def fetch(
        self, query: str, *args: Any, timeout: float | None = None, record_class: Any = None
    ) -> list:
        return await self._within_deadline(
            lambda con: con.fetch(query, *args, record_class=record_class), timeout
        )

    async def fetchval(
        self, query: str, *args: Any, column: int = 0, timeout: float | None = None
    ) -> Any:
        return await self._within_deadline(
            lambda con: con.fetchval(query, *args, column=column), timeout
        )

    async def fetchrow(
        self, query: str, *args: Any, timeout: float | None = None, record_class: Any = None
    ) -> Any:
        return await self._within_deadline(
            lambda con: con.fetchrow(query, *args, record_class=record_class), timeout
        )

    async def fetchmany(
        self, query: str, args: Any, *, timeout: float | None = None, record_class: Any = None
    ) -> list:
        return await self._within_deadline(
            lambda con: con.fetchmany(query, args, record_class=record_class), timeout
        )


async def _keep_session(connection: asyncpg.Connection) -> None:
    """asyncpg resets every connection it takes back (advisory locks, cursors, LISTEN, SET:
    one more round trip per operation, and the largest single cost of storing a turn in a
    profile). Nothing here leaves session state on a pooled connection: migrations, the only
    user of advisory locks, run on a connection of their own (storage/migrate.py)."""


async def create_pool(dsn: str, *, min_size: int, max_size: int, command_timeout: float) -> Pool:
    """A pool that heals itself: a broken connection is replaced on the next acquire.

    ``command_timeout`` is the deadline of each operation, and asyncpg's own connect and
    command timeouts (which also bound its wait for a cancel to be acknowledged).
    """
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        max_queries=50_000,
        max_inactive_connection_lifetime=60.0,
        init=_init_connection,
        reset=_keep_session,
        command_timeout=command_timeout,
        timeout=command_timeout,  # connect timeout
    )
    return Pool(pool, deadline=command_timeout)


class DatabaseUnreachable(Exception):
    """Start-up could not connect to the database; ``url`` carries no password."""

    def __init__(self, url: str, reason: str, *, retried: bool = True) -> None:
        self.url = url
        self.reason = reason
        # "reach" when it never answered; "use" when it answered no (password, database name).
        self.verb = "reach" if retried else "use"
        super().__init__(f"cannot {self.verb} the database at {url}: {reason}")


def safe_url(dsn: str) -> str:
    """The DSN without its password (in the user part or as a ``password=`` parameter)."""
    try:
        parts = urlsplit(dsn)
        netloc = parts.netloc
        if "@" in netloc:
            user, _, host = netloc.rpartition("@")
            netloc = f"{user.partition(':')[0]}@{host}" if user.partition(":")[0] else host
        query = urlencode(
            [
                (key, value)
                for key, value in parse_qsl(parts.query, keep_blank_values=True)
                if key.lower() not in ("password", "sslpassword")
            ]
        )
        return urlunsplit(parts._replace(netloc=netloc, query=query))
    except ValueError:
        return "(unparsable URL)"


def _reason(error: BaseException, attempt_timeout: float) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    if isinstance(error, TimeoutError):
        return f"no answer within {attempt_timeout:g} s"
    if isinstance(error, socket.gaierror):
        return f"unknown host ({error.strerror})"
    if isinstance(error, OSError) and error.strerror:
        return error.strerror[0].lower() + error.strerror[1:]
    return str(error).splitlines()[0] if str(error) else type(error).__name__


async def wait_for_database(
    dsn: str, wait: float, *, attempt_timeout: float = 5.0, log_every: float = 5.0
) -> None:
    """Connect once, retrying with backoff for up to ``wait`` seconds while the database cannot
    be reached (not yet started, say); raise ``DatabaseUnreachable`` when it still cannot.

    A database that answers but refuses (wrong password, no such database) fails at once.
    """
    url = safe_url(dsn)
    started = time.monotonic()
    deadline = started + wait
    delay = 0.25
    last_logged = -float("inf")
    attempt = 0
    while True:
        attempt += 1
        timeout = max(0.1, min(attempt_timeout, deadline - time.monotonic()))
        try:
            connection = await asyncpg.connect(dsn, timeout=timeout)
        except Exception as error:
            if not is_unavailable(error) and not isinstance(error, asyncpg.TooManyConnectionsError):
                raise DatabaseUnreachable(url, _reason(error, timeout), retried=False) from None
            reason = _reason(error, timeout)
            left = deadline - time.monotonic()
            if left <= 0:
                raise DatabaseUnreachable(url, reason) from None
            now = time.monotonic()
            if now - last_logged >= log_every:
                last_logged = now
                log.warning(
                    "the database at %s cannot be reached yet (%s); retrying for %.0f s more",
                    url,
                    reason,
                    left,
                )
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 2.0)
            continue
        await connection.close()
        if attempt > 1:
            log.info("the database at %s answered after %.1f s", url, time.monotonic() - started)
        return
