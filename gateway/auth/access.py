"""Everything the guard needs to tell who is asking, made once at start-up."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass

import asyncpg

from gateway.auth.first_key import StartKeys, prepare_keys
from gateway.auth.keys import KeyStore
from gateway.auth.revocations import RevocationWatch
from gateway.auth.sessions import SessionStore
from gateway.auth.signing import Signer
from gateway.settings import Settings
from storage import Q


@dataclass(frozen=True, slots=True)
class Access:
    keys: KeyStore
    sessions: SessionStore
    signer: Signer
    revocations: RevocationWatch
    # The first key's plain text, when it is live and kept here: printed as the sign-in address.
    sign_in_key: str | None = None


async def open_access(
    pool: asyncpg.Pool, settings: Settings, on_revoked: Callable[[set[int]], object]
) -> Access:
    """``on_revoked``: what stops a revoked key's running turns (the turn registry's)."""
    start = StartKeys(None, None) if settings.auth == "off" else await prepare_keys(pool, settings)
    # Gateways starting together: one statement gives each the one stored (see keys.sql).
    secret = await Q.shared_secret.fetchval(pool, name="signing", candidate=secrets.token_bytes(32))
    signer = Signer(
        bytes(secret),
        session_seconds=settings.session_ttl,
        token_seconds=settings.events_token_ttl,
    )
    keys = KeyStore(pool)
    if start.environment is not None and settings.multichat_key is not None:
        keys.know(settings.multichat_key.get_secret_value(), start.environment)
    sessions = SessionStore(pool, signer, keys)
    revocations = RevocationWatch(pool, keys, sessions, on_revoked)
    await revocations.start()
    return Access(keys, sessions, signer, revocations, start.sign_in_key)
