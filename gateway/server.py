"""Serving the gateway on uvicorn: a graceful shutdown, a bound on slow request heads, files.

* ``GatewayServer`` drains the turns before uvicorn closes connections: on SIGTERM it stops
  accepting, cancels running answers, stores them ``cancelled`` and sends every listener its
  ``done``s and ``end``, so streams end as the protocol says instead of as broken bodies.
* ``HeadTimeoutProtocol`` closes connections that have not sent a complete request head
  within ``HEADER_TIMEOUT`` seconds. uvicorn bounds idle keep-alive connections, but not a
  connection that never sends a request, or sends half a header: a thousand of those would
  hold every file descriptor.
* ``RoutineEvents`` turns uvicorn's tracebacks for what is routine for a streaming server (a
  client that stopped reading was dropped, a stream was cut at shutdown) into one INFO line.
* ``raise_open_files_limit`` lifts the soft file limit to the hard one: each stream holds a
  socket, and the common default of 1,024 is far below what one gateway serves.

``HeadTimeoutProtocol`` and ``UnloggedProtocol`` extend uvicorn's httptools protocol through a
few of its methods and attributes;
pyproject.toml pins uvicorn below its next minor, and tests/test_pinned_internals.py checks
those methods are there.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.supervisors import multiprocess

from gateway.drops import SendTimeout

log = logging.getLogger("multichat")


class GatewayServer(uvicorn.Server):
    def _log_started_message(self, listeners: list[socket.socket]) -> None:  # type: ignore[override]
        super()._log_started_message(listeners)
        if self.config.uds is None and self.config.fd is None and listeners:
            log.info("Open %s", page_url(self.config.host, listeners[0].getsockname()[1]))

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:  # no new connection while the turns drain
            server.close()
        app = starlette_app(self.config.loaded_app)
        drain = getattr(app.state, "drain", None) if app is not None else None
        if drain is not None:
            await drain()
        await super().shutdown(sockets)


class RoutineEvents(logging.Filter):
    """On ``uvicorn.error``: "Exception in ASGI application" with a 100-line traceback, for a
    client that stopped reading or a stream cut at shutdown, becomes one INFO line. Anything
    else keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        routine = routine_reason(error) if error is not None else None
        if routine is not None:
            record.msg, record.args, record.exc_info, record.exc_text = routine, (), None, None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


def routine_reason(error: BaseException | None) -> str | None:
    """Why this failure is routine, or None. Starlette re-raises a failure after a response
    started as a RuntimeError caused by it, and anyio wraps it in a group: look through both."""
    for _ in range(5):
        while isinstance(error, BaseExceptionGroup) and len(error.exceptions) == 1:
            error = error.exceptions[0]
        if isinstance(error, SendTimeout):
            return "dropped a client that stopped reading (it may resume with Last-Event-ID)"
        if isinstance(error, asyncio.CancelledError):
            return "closed a connection that was still open at shutdown"
        if error is None:
            return None
        error = error.__cause__
    return None


def install_routine_events_filter() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, RoutineEvents) for f in logger.filters):
        logger.addFilter(RoutineEvents())


def page_url(host: str, port: int) -> str:
    """Where a person on this machine opens the page: a wildcard address is not a URL."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def starlette_app(app: object) -> Starlette | None:
    """The Starlette app under uvicorn's middleware (proxy headers, message logger ...)."""
    for _ in range(10):
        if isinstance(app, Starlette):
            return app
        app = getattr(app, "app", None)
    return None


class HeadTimeoutProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, closing connections whose request head is too slow."""

    _head_timer: asyncio.TimerHandle | None = None

    def __init__(self, config: uvicorn.Config, *args: object, **kwargs: object) -> None:
        super().__init__(config, *args, **kwargs)  # type: ignore[arg-type]
        # Kept on the config (see serve_config), which uvicorn hands to each worker process.
        self.head_timeout: float = getattr(config, "header_timeout", 5.0)

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_head_timer()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._arm_head_timer()  # a keep-alive connection's next request: its head is bounded too

    def on_headers_complete(self) -> None:
        self._disarm_head_timer()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_head_timer()
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout, self._head_timed_out)

    def _disarm_head_timer(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if not self.transport.is_closing():
            self.transport.close()


class UnloggedProtocol(HttpToolsProtocol):
    """No access log for this server (the in-process simulators), without touching the
    ``uvicorn.access`` logger that the gateway's own server writes to."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.access_log = False


def serve_config(app: object, settings, workers: int = 1, **logging: object) -> uvicorn.Config:
    """uvicorn's config for the gateway, its request-head timeout included; ``logging`` is
    uvicorn's ``log_config``/``access_log`` when the logs are JSON."""
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        workers=workers,
        loop="uvloop",
        http=HeadTimeoutProtocol,
        # The turns drain first (SHUTDOWN_GRACE); then uvicorn waits for the last writes.
        timeout_graceful_shutdown=settings.shutdown_grace + 5,
        log_level=settings.log_level,
        **logging,  # type: ignore[arg-type]
    )
    config.header_timeout = settings.header_timeout  # type: ignore[attr-defined]
    return config


class GatewayWorker(multiprocess.Process):
    """One of ``--workers N``: uvicorn's worker process, serving with a GatewayServer (so each
    worker drains its turns on SIGTERM)."""

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = GatewayServer(config=self.config)
        return self._server


def run_workers(config: uvicorn.Config) -> None:
    # uvicorn's supervisor makes its workers by this module-level name; the class is ours, in
    # an importable module, so a spawned worker unpickles it (pinned: test_pinned_internals).
    multiprocess.Process = GatewayWorker  # type: ignore[misc]
    multiprocess.Multiprocess(config, sockets=[config.bind_socket()]).run()


def raise_open_files_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit; returns the limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = max(soft, 1_048_576) if hard == resource.RLIM_INFINITY else hard
    if target <= soft:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        return soft
    return target
