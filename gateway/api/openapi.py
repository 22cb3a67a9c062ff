"""Endpoints declared once, with their models; Starlette routes and OpenAPI 3.1 come from them.

Declaring the request and response models next to the handler keeps the document honest: a
route cannot exist without appearing in it, and every schema is pydantic's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.responses import HTMLResponse
from starlette.routing import Route

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
    204: "No Content",
    400: "Malformed JSON",
    404: "Not found",
    413: "Body or prompt too large",
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
    query: tuple[dict[str, Any], ...] = field(default=())

    def routes(self) -> list[Route]:
        other = self.path[:-1] if self.path.endswith("/") else self.path + "/"
        return [
            Route(self.path, self.handler, methods=[self.method]),
            Route(other, self.handler, methods=[self.method], include_in_schema=False),
        ]


def build_routes(endpoints: Sequence[ApiEndpoint]) -> list[Route]:
    return [route for endpoint in endpoints for route in endpoint.routes()]


def openapi_document(
    endpoints: Sequence[ApiEndpoint], *, title: str, version: str
) -> dict[str, Any]:
    models = {m for e in endpoints for m in (e.body, e.response) if m is not None}
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
        "components": {"schemas": schemas},
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
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer" if kind == "int" else "string"},
        }
        for name, kind in _path_params(endpoint.path)
    ]
    parameters += list(endpoint.query)
    if parameters:
        operation["parameters"] = parameters
    if endpoint.body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(endpoint.body)}},
        }
    responses: dict[str, Any] = {}
    success: dict[str, Any] = {"description": _STATUS_TEXT.get(endpoint.status, "OK")}
    if endpoint.stream:
        success["content"] = {"text/event-stream": {"schema": {"type": "string"}}}
    elif endpoint.response is not None:
        schema = _ref(endpoint.response)
        if endpoint.response_is_list:
            schema = {"type": "array", "items": schema}
        success["content"] = {"application/json": {"schema": schema}}
    responses[str(endpoint.status)] = success
    for status in endpoint.errors:
        responses[str(status)] = {
            "description": _STATUS_TEXT.get(status, "Error"),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    operation["responses"] = responses
    return operation


def _path_params(path: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2) or "str") for m in re.finditer(r"\{(\w+)(?::(\w+))?\}", path)]


SWAGGER_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title} - Swagger UI</title>
<link rel="stylesheet" href="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/swagger-ui-bundle.js"></script>
<script>SwaggerUIBundle({{url: "{openapi_url}", dom_id: "#swagger-ui"}});</script>
</body></html>"""

REDOC_HTML = """<!doctype html>
<html><head><meta charset="utf-8"><title>{title} - ReDoc</title></head>
<body><redoc spec-url="{openapi_url}"></redoc>
<script src="https://cdn.jsdelivr.net/npm/redoc@2/bundles/redoc.standalone.js"></script>
</body></html>"""


def docs_page(template: str, *, title: str, openapi_url: str) -> HTMLResponse:
    return HTMLResponse(template.format(title=title, openapi_url=openapi_url))
