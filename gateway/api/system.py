"""Providers, health and the API documents."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.api.openapi import REDOC_HTML, SWAGGER_HTML, docs_page
from gateway.api.schemas import Health, ProviderInfo, dump
from gateway.runtime import runtime
from providers import PROVIDERS
from storage import is_unavailable

OPENAPI_URL = "/api/v1/openapi.json"
TITLE = "Multichat gateway"


async def list_providers(request: Request) -> Response:
    providers = runtime(request).providers.values()
    return JSONResponse(
        [
            dump(
                ProviderInfo(
                    name=p.config.name,
                    display_name=PROVIDERS[p.config.name].display_name,
                    model=p.config.model,
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


async def openapi_json(request: Request) -> Response:
    return JSONResponse(request.app.state.openapi)


async def swagger_ui(request: Request) -> Response:
    return docs_page(SWAGGER_HTML, title=TITLE, openapi_url=OPENAPI_URL)


async def redoc(request: Request) -> Response:
    return docs_page(REDOC_HTML, title=TITLE, openapi_url=OPENAPI_URL)
