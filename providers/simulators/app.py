"""The simulator as one ASGI app: the five provider APIs under their prefixes, plus /_sim endpoints.

Routes are matched on the path below the ASGI ``root_path``, so the app works the same served
on its own and mounted inside another app (``Mount("/_sim", app=create_app())``).

* ``GET  /_sim/stats``               ``{flavour: {requests, open, completed, aborted, faulted, rejected}}``
* ``POST /_sim/reset``               zero the counters (not ``open``), the logs and fail_times tallies
* ``GET  /_sim/requests?api=<name>`` the logged requests of a flavour (or provider name), oldest
  first; only with ``SimulatorConfig(record_requests=True)``, else 404 (it shows every prompt)
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterable, Iterator
from urllib.parse import parse_qs

import orjson
from starlette.datastructures import State

from providers.registry import PROVIDERS
from providers.simulators.anthropic import AnthropicApi
from providers.simulators.exchange import Receive, Scope, Send, quiet_drops, send_reply, serve_api
from providers.simulators.gemini import GeminiApi
from providers.simulators.knobs import SimulatorConfig
from providers.simulators.openai_chat import OpenAIApi
from providers.simulators.openai_responses import ResponsesApi
from providers.simulators.perplexity import PerplexityApi
from providers.simulators.state import SimulatorState
from providers.simulators.wire import Reply, SimulatedApi
from providers.simulators.xai import XaiApi

PREFIXES = {spec.flavour: spec.simulator_prefix for spec in PROVIDERS.values()}
FLAVOURS = tuple(PREFIXES)  # registry order: anthropic, openai, gemini, xai, perplexity
# Each flavour's APIs (OpenAI has two: Responses, which ChatGPT uses, and Chat Completions);
# they share the flavour's counters and request log.
API_CLASSES: dict[str, tuple[type[SimulatedApi], ...]] = {
    "anthropic": (AnthropicApi,),
    "openai": (ResponsesApi, OpenAIApi),
    "gemini": (GeminiApi,),
    "xai": (XaiApi,),
    "perplexity": (PerplexityApi,),
}
# /_sim/requests?api= takes a flavour or a provider name.
API_NAMES = {
    **{flavour: flavour for flavour in FLAVOURS},
    **{spec.name: spec.flavour for spec in PROVIDERS.values()},
}


class SimulatorApp:
    """A pure ASGI app; ``app.state.simulator`` is its SimulatorState (stats, logs, reset)."""

    def __init__(self, simulator: SimulatorState, flavours: Iterable[str] = FLAVOURS) -> None:
        self.state = State({"simulator": simulator})
        self.simulator = simulator
        self.exact: dict[str, SimulatedApi] = {}
        self.prefixed: list[tuple[str, SimulatedApi]] = []
        for flavour in flavours:
            for api_class in API_CLASSES[flavour]:
                api = api_class()
                path = PREFIXES[flavour] + api.endpoint
                if api.endpoint.endswith("/"):
                    self.prefixed.append((path, api))
                else:
                    self.exact[path] = api
        quiet_drops()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await lifespan(receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = route_path(scope)
        api, rest = self.route(path)
        if api is not None:
            if scope["method"] != "POST":
                await send_reply(send, not_found(scope["method"], path, status=405))
            else:
                await serve_api(api, self.simulator, scope, receive, send, rest)
            return
        await send_reply(send, self.admin(scope["method"], path, scope.get("query_string", b"")))

    def route(self, path: str) -> tuple[SimulatedApi | None, str]:
        api = self.exact.get(path)
        if api is not None:
            return api, ""
        for prefix, candidate in self.prefixed:
            if path.startswith(prefix):
                return candidate, path[len(prefix) :]
        return None, ""

    def admin(self, method: str, path: str, query: bytes) -> Reply:
        simulator = self.simulator
        if (method, path) == ("GET", "/_sim/stats"):
            return Reply(200, orjson.dumps(simulator.stats()))
        if (method, path) == ("POST", "/_sim/reset"):
            simulator.reset()
            return Reply(200, orjson.dumps(simulator.stats()))
        if (method, path) == ("GET", "/_sim/requests") and simulator.config.record_requests:
            name = parse_qs(query.decode("latin-1")).get("api", [""])[-1]
            flavour = API_NAMES.get(name)
            if flavour is None or flavour not in simulator.logs:
                message = f"api must be one of {', '.join(simulator.logs)} (or a provider name), not {name!r}"
                return Reply(400, orjson.dumps({"error": {"message": message}}))
            return Reply(200, orjson.dumps(simulator.requests(flavour)))
        return not_found(method, path)


def not_found(method: str, path: str, status: int = 404) -> Reply:
    message = f"The simulator has no route for {method} {path}."
    return Reply(
        status, orjson.dumps({"error": {"message": message, "type": "invalid_request_error"}})
    )


def route_path(scope: Scope) -> str:
    """The path below the mount point: servers and Starlette's Mount keep the full path in
    ``path`` and the mount point in ``root_path``."""
    path: str = scope["path"]
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :] or "/"
    return path


async def lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return


def create_app(config: SimulatorConfig | None = None) -> SimulatorApp:
    """All five simulated APIs, each under its registry ``simulator_prefix``, on one app."""
    return SimulatorApp(SimulatorState(config or SimulatorConfig(), FLAVOURS))


def port_plan(base_port: int) -> dict[str, int]:
    """run_many's ports: each flavour on base_port + its position in the registry."""
    return {flavour: base_port + index for index, flavour in enumerate(FLAVOURS)}


def run(
    host: str = "127.0.0.1",
    port: int = 8001,
    config: SimulatorConfig | None = None,
    *,
    log_level: str = "info",
) -> None:
    """Serve every simulated API on one port until SIGINT or SIGTERM."""
    serve_forever(host, {port: create_app(config)}, log_level)


def run_many(
    host: str = "127.0.0.1",
    base_port: int = 8101,
    config: SimulatorConfig | None = None,
    *,
    log_level: str = "info",
) -> None:
    """Serve each simulated API on its own port (see port_plan), sharing one set of stats; every
    port also answers /_sim/*."""
    simulator = SimulatorState(config or SimulatorConfig(), FLAVOURS)
    apps = {
        port: SimulatorApp(simulator, (flavour,)) for flavour, port in port_plan(base_port).items()
    }
    serve_forever(host, apps, log_level)


def serve_forever(host: str, apps: dict[int, SimulatorApp], log_level: str) -> None:
    import uvicorn
    import uvloop

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            # serve_forever owns SIGINT/SIGTERM for all its servers: uvicorn's per-server
            # handlers would replace each other.
            yield

    servers = [
        Server(
            uvicorn.Config(
                app,
                host=host,
                port=port,
                http="httptools",
                lifespan="off",
                access_log=False,
                proxy_headers=False,
                log_level=log_level,
                backlog=4096,
                timeout_graceful_shutdown=1,  # stalled streams never end by themselves
            )
        )
        for port, app in apps.items()
    ]

    async def main() -> None:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop)
        await asyncio.gather(*(server.serve() for server in servers))

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(main())
