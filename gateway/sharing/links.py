"""Share links as stored: a token made once and shown once, kept only as its SHA-256.

A token is 43 URL-safe characters (256 bits, as a client key): guessing one is hopeless, so a
view needs no rate limit, only one indexed query. Nothing is remembered per process: every view
asks the database, so a link revoked (or expired) on one gateway process is closed on all of
them at once, and links outlive restarts.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from storage import Q

TOKEN_BYTES = 32
TOKEN = re.compile(r"[A-Za-z0-9_-]{43}")
MAX_EXPIRES_IN = 366 * 24 * 3600  # a year (and a day): longer is "until revoked"


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode("ascii")).digest()


def plausible_token(token: str) -> bool:
    """Could this be a token at all? Anything else is unknown without a query."""
    return TOKEN.fullmatch(token) is not None


@dataclass(frozen=True, slots=True)
class Share:
    """A live link, as its view needs it."""

    id: int
    owner: int
    kind: str  # "conversation" or "leaderboard"
    conversation_id: int | None
    turn_id: str | None
    show_costs: bool
    show_settings: bool
    live: bool
    snapshot: dict[str, Any] | None
    created_at: datetime
    expires_at: datetime | None


async def create_share(
    pool: asyncpg.Pool,
    *,
    owner: int,
    kind: str,
    conversation_id: int | None = None,
    turn_id: str | None = None,
    show_costs: bool = False,
    show_settings: bool = False,
    live: bool = False,
    snapshot: dict[str, Any] | None = None,
    expires_in: int | None = None,
) -> tuple[str, asyncpg.Record]:
    """A new link's token (shown only now) and its row."""
    token = new_token()
    row = await Q.create_share.fetchrow(
        pool,
        token_hash=token_hash(token),
        owner=owner,
        kind=kind,
        conversation_id=conversation_id,
        turn_id=turn_id,
        show_costs=show_costs,
        show_settings=show_settings,
        live=live,
        snapshot=snapshot,
        expires_in=expires_in,
    )
    return token, row


async def find_share(pool: asyncpg.Pool, token: str) -> Share | None:
    """The live link this token opens, or None: unknown, revoked, expired and a revoked
    owner's are all the same None."""
    if not plausible_token(token):
        return None
    digest = token_hash(token)
    row = await Q.share_by_hash.fetchrow(pool, token_hash=digest)
    if row is None:
        return None
    return Share(
        id=row["id"],
        owner=row["owner"],
        kind=row["kind"],
        conversation_id=row["conversation_id"],
        turn_id=row["turn_id"],
        show_costs=row["show_costs"],
        show_settings=row["show_settings"],
        live=row["live"],
        snapshot=row["snapshot"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
    )
