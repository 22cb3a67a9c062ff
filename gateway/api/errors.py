"""The one JSON error shape, ``{"error": {"type", "message"}}``, and the handlers that use it.

Bad input never becomes a 500, and no response ever carries a stack trace.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from gateway.api.headers import SECURITY_HEADERS
from gateway.observability.logs import redact
from gateway.server import routine_reason
from gateway.turns import (
    Conflict,
    InvalidChoice,
    NotFound,
    PromptTooLong,
    ShuttingDown,
    TooBusy,
    TurnError,
)
from gateway.turns.uploads import BadUpload
from storage import UNAVAILABLE_ERRORS

log = logging.getLogger("multichat")

_TYPE_FOR_STATUS = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "too_many_requests",
    503: "unavailable",
}


class HttpError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        type: str | None = None,
        headers: dict[str, str] | None = None,
        details: list | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.type = type or _TYPE_FOR_STATUS.get(status, "error")
        self.message = message
        self.headers = headers
        self.details = details


def error_response(
    status: int,
    type: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    details: list | None = None,
) -> JSONResponse:
    error: dict = {"type": type, "message": message}
    if details:
        error["details"] = details
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def not_found(what: str) -> HttpError:
    return HttpError(404, f"{what} not found")


MAX_FIELD_CHARS = 100


def validation_details(error: ValidationError) -> list[dict]:
    return [
        {"field": field_name(item["loc"]), "message": item["msg"]}
        for item in error.errors(include_url=False, include_input=False)
    ]


def field_name(loc: tuple) -> str:
    """A field's dotted path, fit to echo: an unknown field's name is the client's own text."""
    name = (".".join(str(part) for part in loc) or "body")[: MAX_FIELD_CHARS + 1]
    # A lone surrogate cannot be encoded in the response; U+0000 and other controls read badly.
    name = name.encode("utf-8", "backslashreplace").decode("utf-8")
    name = "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)
    return name if len(name) <= MAX_FIELD_CHARS else name[: MAX_FIELD_CHARS - 1] + "…"


def invalid(error: ValidationError) -> HttpError:
    details = validation_details(error)
    first = details[0]
    return HttpError(422, f"{first['field']}: {first['message']}", details=details)


async def _api_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HttpError)
    return error_response(error.status, error.type, error.message, error.headers, error.details)


async def _http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    status = error.status_code
    message = "no such endpoint" if status == 404 else str(error.detail)
    return error_response(status, _TYPE_FOR_STATUS.get(status, "error"), message, error.headers)


def status_of(error: TurnError) -> HttpError:
    """The one place where the turn domain's errors get their HTTP status."""
    if isinstance(error, NotFound):
        return HttpError(404, error.message)
    if isinstance(error, PromptTooLong):
        return HttpError(413, error.message, type="prompt_too_large")
    if isinstance(error, BadUpload):
        status = {"too_large": 413, "not_an_image": 415, "unsupported_type": 415}
        return HttpError(status.get(error.reason, 422), error.message, type=error.reason)
    if isinstance(error, InvalidChoice):
        return HttpError(
            422, error.message, type="unknown_provider" if error.unknown_provider else None
        )
    if isinstance(error, Conflict):
        return HttpError(409, error.message, type=error.kind)
    if isinstance(error, ShuttingDown):
        return HttpError(503, error.message, type="shutting_down", headers={"Retry-After": "2"})
    if isinstance(error, TooBusy):
        return HttpError(429, error.message, headers={"Retry-After": str(error.retry_after)})
    return HttpError(422, error.message)


async def _turn_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, TurnError)
    return await _api_error(request, status_of(error))


async def _database_unavailable(request: Request, error: Exception) -> Response:
    log.warning("database unavailable: %s", type(error).__name__)
    return error_response(
        503,
        "database_unavailable",
        "the database is unavailable; try again shortly",
        headers={"Retry-After": "2"},
    )


async def _client_gone(request: Request, error: Exception) -> Response:
    # It hung up before its request was read: nothing was started, and no one will read this.
    log.info(
        "%s %s: the client left before its request was read",
        request.method,
        redact(request.url.path),  # a share link's path is a credential
    )
    return error_response(400, "client_disconnected", "the request was not received whole")


async def _unexpected(request: Request, error: Exception) -> Response:
    # A stream's routine end (a client that stopped reading) is logged once, as one line, by
    # the server's filter (gateway.server.RoutineEvents) when Starlette re-raises it.
    if routine_reason(error) is None:
        log.exception("unexpected error on %s %s", request.method, redact(request.url.path))
    response = error_response(500, "internal_error", "something went wrong on our side")
    # Starlette's error middleware sends this past every middleware of the app's list: it
    # carries the security headers itself (and, for a /v1/ request, gateway/app.py has the
    # OpenAI-compatible API reshape it).
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


EXCEPTION_HANDLERS = {
    HttpError: _api_error,
    ClientDisconnect: _client_gone,
    TurnError: _turn_error,
    HTTPException: _http_error,
    **{kind: _database_unavailable for kind in UNAVAILABLE_ERRORS},
    Exception: _unexpected,
}
