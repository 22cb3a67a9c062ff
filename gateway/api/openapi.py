"""Endpoints declared once, with their models; Starlette routes and OpenAPI 3.1 come from them.

Declaring the request and response models next to the handler keeps the document honest: a
route cannot exist without appearing in it, and every schema is pydantic's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

MAX_ID = 2**63 - 1  # a database id is a PostgreSQL bigint


class IdConvertor(Convertor[int]):
    """``{name:id}``: a database id. Starlette's ``int`` calls int() on any number of digits,
    which raises beyond 4300 of them (a 500); an id this long is no id, and answers 404."""

    regex = "[0-9]+"

    def convert(self, value: str) -> int:
        digits = value.lstrip("0")
        return int(digits) if 0 < len(digits) <= len(str(MAX_ID)) else 0  # 0 is nobody's id

    def to_string(self, value: int) -> str:
        return str(value)


register_url_convertor("id", IdConvertor())

# How each kind of path parameter is documented.
PATH_SCHEMAS: dict[str, dict[str, Any]] = {
    "id": {"type": "integer", "minimum": 1, "maximum": MAX_ID},
    "int": {"type": "integer"},
    "str": {"type": "string"},
}

ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "message"],
            "properties": {
                "type": {"type": "string"},
                "message": {"type": "string"},
                "details": {"type": "array", "items": {"type": "object"}},
            },
        }
    },
}

_STATUS_TEXT = {
    200: "OK",
    201: "Created",
    202: "Accepted: it runs; follow its events",
    204: "No Content",
    400: "Malformed JSON",
    401: "A client key is required (once keys exist), or it is wrong or revoked",
    403: "A state-changing request from an origin that is not allowed",
    404: "Not found (or another key's)",
    405: "Method not allowed (the Allow header lists the path's methods)",
    409: "Conflicts with the turn's state (voted already, not blind, or a provider still answering)",
    413: "Body or prompt too large",
    415: "The body is not application/json",
    421: "A Host this gateway does not answer to",
    422: "Invalid field",
    429: "Over a limit",
    503: "Database unavailable",
}


@dataclass(frozen=True)
class ApiEndpoint:
    method: str
    path: str  # canonical path as documented; the other trailing-slash form is accepted too
    handler: Callable[..., Any]
    summary: str
    tag: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    response_is_list: bool = False
    status: int = 200
    errors: tuple[int, ...] = ()
    stream: bool = False  # the response is text/event-stream
    events: dict[str, type[BaseModel]] = field(default_factory=dict)  # a stream's, by name
    query: tuple[dict[str, Any], ...] = field(default=())
    body_optional: bool = False  # an empty body is allowed (and needs no content type)
    no_content: bool = False  # may also answer 204 (a stream with nothing left to send)
    path_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    public: bool = False  # readable without a client key (the guard's PUBLIC_PATHS agree)
    # Other media types of the success response, besides the JSON of ``response``.
    other_content: dict[str, dict[str, Any]] = field(default_factory=dict)
    # A request body that is not JSON (an upload's multipart form), by media type.
    body_content: dict[str, dict[str, Any]] = field(default_factory=dict)
    description: str | None = None  # the operation's longer explanation (Markdown)


def build_routes(endpoints: Sequence[ApiEndpoint]) -> list[Route]:
    """One route per path (and its other trailing-slash form), whatever its methods: a wrong
    method then gets a 405 whose Allow header lists every method of the path, not one."""
    handlers: dict[str, dict[str, Callable[..., Any]]] = {}
    for endpoint in endpoints:
        handlers.setdefault(endpoint.path, {})[endpoint.method] = endpoint.handler
    routes = []
    for path, by_method in handlers.items():
        handler = _by_method(by_method)
        other = path[:-1] if path.endswith("/") else path + "/"
        routes += [
            Route(path, handler, methods=list(by_method)),
            Route(other, handler, methods=list(by_method), include_in_schema=False),
        ]
    return routes


def _by_method(handlers: dict[str, Callable[..., Any]]) -> Callable[..., Any]:
    if len(handlers) == 1:
        return next(iter(handlers.values()))

    async def handler(request: Request) -> Response:
        # The route only lets its own methods through; HEAD is GET without the body.
        return await handlers["GET" if request.method == "HEAD" else request.method](request)

    handler.__name__ = "_".join(h.__name__ for h in handlers.values())
    return handler


def openapi_document(
    endpoints: Sequence[ApiEndpoint], *, title: str, version: str
) -> dict[str, Any]:
    models = {m for e in endpoints for m in (e.body, e.response) if m is not None}
    models |= {m for e in endpoints for m in e.events.values()}
    _, defs = models_json_schema(
        [(model, "validation") for model in sorted(models, key=lambda m: m.__name__)],
        ref_template="#/components/schemas/{model}",
    )
    schemas = dict(defs.get("$defs", {}))
    schemas["Error"] = ERROR_SCHEMA
    paths: dict[str, dict[str, Any]] = {}
    for endpoint in endpoints:
        paths.setdefault(_openapi_path(endpoint.path), {})[endpoint.method.lower()] = _operation(
            endpoint
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {"schemas": schemas, "securitySchemes": SECURITY_SCHEMES},
        # Open mode (loopback, no client keys) needs nothing; once keys exist, one of these.
        "security": [{"bearer": []}, {"session": []}, {}],
    }


SECURITY_SCHEMES = {
    "bearer": {
        "type": "http",
        "scheme": "bearer",
        "description": "A client key (`multichat keys create`), sent as Authorization: Bearer",
    },
    "session": {
        "type": "apiKey",
        "in": "cookie",
        "name": "multichat_session",
        "description": "Set by POST /api/v1/session; the page's EventSource sends it",
    },
    "eventsToken": {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "The short-lived token of one turn, in the events_url of POST /turns",
    },
}


def _openapi_path(path: str) -> str:
    # Starlette's "{id:int}" becomes OpenAPI's "{id}".
    return re.sub(r"\{(\w+):\w+\}", r"{\1}", path)


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation(endpoint: ApiEndpoint) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": endpoint.summary,
        "tags": [endpoint.tag],
        "operationId": f"{endpoint.method.lower()}_{endpoint.handler.__name__}",
    }
    if endpoint.description:
        operation["description"] = endpoint.description
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": endpoint.path_schemas.get(name, PATH_SCHEMAS[kind]),
        }
        for name, kind in _path_params(endpoint.path)
    ]
    parameters += list(endpoint.query)
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": not endpoint.body_optional,
            "content": {"application/json": {"schema": _ref(endpoint.body)}},
        }
    elif endpoint.body_content:
        operation["requestBody"] = {"required": True, "content": endpoint.body_content}
    responses: dict[str, Any] = {}
    success: dict[str, Any] = {"description": _STATUS_TEXT.get(endpoint.status, "OK")}
    if endpoint.stream:
        success["content"] = {"text/event-stream": {"schema": _event_schema(endpoint.events)}}
    elif endpoint.response is not None:
        schema: dict[str, Any] = _ref(endpoint.response)
        if endpoint.response_is_list:
            schema = {"type": "array", "items": schema}
        success["content"] = {"application/json": {"schema": schema}}
    if endpoint.other_content:
        success["content"] = {**success.get("content", {}), **endpoint.other_content}
    responses[str(endpoint.status)] = success
    if endpoint.no_content:
        responses["204"] = {"description": "Nothing left to send: an EventSource stops here"}
    errors = {*endpoint.errors, 405, 421}
    if endpoint.body is not None or endpoint.body_content:
        errors |= {400, 413, 415, 422}
    if endpoint.method in ("POST", "PUT", "PATCH", "DELETE"):
        errors.add(403)  # a cross-site origin
    if endpoint.public:
        operation["security"] = [{}]
    else:
        errors.add(401)
        if endpoint.stream and endpoint.method == "GET":
            operation["security"] = [{"bearer": []}, {"session": []}, {"eventsToken": []}, {}]
    for status in sorted(errors):
        responses[str(status)] = {
            "description": _STATUS_TEXT.get(status, "Error"),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    responses["405"]["headers"] = {
        "Allow": {
            "description": "The methods this path answers",
            "required": True,
            "schema": {"type": "string"},
        }
    }
    operation["responses"] = responses
    return operation


def _event_schema(events: dict[str, type[BaseModel]]) -> dict[str, Any]:
    """One event of the stream (as OpenAPI 3.1 reads ``schema`` for text/event-stream): an
    integer id, a known name, and one line of JSON whose shape goes with the name."""
    return {
        "oneOf": [
            {
                "type": "object",
                "required": ["id", "event", "data"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[1-9][0-9]*$"},
                    "event": {"const": name},
                    "data": {
                        "type": "string",
                        "contentMediaType": "application/json",
                        "contentSchema": _ref(model),
                    },
                },
            }
            for name, model in events.items()
        ]
    }


def _path_params(path: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2) or "str") for m in re.finditer(r"\{(\w+)(?::(\w+))?\}", path)]


# The two documentation pages load only same-origin files (gateway.api.system serves them from
# the openapi-ui-bundles package), with no inline script: each page's policy allows just what
# its viewer needs.
SWAGGER_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - Swagger UI</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{static}/swagger-ui.css">
<link rel="stylesheet" href="{static}/docs.css"></head>
<body><div id="swagger-ui" data-openapi-url="{openapi_url}"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script src="{static}/swagger-init.js"></script>
</body></html>"""

REDOC_HTML = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title} - ReDoc</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="{static}/docs.css"></head>
<body><redoc spec-url="{openapi_url}"></redoc>
<script src="{static}/redoc.standalone.js"></script>
</body></html>"""

_DOCS_POLICY = (
    "default-src 'none'",
    "script-src 'self'",
    "img-src 'self' data:",  # the viewers' icons are data: URLs in their CSS
    "connect-src 'self'",  # the OpenAPI document, and Swagger UI's "Try it out"
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
)
SWAGGER_POLICY = "; ".join((*_DOCS_POLICY, "style-src 'self'"))
# ReDoc styles itself with <style> elements it writes at run time (styled-components) and runs
# its search index in a Worker made from a blob: URL.
REDOC_POLICY = "; ".join((*_DOCS_POLICY, "style-src 'self' 'unsafe-inline'", "worker-src blob:"))


def docs_page(
    template: str, *, title: str, openapi_url: str, static_url: str, policy: str
) -> HTMLResponse:
    html = template.format(
        title=escape(title), openapi_url=escape(openapi_url), static=escape(static_url)
    )
    headers = {"Content-Security-Policy": policy, "Cache-Control": "no-cache"}
    return HTMLResponse(html, headers=headers)
