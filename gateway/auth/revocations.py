"""Every process hears of revocations within a second, through PostgreSQL alone.

Each process remembers the keys and sessions it has seen (no query per request); once a
second it asks the database what was revoked, re-keyed or signed out since it last asked (one
indexed query, a few hundred bytes), forgets those, and cancels the running turns of revoked
keys that it owns: their answers are stored ``cancelled`` and their streams end. No Redis is
needed, so a single process and a cluster behave alike; the bus's own control messages would
only reach processes that share a Redis.

The window asked about overlaps the previous one by ``OVERLAP`` seconds: a revocation is
stamped when its transaction starts, and may commit a little after a check has looked.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable

import asyncpg

from gateway.auth.keys import KeyStore
from gateway.auth.sessions import SessionStore
from storage import Q

log = logging.getLogger("multichat")

CHECK_EVERY = 1.0  # seconds: a revocation takes effect everywhere within about this
OVERLAP = dt.timedelta(seconds=10)
FORGET_OLD_SESSIONS_EVERY = 3600  # checks


class RevocationWatch:
    def __init__(
        self,
        pool: asyncpg.Pool,
        keys: KeyStore,
        sessions: SessionStore,
        on_revoked: Callable[[set[int]], object],
        every: float = CHECK_EVERY,
    ) -> None:
        self.pool = pool
        self.keys = keys
        self.sessions = sessions
        self.on_revoked = on_revoked  # the turn registry's cancel_owned_by
        self.every = every
        self.since: dt.datetime | None = None
        self.checks = 0
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self.since = await Q.database_now.fetchval(self.pool) - OVERLAP
        self._task = asyncio.create_task(self._check_forever(), name="revocations")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _check_forever(self) -> None:
        while True:
            await asyncio.sleep(self.every)
            try:
                await self.check()
            except Exception as error:  # the database may be away: the next check covers it
                log.warning("could not check for revoked keys: %s", type(error).__name__)

    async def check(self) -> None:
        """Forget what was revoked since the last check, and stop the revoked keys' turns."""
        row = await Q.revocations_since.fetchrow(self.pool, since=self.since)
        self.since = row["now"] - OVERLAP
        revoked, rekeyed = set(row["revoked_keys"]), set(row["rekeyed_keys"])
        self.keys.forget(revoked | rekeyed)
        self.sessions.forget(set(row["ended_sessions"]), revoked | rekeyed)
        if revoked:
            self.revoked(revoked)
        self.checks += 1
        if self.checks % FORGET_OLD_SESSIONS_EVERY == 0:
            await Q.forget_old_sessions.execute(self.pool)

    def revoked(self, key_ids: set[int]) -> None:
        """Keys revoked here or elsewhere: forget them, and cancel their turns on this process."""
        self.keys.forget(key_ids)
        self.sessions.forget(set(), key_ids)
        cancelled = self.on_revoked(key_ids)
        if cancelled:
            log.info("cancelled %s running answer(s) of revoked key(s)", cancelled)
