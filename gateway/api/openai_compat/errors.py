"""Errors in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``.

Every error of a ``/v1/`` request is made by the gateway's usual machinery (the guard's 401,
a 413 from the body reader, a domain error's 422 or 429, a 503, a 500) with its usual status;
``OpenAIErrors`` only reshapes its body on the way out, so the statuses stay the gateway's and
no error can escape in the other shape. The gateway's own ``type`` becomes OpenAI's ``code``
(``invalid_api_key``, ``model_not_found`` and ``rate_limit_exceeded`` where OpenAI has a name
of its own), and the field a validation error names becomes ``param``.

A provider that fails before its first word in a one-provider call answers with an error
status of its own (``failure_status``): the OpenAI SDKs raise on the status, so a rate-limited
upstream is an ``openai.RateLimitError``, as it would be against OpenAI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import orjson
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREFIX = "/v1"
CODES = {  # the gateway's error types that OpenAI names otherwise
    "unauthorized": "invalid_api_key",
    "unknown_provider": "model_not_found",
    "too_many_requests": "rate_limit_exceeded",
    "rate_limited": "rate_limit_exceeded",
}


def openai_type(status: int) -> str:
    if status == 429:
        return "requests"  # OpenAI's type for a request-rate limit
    if status >= 500:
        return "server_error"
    return "invalid_request_error"


def error_body(status: int, message: str, code: str | None, param: str | None = None) -> dict:
    return {
        "error": {
            "message": message,
            "type": openai_type(status),
            "param": param,
            "code": CODES.get(code, code) if code else None,
        }
    }


def reshape(status: int, body: bytes) -> bytes | None:
    """The gateway's error body in OpenAI's shape; None when it is not one of ours."""
    try:
        error = orjson.loads(body)["error"]
        message, code = error["message"], error["type"]
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return None
    if "code" in error:
        return None  # already OpenAI's (a provider's failure, answered as such)
    details = error.get("details") or ()
    param = details[0].get("field") if details and isinstance(details[0], dict) else None
    if isinstance(param, str) and param.startswith("body."):
        param = param[5:]
    return orjson.dumps(error_body(status, message, code, param))


class OpenAIErrors:
    """For ``/v1/`` requests only: the body of every JSON error response, reshaped. Other
    paths, and every 2xx (event streams included), pass through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not (path == PREFIX or path.startswith(PREFIX + "/")):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        parts: list[bytes] = []

        async def reshaping_send(message: Message) -> None:
            nonlocal start
            if start is None and message["type"] == "http.response.start":
                content_type = MutableHeaders(raw=message["headers"]).get("content-type", "")
                if message["status"] >= 400 and content_type.startswith("application/json"):
                    start = message  # held until its body is whole
                    return
            elif start is not None and message["type"] == "http.response.body":
                parts.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(parts)
                body = reshape(start["status"], body) or body
                headers = MutableHeaders(raw=start["headers"])
                headers["content-length"] = str(len(body))
                await send(start)
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, reshaping_send)


def reshaped_for_openai(handler: Callable[[Request, Exception], Awaitable[Response]]):
    """``handler``, its response in OpenAI's shape for a ``/v1/`` request: for the one error
    response Starlette sends past the app's middleware (a bug's 500, from its error
    middleware), which ``OpenAIErrors`` therefore never sees."""

    async def handle(request: Request, error: Exception) -> Response:
        response = await handler(request, error)
        path = request.url.path
        if path == PREFIX or path.startswith(PREFIX + "/"):
            body = reshape(response.status_code, bytes(response.body))
            if body is not None:
                response.body = body
                response.headers["content-length"] = str(len(body))
        return response

    return handle


# -- a provider's failure, in a call that asked only it ---------------------------------------

_FAILURE_STATUS = {
    "rate_limited": 429,
    "quota_exceeded": 429,
    "bad_request": 400,
    "too_large": 400,
    "blocked": 400,
    "not_found": 404,
    "overloaded": 503,
    "timeout": 504,
    "connect_timeout": 504,
    "upstream_timeout": 504,
}


def failure_status(error: dict | None) -> int:
    """The status that says how a provider failed (or 503: cancelled, as in a shutdown)."""
    if error is None:
        return 503
    return _FAILURE_STATUS.get(error.get("type", ""), 502)


def failure_body(status: int, error: dict | None, provider: str) -> dict:
    if error is None:
        return error_body(status, f"{provider}: the answer was cancelled", "cancelled")
    code = "insufficient_quota" if error["type"] == "quota_exceeded" else error["type"]
    return error_body(status, error["message"], code)
