"""``POST /turns/{id}/fuse``: a judge model fuses a turn's answers into one, streamed on the
turn's own stream as retry and add are (``gateway.turns.fuse``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.api.body import read_json
from gateway.api.guard import owner_of
from gateway.api.schemas import FuseRequest
from gateway.api.turns import started_response, turn_id_of
from gateway.runtime import runtime


async def fuse_turn(request: Request) -> Response:
    gateway = runtime(request)
    turn_id = turn_id_of(request)
    body = await read_json(request, FuseRequest, gateway.settings.max_body_bytes)
    owner = owner_of(request)
    started = await gateway.turns.fuse(
        turn_id, body.model, instructions=body.instructions, answers=body.answers, owner=owner
    )
    return started_response(request, started, owner)
