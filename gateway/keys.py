"""Client API keys: what they look like, how they are kept, and who holds one.

A key is ``mck_`` and 43 random URL-safe characters (256 bits). Only its SHA-256 is stored:
with that much entropy a plain hash cannot be reversed, and lookups stay one indexed query.
The key is shown once, when it is created (``multichat keys create``).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import secrets
import time
from dataclasses import dataclass

import asyncpg

from gateway.signing import Signer
from storage import Pool, Q

log = logging.getLogger("multichat")

PREFIX = "mck_"
SHOWN_CHARS = 10  # of a key, in listings: enough to tell keys apart, useless to an attacker
CACHE_SECONDS = 5.0  # a revoked key stops working within this


@dataclass(frozen=True, slots=True)
class Access:
    """What the guard needs to tell who is asking."""

    keys: KeyStore
    signer: Signer


@dataclass(frozen=True, slots=True)
class ClientKey:
    id: int
    name: str


def new_key() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def key_hash(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class KeyStore:
    """Keys as the gateway sees them, with a few seconds of memory so that a busy stream of
    requests does not cost a query each."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self._by_hash: dict[bytes, tuple[float, ClientKey]] = {}
        self._live_ids: dict[int, tuple[float, bool]] = {}
        self.any_live = True  # until the first look: refuse rather than open by mistake
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        """Whether any key exists is asked on every request: it is kept fresh in the
        background, so that answering it costs no database round trip."""
        await self._refresh()
        self._task = asyncio.create_task(self._refresh_forever(), name="client-keys")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _refresh_forever(self) -> None:
        while True:
            await asyncio.sleep(CACHE_SECONDS)
            try:
                await self._refresh()
            except Exception as error:  # the database may be away: keep what we knew
                log.warning("could not refresh the client keys: %s", type(error).__name__)

    async def _refresh(self) -> None:
        self.any_live = await Q.count_live_client_keys.fetchval(self.pool) > 0

    async def authenticate(self, key: str) -> ClientKey | None:
        if not key.startswith(PREFIX) or len(key) > 200:
            return None
        digest = key_hash(key)
        now = time.monotonic()
        cached = self._by_hash.get(digest)
        if cached is not None and cached[0] >= now:
            return cached[1]
        row = await Q.client_key_by_hash.fetchrow(self.pool, key_hash=digest)
        if row is None or not hmac.compare_digest(bytes(row["key_hash"]), digest):
            return None
        found = ClientKey(row["id"], row["name"])
        self._by_hash[digest] = (now + CACHE_SECONDS, found)
        return found

    async def name_of(self, key_id: int) -> str | None:
        """A live key's name (for the page's "signed in as"), or None."""
        row = await Q.live_client_key.fetchrow(self.pool, id=key_id)
        return row["name"] if row is not None else None

    async def is_live(self, key_id: int) -> bool:
        """For a session cookie or a turn token, which name a key by id."""
        now = time.monotonic()
        cached = self._live_ids.get(key_id)
        if cached is not None and cached[0] >= now:
            return cached[1]
        live = await Q.live_client_key.fetchrow(self.pool, id=key_id) is not None
        self._live_ids[key_id] = (now + CACHE_SECONDS, live)
        return live


async def open_access(pool: Pool, session_seconds: float, token_seconds: float) -> Access:
    # Gateways starting together: one statement gives each the one stored (see keys.sql).
    secret = await Q.shared_secret.fetchval(pool, name="signing", candidate=secrets.token_bytes(32))
    signer = Signer(bytes(secret), session_seconds=session_seconds, token_seconds=token_seconds)
    keys = KeyStore(pool)
    await keys.start()
    return Access(keys, signer)


async def create_key(pool: Pool, name: str) -> tuple[str, asyncpg.Record]:
    key = new_key()
    row = await Q.create_client_key.fetchrow(
        pool, name=name, key_hash=key_hash(key), prefix=key[:SHOWN_CHARS]
    )
    return key, row
