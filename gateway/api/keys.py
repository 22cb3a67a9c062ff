"""Client keys over HTTP, for admin keys only: list, create (shown once), revoke.

The same as ``multichat keys``, for operators who reach the gateway but not its database. A
revoked key stops working at once on this process and within a second on every other; its
sessions and ``events_url`` tokens with it, and its running turns are cancelled.
"""

from __future__ import annotations

import datetime as dt

import asyncpg
from pydantic import BaseModel, Field
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.api.body import read_json
from gateway.api.errors import HttpError, not_found
from gateway.api.guard import is_admin
from gateway.api.schemas import Strict, Text, dump
from gateway.auth import create_key
from gateway.runtime import runtime
from storage import Q

MAX_KEY_ID = 2**63 - 1


class KeyCreate(Strict):
    name: Text = Field(min_length=1, max_length=100, description="who or what the key is for")
    admin: bool = Field(default=False, description="may manage keys and read /metrics")


class KeyInfo(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="the key's first characters, to tell keys apart")
    admin: bool
    origin: str = Field(description="created, first (made at a first start), or environment")
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None


class KeyCreated(KeyInfo):
    key: str = Field(description="the key itself: shown only in this answer")


def require_admin(request: Request) -> None:
    if not is_admin(request):
        raise HttpError(403, "managing keys needs an admin key", type="forbidden")


async def list_keys(request: Request) -> Response:
    require_admin(request)
    rows = await Q.list_client_keys.fetch(runtime(request).pool)
    return JSONResponse([dump(KeyInfo(**dict(row))) for row in rows])


async def create(request: Request) -> Response:
    require_admin(request)
    gateway = runtime(request)
    body = await read_json(request, KeyCreate, gateway.settings.max_body_bytes)
    try:
        key, row = await create_key(gateway.pool, body.name.strip(), admin=body.admin)
    except asyncpg.UniqueViolationError:
        raise HttpError(409, f"a live key is already named {body.name!r}") from None
    return JSONResponse(dump(KeyCreated(**dict(row), key=key)), status_code=201)


async def revoke(request: Request) -> Response:
    require_admin(request)
    gateway = runtime(request)
    key_id = request.path_params["key_id"]
    if not 1 <= key_id <= MAX_KEY_ID:
        raise not_found("key")
    row = await Q.revoke_client_key_by_id.fetchrow(gateway.pool, id=key_id)
    if row is None:
        live = await Q.live_client_key.fetchrow(gateway.pool, id=key_id)
        if live is not None:  # the environment's: not revoked above
            raise HttpError(
                409, "this is MULTICHAT_KEY's key: give the variable a new value instead"
            )
        raise not_found("live key")
    gateway.access.revocations.revoked({row["id"]})  # here at once; elsewhere within a second
    return Response(status_code=204)
