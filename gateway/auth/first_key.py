"""The keys a gateway sees to at start: ``MULTICHAT_KEY``, and a first key when there is none.

No request reaches the API without credentials, so a fresh install must hand its operator one
without a step of their own: when the database has no live key at all (and no
``MULTICHAT_KEY``), the starting gateway makes one, an admin, and prints the page address
that signs a browser in with it (``http://127.0.0.1:8000/#key=mck_…``, as Jupyter prints its
token URL). The key travels in the fragment, which browsers never send: it reaches no access
log, no proxy log, no Referer. The page posts it to /api/v1/session and takes it out of the
address bar.

The database keeps only the key's hash, so its plain text is kept in ``DATA_DIR/first-key``
(mode 0600, beside the embedded database's files, which are as private) and printed again on
every start while that key is live: the address keeps working until the key is revoked.
Revoke it (``multichat keys revoke first``) once you have keys of your own; the file then
goes at the next start.

Gateways starting together take a lock, so one database gets one first key.
"""

from __future__ import annotations

import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from gateway.auth.keys import ClientKey, create_key_on, key_hash
from gateway.settings import Settings, SettingsError
from storage import Q

log = logging.getLogger("multichat")

FIRST_KEY_FILE = "first-key"
FIRST_KEY_NAME = "first"
ENVIRONMENT_KEY_NAME = "MULTICHAT_KEY"  # as keys.sql create_environment_key names it
ENVIRONMENT_PREFIX_CHARS = 4  # MULTICHAT_KEY may be short on entropy: list less of it


@dataclass(frozen=True, slots=True)
class StartKeys:
    sign_in_key: str | None  # the first key, when live and kept here: printed to sign in
    environment: ClientKey | None  # MULTICHAT_KEY's key, known before any request asks


async def prepare_keys(pool: asyncpg.Pool, settings: Settings) -> StartKeys:
    """See to MULTICHAT_KEY and to the first key."""
    path = Path(settings.data_dir) / FIRST_KEY_FILE
    environment = None
    async with pool.acquire() as connection, connection.transaction():
        await Q.lock_client_keys.execute(connection)
        if settings.multichat_key is not None:
            environment = await environment_key(
                connection, settings.multichat_key.get_secret_value()
            )
        if await Q.count_live_client_keys.fetchval(connection) == 0:
            key, row = await create_key_on(connection, FIRST_KEY_NAME, admin=True, origin="first")
            log.info("made a first client key (%r, admin); it is kept in %s", row["name"], path)
            keep(path, key)
            return StartKeys(key, environment)
        return StartKeys(await kept_key(connection, path), environment)


def read_kept(path: Path) -> str | None:
    try:
        return path.read_text().strip() or None
    except OSError:
        return None


def forget_kept(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


async def environment_key(connection: asyncpg.Connection, key: str) -> ClientKey:
    """MULTICHAT_KEY as a key: the environment's row, made once; a new value replaces its
    hash (and ends its sessions), so that what it owns stays its own."""
    digest = key_hash(key)
    row = await Q.client_key_by_hash.fetchrow(connection, key_hash=digest)
    if row is not None:
        if row["revoked_at"] is not None:
            raise SettingsError(
                "MULTICHAT_KEY was revoked (multichat keys revoke): set a new value"
            )
        # That key already: the environment's, or a created one exported.
        return ClientKey(row["id"], row["name"], row["admin"])
    prefix = key[:ENVIRONMENT_PREFIX_CHARS]
    current = await Q.live_environment_key.fetchrow(connection)
    if current is not None:
        await Q.rekey_environment_key.execute(
            connection, id=current["id"], key_hash=digest, prefix=prefix
        )
        log.info("MULTICHAT_KEY has a new value: the old one no longer works")
        return ClientKey(current["id"], ENVIRONMENT_KEY_NAME, admin=True)
    first_ever = await Q.count_all_client_keys.fetchval(connection) == 0
    key_id = await Q.create_environment_key.fetchval(connection, key_hash=digest, prefix=prefix)
    if first_ever:
        await Q.adopt_open_data.fetchrow(connection, key_id=key_id)
    return ClientKey(key_id, ENVIRONMENT_KEY_NAME, admin=True)


def keep(path: Path, key: str) -> None:
    """Write the key where only this user can read it (atomically: a reader never sees half)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = path.with_name(path.name + ".partial")
        descriptor = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(key + "\n")
        os.replace(partial, path)
    except OSError as error:
        log.warning("could not keep the first key in %s (%s): it is printed only now", path, error)


async def kept_key(connection: asyncpg.Connection, path: Path) -> str | None:
    """The kept first key, if it is a live key of this database. A revoked one's file goes."""
    key = read_kept(path)  # a few bytes, once at start: not worth a thread
    if key is None:
        return None
    row = await Q.client_key_by_hash.fetchrow(connection, key_hash=key_hash(key))
    if row is None:
        return None  # another database's, perhaps: leave it
    if row["revoked_at"] is not None:
        forget_kept(path)
        return None
    return key
