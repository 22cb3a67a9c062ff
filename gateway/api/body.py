"""Reading a JSON body: size limit (413), syntax (400), shape (422), in that order."""

from __future__ import annotations

from typing import TypeVar

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from gateway.api.errors import HttpError, invalid

Model = TypeVar("Model", bound=BaseModel)


async def read_json(request: Request, model: type[Model], max_bytes: int) -> Model:
    body = await _read_limited(request, max_bytes)
    if not body.strip():
        raise HttpError(400, "the request body must be a JSON object", type="malformed_json")
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        raise HttpError(400, f"malformed JSON: {error.args[0]}", type="malformed_json") from None
    if not isinstance(data, dict):
        raise HttpError(422, "the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid(error) from None


async def _read_limited(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise HttpError(413, f"the request body is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HttpError(413, f"the request body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
