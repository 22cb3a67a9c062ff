"""Making, listing and revoking share links (the owner's side; docs/sharing.md).

Only a conversation's owner shares it (another key gets the same 404 as for a conversation
that does not exist), and only their own links are listed or revoked. The link's token is in
the creating answer only: the database keeps its hash.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.api.arena import standings
from gateway.api.body import read_json
from gateway.api.conversations import MAX_ID, conversation_id
from gateway.api.errors import HttpError, not_found
from gateway.api.guard import owner_of
from gateway.api.schemas import dump
from gateway.api.schemas.shares import (
    LeaderboardShareCreate,
    ShareCreate,
    ShareCreated,
    ShareInfo,
)
from gateway.api.turns import TURN_ID
from gateway.auth.origins import origin_of
from gateway.runtime import runtime
from gateway.sharing import create_share
from storage import Q

SHARE_PATH = "/s/"  # where a link opens: outside /api/v1, which always needs a key


def share_url(request: Request, token: str) -> str:
    """PUBLIC_URL's origin when set (the address people use), else the one this request came
    to (its Host was checked by the guard), as the first key's sign-in address is made."""
    settings = runtime(request).settings
    base = settings.public_url or origin_of(request.url.scheme, request.headers.get("host", ""))
    return f"{(base or str(request.base_url)).rstrip('/')}{SHARE_PATH}{token}"


def created(request: Request, token: str, row) -> Response:
    out = ShareCreated(**row, url=share_url(request, token))
    return JSONResponse(dump(out), status_code=201, headers={"Cache-Control": "no-store"})


async def share_conversation(request: Request) -> Response:
    gateway = runtime(request)
    id = conversation_id(request)
    body = await read_json(request, ShareCreate, gateway.settings.max_body_bytes, optional=True)
    body = body or ShareCreate()
    if body.turn_id is not None and not TURN_ID.fullmatch(body.turn_id):
        raise not_found("turn")
    owner = owner_of(request)
    owned = await Q.owned_conversation_turn.fetchval(
        gateway.pool, conversation_id=id, owner=owner, turn_id=body.turn_id
    )
    if owned is None:
        raise not_found("turn" if body.turn_id else "conversation")
    token, row = await create_share(
        gateway.pool,
        owner=owner,
        kind="conversation",
        conversation_id=id,
        turn_id=body.turn_id,
        show_costs=body.show_costs,
        show_settings=body.show_settings,
        expires_in=body.expires_in,
    )
    return created(request, token, row)


async def conversation_shares(request: Request) -> Response:
    gateway = runtime(request)
    id = conversation_id(request)
    owner = owner_of(request)
    await own_conversation(request, id, owner)
    rows = await Q.list_shares.fetch(gateway.pool, owner=owner, conversation_id=id)
    return JSONResponse([dump(ShareInfo(**row)) for row in rows])


async def unshare_conversation(request: Request) -> Response:
    """Every link of the conversation, or with ``?turn_id=`` those of that one turn."""
    gateway = runtime(request)
    id = conversation_id(request)
    owner = owner_of(request)
    turn_id = request.query_params.get("turn_id")
    if turn_id is not None and not TURN_ID.fullmatch(turn_id):
        raise HttpError(422, "turn_id is not a turn id")
    await own_conversation(request, id, owner)
    await Q.revoke_conversation_shares.fetch(
        gateway.pool, conversation_id=id, owner=owner, turn_id=turn_id
    )
    return Response(status_code=204)


async def own_conversation(request: Request, id: int, owner: int) -> None:
    found = await Q.owned_conversation_turn.fetchval(
        runtime(request).pool, conversation_id=id, owner=owner, turn_id=None
    )
    if found is None:
        raise not_found("conversation")


async def share_leaderboard(request: Request) -> Response:
    gateway = runtime(request)
    body = await read_json(
        request, LeaderboardShareCreate, gateway.settings.max_body_bytes, optional=True
    )
    body = body or LeaderboardShareCreate()
    owner = owner_of(request)
    snapshot: dict[str, Any]
    if body.live:
        # The window travels with the link; the standings are worked out at each view.
        snapshot = {"days": body.days}
    else:
        board = await standings(gateway.pool, owner, window_since(body.days))
        snapshot = {"days": body.days, "leaderboard": dump(board)}
    token, row = await create_share(
        gateway.pool,
        owner=owner,
        kind="leaderboard",
        live=body.live,
        snapshot=snapshot,
        expires_in=body.expires_in,
    )
    return created(request, token, row)


async def unshare_leaderboard(request: Request) -> Response:
    await Q.revoke_leaderboard_shares.fetch(runtime(request).pool, owner=owner_of(request))
    return Response(status_code=204)


async def list_shares(request: Request) -> Response:
    gateway = runtime(request)
    rows = await Q.list_shares.fetch(gateway.pool, owner=owner_of(request), conversation_id=None)
    return JSONResponse([dump(ShareInfo(**row)) for row in rows])


async def revoke_share(request: Request) -> Response:
    gateway = runtime(request)
    share_id = request.path_params["share_id"]
    if not 1 <= share_id <= MAX_ID:
        raise not_found("share link")
    revoked = await Q.revoke_share.fetchval(gateway.pool, id=share_id, owner=owner_of(request))
    if revoked is None:
        raise not_found("share link")
    return Response(status_code=204)


def window_since(days: int | None) -> datetime | None:
    return None if days is None else datetime.now(UTC) - timedelta(days=days)
