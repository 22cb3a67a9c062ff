"""Client API keys: what they look like, how they are kept, and who holds one.

A created key is ``mck_`` and 43 random URL-safe characters (256 bits); ``MULTICHAT_KEY`` is
any string of 32 characters or more. Only a key's SHA-256 is stored: lookups stay one indexed
query, and a database leak leaks no key. A created key is shown once (``multichat keys
create``, or the API's answer).

Each process remembers the keys it has seen, with no expiry: what ends a key's use is a
revocation, which ``gateway.auth.revocations`` hears of within a second on every process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

import asyncpg

from storage import Q

PREFIX = "mck_"
SHOWN_CHARS = 10  # of a key, in listings: enough to tell keys apart, useless to an attacker
MIN_KEY_CHARS = 32  # MULTICHAT_KEY's minimum; a created key is longer
MAX_KEY_CHARS = 200
MAX_REMEMBERED = 10_000  # keys one process remembers; beyond that it starts again


@dataclass(frozen=True, slots=True)
class ClientKey:
    """Who is asking: a live key's id, its name, and whether it may manage keys."""

    id: int
    name: str
    admin: bool = False


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


def shown_prefix(key: str) -> str:
    return key[:SHOWN_CHARS]


def plausible(key: str) -> bool:
    """Could this be a key at all? Anything else is refused without a query."""
    return MIN_KEY_CHARS <= len(key) <= MAX_KEY_CHARS and key.isprintable()


class KeyStore:
    """Keys as the gateway sees them: asked of the database once, then remembered until a
    revocation (``forget``), so that a busy stream of requests costs no query."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._by_hash: dict[bytes, ClientKey] = {}
        self._by_id: dict[int, ClientKey | None] = {}  # None: revoked, which is for good
        self._admins: set[int] = set()  # live admin keys seen here (for the turn limits)

    async def authenticate(self, key: str) -> ClientKey | None:
        """The live key this is, or None."""
        if not plausible(key):
            return None
        digest = key_hash(key)
        known = self._by_hash.get(digest)
        if known is not None:
            return known
        row = await Q.client_key_by_hash.fetchrow(self.pool, key_hash=digest)
        if row is None or row["revoked_at"] is not None:
            return None
        if not hmac.compare_digest(bytes(row["key_hash"]), digest):
            return None
        found = self.seen(ClientKey(row["id"], row["name"], row["admin"]))
        self._remember(self._by_hash, digest, found)
        return found

    async def live(self, key_id: int) -> ClientKey | None:
        """A key named by id (in a turn token), if it is live."""
        if key_id in self._by_id:
            return self._by_id[key_id]
        row = await Q.live_client_key.fetchrow(self.pool, id=key_id)
        found = self.seen(ClientKey(row["id"], row["name"], row["admin"])) if row else None
        self._remember(self._by_id, key_id, found)
        return found

    def know(self, key: str, found: ClientKey) -> None:
        """A key learnt at start (MULTICHAT_KEY): its first request costs no query either."""
        self._remember(self._by_hash, key_hash(key), self.seen(found))

    def seen(self, key: ClientKey) -> ClientKey:
        """Note a live key found by any means (a session's too)."""
        if key.admin:
            self._admins.add(key.id)
        return key

    def is_admin(self, key_id: int) -> bool:
        """Whether a key this process has seen lately is an admin: admin keys are held only
        to the gateway's own limits, not to the per-key ones (KEY_TURNS_PER_MINUTE ...)."""
        return key_id in self._admins

    def forget(self, key_ids: set[int]) -> None:
        """These keys were revoked or given a new hash: ask the database again."""
        if not key_ids:
            return
        for digest in [d for d, key in self._by_hash.items() if key.id in key_ids]:
            del self._by_hash[digest]
        for key_id in key_ids:
            self._by_id.pop(key_id, None)
        self._admins -= key_ids

    @staticmethod
    def _remember(memory: dict, name: object, value: object) -> None:
        if len(memory) >= MAX_REMEMBERED:
            memory.clear()  # rare (that many keys), and only costs queries
        memory[name] = value


async def create_key(
    pool: asyncpg.Pool, name: str, *, admin: bool = False, origin: str = "created"
) -> tuple[str, asyncpg.Record]:
    """A new key (shown only now) and its row. The first key made while no live key exists
    is an admin; the first key a database ever has takes what open mode made."""
    async with pool.acquire() as connection, connection.transaction():
        await Q.lock_client_keys.execute(connection)
        return await create_key_on(connection, name, admin=admin, origin=origin)


async def create_key_on(
    connection: asyncpg.Connection, name: str, *, admin: bool, origin: str
) -> tuple[str, asyncpg.Record]:
    """``create_key`` within the caller's transaction, which holds ``lock_client_keys``."""
    key = new_key()
    first_ever = await Q.count_all_client_keys.fetchval(connection) == 0
    row = await Q.create_client_key.fetchrow(
        connection,
        name=name,
        key_hash=key_hash(key),
        prefix=shown_prefix(key),
        admin=admin,
        origin=origin,
    )
    if first_ever:
        await Q.adopt_open_data.fetchrow(connection, key_id=row["id"])
    return key, row
