"""Request ids and the access line, and the scraper's token for ``/metrics``: pure ASGI
middleware, so streams pass through unbuffered.

``RequestContext`` (outermost) takes the client's ``X-Request-ID`` when it is short and
printable, or makes one; puts it in ``scope["state"]["request_id"]``; returns it on every
response; and, with ``LOG_FORMAT=json``, logs one access line per request: method, the route's
path template (never the raw path), status, duration_ms, request_id, client. It touches only
the response's start message; every later message passes straight through.

``MetricsToken`` (just before the guard, only with ``METRICS_TOKEN`` set) answers ``/metrics``
for a request bearing that token; any other request goes on to the guard, where a client key
works as for the API.
"""

from __future__ import annotations

import hmac
import logging
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.drops import SendTimeout

access_log = logging.getLogger("multichat.access")

REQUEST_ID_HEADER = b"x-request-id"
REQUEST_ID = re.compile(rb"[\x21-\x7e]{1,128}")
METRICS_PATH = "/metrics"


def request_id_of(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            if REQUEST_ID.fullmatch(value):
                return value.decode("ascii")
            break
    return secrets.token_hex(16)


def path_template(scope: Scope, routes: Sequence[BaseRoute]) -> str:
    """The route's pattern (``/api/v1/turns/{turn_id}/events``); requests refused before
    routing (401, 421 ...) are matched here."""
    route = scope.get("route")
    if route is None:
        probe = {**scope, "method": scope.get("method", "GET")}
        for candidate in routes:
            match, _ = candidate.matches(probe)
            if match is not Match.NONE:
                route = candidate
                break
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"


def dropped_reason(error: BaseException | None) -> str | None:
    for _ in range(5):
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        if isinstance(error, SendTimeout):
            return "send_timeout"
        if error is None:
            return None
        error = error.__cause__
    return None


class RequestContext:
    def __init__(
        self,
        app: ASGIApp,
        *,
        log_requests: bool = False,
        routes: Sequence[BaseRoute] = (),
        on_dropped: Callable[[str], None] | None = None,
    ) -> None:
        self.app = app
        self.log_requests = log_requests
        self.routes = routes
        self.on_dropped = on_dropped  # the metrics' listener_dropped

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_of(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        started = time.perf_counter() if self.log_requests else 0.0
        status = 0

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException as error:
            if status == 0:
                status = 500
            reason = dropped_reason(error)
            if reason is not None and self.on_dropped is not None:
                self.on_dropped(reason)
            raise
        finally:
            if self.log_requests:
                self.log(scope, status, started, request_id)

    def log(self, scope: Scope, status: int, started: float, request_id: str) -> None:
        client = scope.get("client")
        template = path_template(scope, self.routes)
        access_log.info(
            "%s %s %d",
            scope["method"],
            template,
            status,
            extra={
                "fields": {
                    "event": "access",
                    "method": scope["method"],
                    "path": template,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000.0, 3),
                    "request_id": request_id,
                    "client": client[0] if client else None,
                }
            },
        )


class MetricsToken:
    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str,
        metrics: Callable[[Scope, Receive, Send], Awaitable[None]],
    ) -> None:
        self.app = app
        self.expected = f"Bearer {token}".encode()
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].rstrip("/") == METRICS_PATH:
            for name, value in scope["headers"]:
                if name == b"authorization" and hmac.compare_digest(value, self.expected):
                    await self.metrics(scope, receive, send)
                    return
        await self.app(scope, receive, send)
