"""The page's sign-ins: one row per session, named by a signed cookie.

Signing in makes a row; signing out ends it; revoking the key ends all of its rows. The cookie
carries the row's id, signed with the secret the gateways share: a made-up or expired cookie
is refused without a query. A live session is remembered by each process until
``gateway.auth.revocations`` hears that it ended (within a second, on every process).
"""

from __future__ import annotations

from enum import Enum

import asyncpg

from gateway.auth.keys import ClientKey, KeyStore
from gateway.auth.signing import Signer
from storage import Q

MAX_REMEMBERED = 100_000


class Ambiguous(Enum):
    """Two live sessions in one request's cookies: one was planted (another app on this host,
    which can set cookies for it). Neither is believed."""

    SESSIONS = "several sessions"


class SessionStore:
    def __init__(self, pool: asyncpg.Pool, signer: Signer, keys: KeyStore) -> None:
        self.pool = pool
        self.signer = signer
        self.keys = keys
        self._known: dict[int, ClientKey | None] = {}  # None: ended, which is for good

    async def begin(self, key: ClientKey) -> str:
        """A new session for ``key``: the cookie's value."""
        session_id = await Q.create_session.fetchval(
            self.pool, key_id=key.id, seconds=float(self.signer.session_seconds)
        )
        self._remember(session_id, key)
        return self.signer.session(session_id)

    async def authenticate(self, cookies: list[str]) -> ClientKey | Ambiguous | None:
        """The key of the one live session these cookie values name."""
        found: dict[int, ClientKey] = {}
        for session_id in self.session_ids(cookies):
            key = await self._key_of(session_id)
            if key is not None:
                found[session_id] = key
        if len(found) > 1:
            return Ambiguous.SESSIONS
        return next(iter(found.values()), None)

    async def end(self, cookies: list[str]) -> None:
        """Sign out: every session these cookies name ends, here at once, elsewhere within a
        second."""
        for session_id in self.session_ids(cookies):
            await Q.end_session.execute(self.pool, id=session_id)
            self._remember(session_id, None)

    def session_ids(self, cookies: list[str]) -> list[int]:
        ids = (self.signer.session_id(value) for value in cookies[:10])
        return list(dict.fromkeys(i for i in ids if i is not None))

    def forget(self, session_ids: set[int], key_ids: set[int]) -> None:
        """Sessions that ended, and every session of keys that were revoked or re-keyed."""
        for session_id in session_ids:
            self._known.pop(session_id, None)
        if key_ids:
            for session_id in [
                s for s, key in self._known.items() if key is not None and key.id in key_ids
            ]:
                del self._known[session_id]

    async def _key_of(self, session_id: int) -> ClientKey | None:
        if session_id in self._known:
            return self._known[session_id]
        row = await Q.live_session.fetchrow(self.pool, id=session_id)
        key = self.keys.seen(ClientKey(row["id"], row["name"], row["admin"])) if row else None
        self._remember(session_id, key)
        return key

    def _remember(self, session_id: int, key: ClientKey | None) -> None:
        if len(self._known) >= MAX_REMEMBERED:
            self._known.clear()
        self._known[session_id] = key
