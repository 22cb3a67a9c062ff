"""The Starlette application and its lifespan: database, migrations, providers, turn engine.

Run it with ``multichat serve``, or ``uvicorn gateway.app:app`` for people used to that.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Route, request_response

from gateway import memory
from gateway.api import (
    API,
    ENDPOINTS,
    EXCEPTION_HANDLERS,
    build_routes,
    openapi_document,
    page_routes,
    system,
)
from gateway.api.guard import Guard
from gateway.api.headers import SecurityHeaders
from gateway.api.openai_compat import OpenAIErrors, openai_routes
from gateway.api.openai_compat.errors import reshaped_for_openai
from gateway.api.requests import METRICS_PATH, MetricsToken, RequestContext
from gateway.api.shared_view import share_routes
from gateway.auth import TrustedProxies, open_access
from gateway.observability.families import Metrics
from gateway.observability.logs import install_token_redaction
from gateway.observability.observer import install as install_observability
from gateway.observability.tracing import TurnTracer
from gateway.runtime import Runtime
from gateway.server import drain_on_stop_signals, install_routine_events_filter
from gateway.settings import Settings, load_settings, provider_configs
from gateway.turns.registry import TurnRegistry
from providers import PROVIDERS, Provider, make_adapter, make_client
from storage import EmbeddedPostgres, create_pool, migrate

log = logging.getLogger("multichat")
VERSION = "0.1.0"


def create_app(settings: Settings | None = None, *, tracer: TurnTracer | None = None) -> Starlette:
    """``tracer``: for tests; otherwise traces follow OTEL_EXPORTER_OTLP_ENDPOINT."""
    settings = settings or load_settings()
    metrics = Metrics() if settings.metrics == "on" else None
    routes = [
        *build_routes(ENDPOINTS),
        Route(f"{API}/openapi.json", system.openapi_json, include_in_schema=False),
        *system.docs_routes(),
        *page_routes(),
        *share_routes(),
        *openai_routes(),
    ]
    if metrics is not None:
        routes.append(Route(METRICS_PATH, system.metrics, include_in_schema=False))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            runtime = app.state.runtime = await start_runtime(settings, stack)
            install_observability(metrics, runtime, stack, tracer)
            # What start-up made (modules, settings, pools) lives as long as the process: frozen,
            # the collector stops scanning it (docs/benchmarks.md: GC time at 50 turns 25 → 18 ms).
            gc.freeze()
            # SIGTERM and SIGINT end every stream with its dones and end before uvicorn closes
            # the connections (gateway/server.py).
            stack.enter_context(
                drain_on_stop_signals(lambda: runtime.turns.drain(settings.shutdown_grace))
            )
            stack.callback(memory.start())  # freed memory goes back after spikes
            yield

    install_routine_events_filter()
    install_token_redaction()
    app = Starlette(
        routes=routes,
        # A bug's 500 is sent past the middleware list below: in OpenAI's shape for /v1/ here.
        exception_handlers={
            **EXCEPTION_HANDLERS,
            Exception: reshaped_for_openai(EXCEPTION_HANDLERS[Exception]),
        },
        lifespan=lifespan,
        middleware=[
            # Every response carries them, and every error of a /v1/ request is in OpenAI's
            # shape; the one response that bypasses this list (Starlette's error middleware
            # answers a bug's 500 itself) gets both from its handler (gateway/api/errors.py).
            Middleware(SecurityHeaders),
            Middleware(OpenAIErrors),
            # Who the client is, as a trusted proxy says, for everything after (the access
            # line, the guard).
            Middleware(TrustedProxies, trusted=settings.trusted_proxies),
            request_context(settings, routes, metrics),
            *access_middleware(settings),
        ],
    )
    app.state.settings = settings
    app.state.metrics = metrics
    app.state.openapi = openapi_document(ENDPOINTS, title=system.TITLE, version=VERSION)
    return app


def access_middleware(settings: Settings) -> list[Middleware]:
    """CORS for browser clients on the configured origins (preflights answered before the
    guard), then the guard: Host, Origin, and who is asking."""
    stack = []
    if settings.cors_origins:
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "PATCH", "DELETE"],
                allow_headers=[
                    "authorization",
                    "content-type",
                    "last-event-id",
                    "x-multichat-conversation-id",
                ],
                expose_headers=[
                    "x-total-count",
                    "retry-after",
                    "x-multichat-conversation-id",
                    "x-multichat-turn-id",
                ],
                max_age=600,
            )
        )
    if settings.metrics_token is not None and settings.metrics == "on":
        token = settings.metrics_token.get_secret_value()
        stack.append(
            Middleware(MetricsToken, token=token, metrics=request_response(system.metrics))
        )
    stack.append(Middleware(Guard, settings=settings))
    return stack


def request_context(settings: Settings, routes: list, metrics: Metrics | None) -> Middleware:
    """Outermost: the request id on every response, and the JSON access line."""
    return Middleware(
        RequestContext,
        log_requests=settings.log_format == "json",
        routes=routes,
        on_dropped=metrics.listener_dropped if metrics is not None else None,
    )


async def start_runtime(settings: Settings, stack: contextlib.AsyncExitStack) -> Runtime:
    dsn = await open_database(settings, stack)
    applied = await migrate(dsn)
    if applied:
        log.info("applied %d migration(s)", len(applied))
    pool = await create_pool(
        dsn,
        min_size=settings.db_pool_min,
        max_size=settings.db_pool_max,
        command_timeout=settings.db_command_timeout,
    )
    stack.push_async_callback(pool.close)
    providers = await open_providers(settings, stack)
    turns = TurnRegistry(settings, pool, providers)
    await turns.start()
    stack.push_async_callback(turns.stop)
    access = await open_access(pool, settings, turns.cancel_owned_by)
    stack.callback(access.revocations.stop)
    turns.limits.exempt = access.keys.is_admin
    return Runtime(settings=settings, pool=pool, providers=providers, turns=turns, access=access)


async def open_database(settings: Settings, stack: contextlib.AsyncExitStack) -> str:
    if settings.database_url:
        from storage.database import wait_for_database

        # docker compose starts the database beside the gateway: give it time to come up.
        await wait_for_database(settings.database_url, settings.database_wait)
        return settings.database_url
    embedded = EmbeddedPostgres(settings.data_dir)
    dsn = await asyncio.to_thread(embedded.start)
    stack.callback(embedded.stop)
    log.info(
        "using the embedded PostgreSQL in %s (set DATABASE_URL to use another)", embedded.data_dir
    )
    return dsn


async def open_providers(
    settings: Settings, stack: contextlib.AsyncExitStack
) -> dict[str, Provider]:
    simulator_root = settings.simulator_url
    if simulator_root is None and any(settings.api_key(name) is None for name in PROVIDERS):
        simulator_root = await start_simulator(stack)
    providers: dict[str, Provider] = {}
    for config in provider_configs(settings, simulator_root or ""):
        client = make_client(network=config.network)
        stack.push_async_callback(client.aclose)
        providers[config.name] = Provider(config=config, adapter=make_adapter(config, client))
        host = urlsplit(config.base_url).netloc.rpartition("@")[2]  # never a URL's userinfo
        log.info("provider %s: %s, %s", config.name, host, config.network.describe())
    simulated = [name for name, p in providers.items() if p.config.simulated]
    if simulated:
        log.info("simulated providers (no API key): %s", ", ".join(simulated))
    return providers


async def start_simulator(stack: contextlib.AsyncExitStack) -> str:
    """Serve the simulators from this process, on a free loopback port, for keyless providers."""
    import socket

    from gateway.server import start_background_server
    from providers.simulators.app import create_app as create_simulator

    sock = socket.socket()
    stack.callback(sock.close)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    stack.push_async_callback(await start_background_server(create_simulator(), sock))
    log.info("provider simulators serving on http://127.0.0.1:%d", port)
    return f"http://127.0.0.1:{port}"


def __getattr__(name: str) -> Starlette:
    # `uvicorn gateway.app:app` builds the app on first access, so importing this module
    # (as tests do) reads no settings.
    if name == "app":
        return create_app()
    raise AttributeError(name)
