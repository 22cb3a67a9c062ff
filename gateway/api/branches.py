"""Branches and runs (api.md §7): edit a prompt (a new turn on a new branch), choose the path
on screen, and choose which run of an answer its history uses. Their endpoints are declared
here and listed with the others by endpoints.py."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.api.body import read_json
from gateway.api.branch_view import load_tree
from gateway.api.conversations import conversation_id, load_conversation
from gateway.api.errors import HttpError, not_found
from gateway.api.guard import owner_of
from gateway.api.openapi import ApiEndpoint
from gateway.api.paths import API
from gateway.api.schemas import (
    ConversationDetail,
    CurrentRequest,
    EditRequest,
    RunPick,
    TurnCreated,
    TurnState,
    dump,
)
from gateway.api.turns import TURN_ID, turn_created, turn_id_of, turn_view
from gateway.runtime import runtime
from gateway.turns.tree import Parent
from gateway.turns.turn_settings import TurnSettings
from storage import Q

MAX_PROVIDER_CHARS = 40  # a provider's name or a label; anything longer names none


async def edit_turn(request: Request) -> Response:
    """A new turn with the edited prompt, continuing the edited turn's parent: a sibling of it,
    on a new branch that becomes the path on screen. The edited turn's providers (with their
    models), settings, images and blindness unless the body names providers."""
    gateway = runtime(request)
    turn_id = turn_id_of(request)
    body = await read_json(request, EditRequest, gateway.settings.max_body_bytes)
    owner = owner_of(request)
    edited = await Q.edited_turn.fetchrow(gateway.pool, id=turn_id, owner=owner)
    if edited is None:
        raise not_found("turn")
    entries = edited["providers"]
    models = (
        body.models
        if body.models is not None
        else [f"{e['provider']}:{e['model']}" for e in entries]
    )
    turn = await gateway.turns.create_turn(
        body.prompt,
        conversation_id=edited["conversation_id"],
        models=models,
        wait_for_listener=True,
        owner=owner,
        blind=any(e.get("label") for e in entries),
        settings=TurnSettings.from_json(edited["settings"], edited["attachments"] or ()),
        parent=Parent(edited["parent_id"]),
    )
    return turn_created(request, turn)


async def set_current(request: Request) -> Response:
    """Show (and keep) the path through a turn: down to where that branch went last."""
    gateway = runtime(request)
    id = conversation_id(request)
    owner = owner_of(request)
    body = await read_json(request, CurrentRequest, gateway.settings.max_body_bytes)
    if await Q.get_conversation.fetchrow(gateway.pool, id=id, owner=owner) is None:
        raise not_found("conversation")
    tree, _, _ = await load_tree(gateway.pool, id)
    if body.turn_id not in tree:
        raise not_found("turn")
    leaf = tree.leaf_below(body.turn_id)
    if await Q.set_current_turn.fetchval(gateway.pool, id=id, turn_id=leaf, owner=owner) is None:
        raise not_found("conversation")  # deleted meanwhile
    return JSONResponse(dump(await load_conversation(gateway.pool, id, owner)))


async def pick_run(request: Request) -> Response:
    """The run of one answer its history uses from now on (and the page shows); a new retry
    of that provider is used once it completes."""
    gateway = runtime(request)
    turn_id = turn_id_of(request)
    named = request.path_params["provider"]
    body = await read_json(request, RunPick, gateway.settings.max_body_bytes)
    owner = owner_of(request)
    live = gateway.turns.live(turn_id, owner)
    snapshot = live.snapshot() if live else (await gateway.turns.stored(turn_id, owner)).snapshot()
    # A blind turn's client may know its labels only; a provider's name is taken too once known.
    by_name = {p.label: p.provider for p in snapshot.providers if p.label is not None}
    by_name |= {p.provider: p.provider for p in snapshot.providers if not snapshot.blind}
    provider = by_name.get(named) if len(named) <= MAX_PROVIDER_CHARS else None
    if provider is None:
        raise not_found("answer")  # the path names no answer of this turn
    picked = await Q.pick_run.fetchval(
        gateway.pool, turn_id=turn_id, provider=provider, run=body.run
    )
    if picked is None:
        raise HttpError(422, f"run: this answer has no run {body.run}")
    return JSONResponse(dump(await turn_view(gateway.pool, snapshot, owner)))


_TURN = {"turn_id": {"type": "string", "pattern": f"^{TURN_ID.pattern}$"}}

ENDPOINTS = [
    ApiEndpoint(
        "POST",
        f"{API}/turns/{{turn_id}}/edit",
        edit_turn,
        "Ask an edited prompt in place of a turn's: a new turn on a new branch, whose history is "
        "everything before the edited turn; stream it from events_url",
        "branches",
        body=EditRequest,
        response=TurnCreated,
        status=201,
        errors=(400, 404, 413, 415, 422, 429, 503),
        path_schemas=_TURN,
    ),
    ApiEndpoint(
        "PUT",
        f"{API}/conversations/{{conversation_id:id}}/current",
        set_current,
        "Switch branches: the path on screen goes through this turn (kept; a new turn "
        "continues its leaf). Answers the conversation as GET does",
        "branches",
        body=CurrentRequest,
        response=ConversationDetail,
        errors=(400, 404, 413, 415, 422, 503),
    ),
    ApiEndpoint(
        "PUT",
        f"{API}/turns/{{turn_id}}/answers/{{provider}}/run",
        pick_run,
        "Choose which run (retry) of a provider's answer its history uses and the page shows; "
        "a blind turn names the label",
        "branches",
        body=RunPick,
        response=TurnState,
        errors=(400, 404, 413, 415, 422, 503),
        path_schemas=_TURN | {"provider": {"type": "string", "maxLength": MAX_PROVIDER_CHARS}},
    ),
]
