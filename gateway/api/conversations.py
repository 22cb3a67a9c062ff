"""Conversations CRUD, as in the original backend."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

import gateway.api.branch_view as branch_view
import gateway.api.search as search
from gateway.api.body import read_json
from gateway.api.errors import HttpError, not_found
from gateway.api.guard import owner_of
from gateway.api.schemas import (
    AttachmentOut,
    Conversation,
    ConversationCreate,
    ConversationDetail,
    ConversationRename,
    ErrorInfo,
    MessageOut,
    TurnSettingsOut,
    UsageInfo,
    dump,
)
from gateway.runtime import runtime
from gateway.turns import answer_error
from gateway.turns.blind import neutral_error, neutral_finish, neutral_ignored
from gateway.turns.events import usage_data
from gateway.turns.replay import sum_costs
from gateway.turns.turn_settings import TurnSettings
from storage import Q

DEFAULT_TITLE = "New conversation"
MAX_LIMIT = 100
MAX_ID = 2**63 - 1


def conversation_id(request: Request) -> int:
    value = request.path_params["conversation_id"]
    if not 1 <= value <= MAX_ID:
        raise not_found("conversation")
    return value


def page_params(request: Request) -> tuple[int, int]:
    limit = int_param(request, "limit", 20)
    offset = int_param(request, "offset", 0)
    if not 1 <= limit <= MAX_LIMIT:
        raise HttpError(422, f"limit must be between 1 and {MAX_LIMIT}")
    if not 0 <= offset <= MAX_ID:
        raise HttpError(422, f"offset must be between 0 and {MAX_ID}")
    return limit, offset


def int_param(request: Request, name: str, default: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    # ASCII digits only (int() also takes "1_0", " 10" and "１０"), and few enough that int()
    # stays far from its 4300-digit limit: anything longer is out of range anyway.
    digits = raw[1:] if raw.startswith("-") else raw
    if not (digits.isascii() and digits.isdigit()):
        raise HttpError(422, f"{name} must be an integer")
    return int(raw) if len(digits) <= 20 else MAX_ID + 1


async def create_conversation(request: Request) -> Response:
    gateway = runtime(request)
    body = await read_json(request, ConversationCreate, gateway.settings.max_body_bytes)
    title = (body.title or "").strip() or DEFAULT_TITLE
    row = await Q.create_conversation.fetchrow(
        gateway.pool,
        title=title,
        owner=owner_of(request),
        blind=body.blind,
        context_policy=body.context_policy,
    )
    return JSONResponse(dump(Conversation(**row)), status_code=201)


async def list_conversations(request: Request) -> Response:
    gateway = runtime(request)
    limit, offset = page_params(request)
    if (q := search.search_terms(request)) is not None:
        return await search.search_conversations(request, q, limit, offset)
    owner = owner_of(request)
    rows = await Q.list_conversations.fetch(gateway.pool, limit=limit, offset=offset, owner=owner)
    total = await Q.count_conversations.fetchval(gateway.pool, owner=owner)
    return JSONResponse(
        [dump(Conversation(**row)) for row in rows], headers={"X-Total-Count": str(total)}
    )


async def get_conversation(request: Request) -> Response:
    gateway = runtime(request)
    conversation = await load_conversation(
        gateway.pool,
        conversation_id(request),
        owner_of(request),
        through=request.query_params.get("path"),
    )
    return JSONResponse(dump(conversation))


async def rename_conversation(request: Request) -> Response:
    gateway = runtime(request)
    id = conversation_id(request)
    body = await read_json(request, ConversationRename, gateway.settings.max_body_bytes)
    row = await Q.rename_conversation.fetchrow(
        gateway.pool,
        id=id,
        title=body.title,
        blind=body.blind,
        context_policy=body.context_policy,
        owner=owner_of(request),
    )
    if row is None:
        raise not_found("conversation")
    return JSONResponse(dump(Conversation(**row)))


async def delete_conversation(request: Request) -> Response:
    gateway = runtime(request)
    id = conversation_id(request)
    owner = owner_of(request)
    await gateway.turns.cancel_conversation(id, owner)  # running turns stop before their rows go
    if await Q.delete_conversation.fetchval(gateway.pool, id=id, owner=owner) is None:
        raise not_found("conversation")
    return Response(status_code=204)


async def load_conversation(
    pool, id: int, owner: int, *, through: str | None = None, every_branch: bool = False
) -> ConversationDetail:
    """The messages of the path on screen (``through`` a turn: of the path through it), or
    with ``every_branch`` of every turn; the cost and count are always of every branch."""
    row = await Q.get_conversation.fetchrow(pool, id=id, owner=owner)
    if row is None:
        raise not_found("conversation")
    rows = await Q.conversation_messages.fetch(pool, conversation_id=id)
    messages = [message_out(m) for m in rows]
    cost = sum_costs(m["cost_usd"] for m in rows)  # blind answers' too: a sum names no model
    path = await branch_view.current_path(pool, id, rows, through)
    return ConversationDetail(
        **row,
        message_count=len(messages),
        cost_usd=cost,
        messages=messages if every_branch else branch_view.on_path(messages, path),
        path=path,
    )


def message_out(row) -> MessageOut:
    error = answer_error(row)
    usage = usage_data(row["input_tokens"], row["output_tokens"], row["reasoning_tokens"])
    finish_reason, ignored = row["finish_reason"], row["settings_ignored"]
    hidden = row["label"] is not None and not row["revealed"]
    if hidden:  # a blind turn's answer before its vote: as its events showed it
        error, finish_reason = neutral_error(error), neutral_finish(finish_reason)
        ignored = neutral_ignored(ignored)
    prompt = row["role"] == "user"
    settings = (
        TurnSettings.from_json(row["settings"], row["attachments"] or ()).shown()
        if prompt and row["turn_id"] is not None
        else None
    )
    return MessageOut(
        id=row["id"],
        turn_id=row["turn_id"],
        role=row["role"],
        provider=None if hidden else row["provider"],
        model=None if hidden else row["model"],
        simulated=None if hidden else row["simulated"],
        label=row["label"],
        status=row["status"],
        content=row["content"],
        thinking=row["thinking"],
        finish_reason=finish_reason,
        error=ErrorInfo(**error) if error else None,
        ttft_ms=row["ttft_ms"],
        latency_ms=row["latency_ms"],
        usage=UsageInfo(**usage) if usage else None,
        citations=row["citations"],
        cost_usd=None if hidden else row["cost_usd"],  # a price points to the model
        run=row["run"],
        created_at=row["created_at"],
        settings_ignored=ignored or None,
        settings=TurnSettingsOut(**settings) if settings else None,
        attachments=[AttachmentOut(upload_id=id) for id in row["attachments"]] if prompt else None,
        kind=row["kind"],
        judge=row["judge_provider"],
        fused_from=row["fused_from"],
    )
