"""Providers, health and the API documents."""

from __future__ import annotations

import functools
import hashlib

import openapi_ui_bundles
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Scope

from gateway.api.openapi import REDOC_HTML, REDOC_POLICY, SWAGGER_HTML, SWAGGER_POLICY, docs_page
from gateway.api.page import STATIC_DIR, StaticAssets
from gateway.api.paths import API
from gateway.api.schemas import Health, Liveness, ProviderInfo, Readiness, dump
from gateway.runtime import runtime
from providers import PROVIDERS, known_models
from storage import is_unavailable

OPENAPI_URL = f"{API}/openapi.json"
DOCS_STATIC_URL = f"{API}/docs/static"
TITLE = "Multichat gateway"


async def list_providers(request: Request) -> Response:
    gateway = runtime(request)
    providers = gateway.providers.values()
    priced = gateway.turns.prices.prices
    return JSONResponse(
        [
            dump(
                ProviderInfo(
                    name=p.config.name,
                    display_name=PROVIDERS[p.config.name].display_name,
                    model=p.config.model,
                    models=known_models(PROVIDERS[p.config.name], p.config.model, priced),
                    simulated=p.config.simulated,
                    health=p.health,
                )
            )
            for p in providers
        ]
    )


async def health(request: Request) -> Response:
    gateway = runtime(request)
    try:
        # A frozen database must not hold the health check up: one short deadline for
        # getting a connection and the answer.
        await gateway.pool.fetchval("SELECT 1", timeout=gateway.settings.db_health_timeout)
        database = "ok"
    except Exception as error:  # any failure to answer means "unavailable" here
        if not is_unavailable(error):
            raise
        database = "unavailable"
    status = "ok" if database == "ok" else "degraded"
    return JSONResponse(
        dump(Health(status=status, database=database)), status_code=200 if database == "ok" else 503
    )


async def database_state(request: Request) -> str:
    gateway = runtime(request)
    try:
        await gateway.pool.fetchval("SELECT 1", timeout=gateway.settings.db_health_timeout)
    except Exception as error:  # any failure to answer means "unavailable" here
        if not is_unavailable(error):
            raise
        return "unavailable"
    return "ok"


async def health_live(request: Request) -> Response:
    """The process answers: for a liveness probe, which must not depend on the database."""
    return JSONResponse(dump(Liveness(status="ok")))


# The writer is backed up when its queue is this full: answers would wait at its door.
WRITER_BACKED_UP = 0.9


async def health_ready(request: Request) -> Response:
    """For a readiness probe: the database answers, the writer keeps up, not shutting down."""
    gateway = runtime(request)
    database = await database_state(request)
    queue = gateway.turns.writer.queue
    writer = "backed_up" if queue.qsize() >= WRITER_BACKED_UP * queue.maxsize else "ok"
    draining = gateway.turns.draining
    ready = database == "ok" and writer == "ok" and not draining
    body = Readiness(
        status="ok" if ready else "unavailable", database=database, writer=writer, draining=draining
    )
    return JSONResponse(dump(body), status_code=200 if ready else 503)


async def metrics(request: Request) -> Response:
    """Prometheus' text format (gateway.observability.families)."""
    body, content_type = request.app.state.metrics.exposition()
    return Response(body, media_type=content_type)


async def openapi_json(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


async def swagger_ui(request: Request) -> Response:
    return docs_page(
        SWAGGER_HTML,
        title=TITLE,
        openapi_url=OPENAPI_URL,
        static_url=DOCS_STATIC_URL,
        policy=SWAGGER_POLICY,
    )


async def redoc(request: Request) -> Response:
    return docs_page(
        REDOC_HTML,
        title=TITLE,
        openapi_url=OPENAPI_URL,
        static_url=DOCS_STATIC_URL,
        policy=REDOC_POLICY,
    )


# What the two pages load, and nothing else: the bundles also hold demo pages that use a CDN.
DOCS_FILES = frozenset(
    {
        "swagger-ui-bundle.js",  # openapi_ui_bundles/swagger_ui/vendor
        "swagger-ui.css",
        "logo-mini.svg",  # openapi_ui_bundles/redoc/vendor
        "swagger-init.js",  # gateway/static/docs
        "docs.css",
    }
)
REDOC_SCRIPT = "redoc.standalone.js"
# ReDoc 2 always shows this logo in its menu, from Redocly's CDN: the bundle ships a copy.
REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@functools.cache
def redoc_script_bytes() -> tuple[bytes, str]:
    """ReDoc's bundle with its one CDN address turned into our copy of the file, and its ETag."""
    source = (openapi_ui_bundles.redoc.static_path / REDOC_SCRIPT).read_bytes()
    body = source.replace(REDOC_LOGO, f"{DOCS_STATIC_URL}/logo-mini.svg".encode())
    return body, f'"{hashlib.sha256(body).hexdigest()[:32]}"'


async def redoc_script(request: Request) -> Response:
    body, etag = redoc_script_bytes()
    headers = {"ETag": etag, "Cache-Control": "no-cache"}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="text/javascript", headers=headers)


class DocsAssets(StaticAssets):
    """Swagger UI and ReDoc as the openapi-ui-bundles package installs them, beside our own
    start-up script: the documentation works offline, and no file comes from a CDN."""

    def __init__(self) -> None:
        super().__init__(
            directory=STATIC_DIR / "docs",
            packages=[
                ("openapi_ui_bundles", "swagger_ui/vendor"),
                ("openapi_ui_bundles", "redoc/vendor"),
            ],
        )

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path not in DOCS_FILES:
            raise HTTPException(status_code=404)
        return await super().get_response(path, scope)


def docs_routes() -> list[BaseRoute]:
    return [
        Route(f"{API}/docs", swagger_ui, include_in_schema=False),
        Route(f"{API}/redoc", redoc, include_in_schema=False),
        Mount(
            DOCS_STATIC_URL,
            routes=[
                Route(f"/{REDOC_SCRIPT}", redoc_script, include_in_schema=False),
                Mount("", app=DocsAssets()),
            ],
            name="docs-static",
        ),
    ]
