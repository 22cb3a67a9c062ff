"""GET /conversations/?q=: full-text search over a key's prompts and answers, best first."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.api.errors import HttpError
from gateway.api.guard import owner_of
from gateway.api.schemas import ConversationHit, dump
from gateway.runtime import runtime
from storage import Q

MAX_QUERY_CHARS = 500


def search_terms(request: Request) -> str | None:
    """The ``q`` parameter, or None when absent or blank (then the list is not searched)."""
    q = request.query_params.get("q")
    if q is None or not q.strip():
        return None
    if len(q) > MAX_QUERY_CHARS:
        raise HttpError(422, f"q must be at most {MAX_QUERY_CHARS} characters")
    if "\x00" in q:
        raise HttpError(422, "q must not contain U+0000")
    return q


async def search_conversations(request: Request, q: str, limit: int, offset: int) -> Response:
    gateway = runtime(request)
    owner = owner_of(request)
    found = await Q.search_conversations.fetch(
        gateway.pool, q=q, owner=owner, limit=limit, offset=offset
    )
    if found:
        total = found[0]["total"]
    elif offset > 0:  # past the last page: the total still counts every match
        first = await Q.search_conversations.fetch(
            gateway.pool, q=q, owner=owner, limit=1, offset=0
        )
        total = first[0]["total"] if first else 0
    else:
        total = 0
    hits = [
        ConversationHit(
            id=row["id"],
            title=row["title"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            message_count=row["message_count"],
            rank=round(row["rank"], 6),
            snippet=row["snippet"],
            turn_id=row["turn_id"],
        )
        for row in found
    ]
    return JSONResponse([dump(hit) for hit in hits], headers={"X-Total-Count": str(total)})
