"""Reading a JSON body: media type (415), size limit (413), syntax (400), shape (422), in that order.

Only ``application/json`` is read (its parameters aside, a charset must be UTF-8). A browser
can send a cross-site ``text/plain`` or form POST without asking first; refusing those before
anything else is why such a request can never start a paid turn.
"""

from __future__ import annotations

import json
from typing import TypeVar, overload

import orjson
from pydantic import BaseModel, ValidationError
from starlette.requests import Request

from gateway.api.errors import HttpError, invalid

Model = TypeVar("Model", bound=BaseModel)

JSON_MEDIA_TYPE = "application/json"


@overload
async def read_json(request: Request, model: type[Model], max_bytes: int) -> Model: ...


@overload
async def read_json(
    request: Request, model: type[Model], max_bytes: int, *, optional: bool
) -> Model | None: ...


async def read_json(
    request: Request, model: type[Model], max_bytes: int, *, optional: bool = False
) -> Model | None:
    """The body as ``model``; with ``optional``, an empty body (no media type needed) is None."""
    declared = request.headers.get("content-type")
    if declared is not None:
        check_media_type(declared)
    body = await read_limited(request, max_bytes)
    if not body and optional:
        return None
    if body and declared is None:
        raise unsupported_media_type("none")
    if not body.strip():
        raise HttpError(400, "the request body must be a JSON object", type="malformed_json")
    data = parse(body)
    if not isinstance(data, dict):
        raise HttpError(422, "the request body must be a JSON object")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise invalid(error) from None


def check_media_type(declared: str) -> None:
    media_type, *parameters = declared.split(";")
    if media_type.strip().lower() != JSON_MEDIA_TYPE:
        raise unsupported_media_type(repr(media_type.strip()[:100]))
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            raise HttpError(415, "a JSON body must be UTF-8", type="unsupported_media_type")


def unsupported_media_type(what: str) -> HttpError:
    return HttpError(
        415,
        f"the request body must be {JSON_MEDIA_TYPE} (content-type: {what})",
        type="unsupported_media_type",
    )


def parse(body: bytes):
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as error:
        reason = error.args[0]
        if "surrogate" not in reason:
            raise HttpError(400, f"malformed JSON: {reason}", type="malformed_json") from None
    # orjson refuses a lone surrogate escape ("\ud800"), which JSON's grammar allows. Such a
    # body is well-formed, only its text is not Unicode: read it with the standard library, so
    # that the field's own check refuses it with a 422 that names the field.
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError) as error:  # JSONDecodeError, UnicodeDecodeError
        raise HttpError(400, f"malformed JSON: {error}", type="malformed_json") from None


def _no_constant(name: str):
    raise ValueError(f"{name} is not JSON")


async def read_limited(request: Request, max_bytes: int) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared[:20]) > max_bytes:
        raise HttpError(413, f"the request body is larger than {max_bytes} bytes")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise HttpError(413, f"the request body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)
