"""Serving the gateway on uvicorn, through its public API: ``Config``, ``Server``,
``Multiprocess`` and the logging module.

* **Drain on SIGTERM/SIGINT.** ``drain_on_stop_signals`` (entered by the app's lifespan) adds
  the turns' drain to whatever stop handler the process has: uvicorn's, in the one process
  of ``multichat serve`` and in each worker of ``--workers N`` alike (and under a plain
  ``uvicorn gateway.app:app``). uvicorn then stops accepting connections and waits for the
  open ones, while the drain cancels the running answers, stores them ``cancelled`` and sends
  every listener its ``done``s and ``end``: streams end as the protocol says.
* **Bounded requests.** Heads must come whole within ``HEADER_TIMEOUT`` and be at most
  ``MAX_HEAD_BYTES`` (else 431); bodies must come whole within ``BODY_TIMEOUT``. uvicorn has
  no option for these: ``gateway.adapters.uvicorn`` says why, and is the one place that
  touches its insides.
* **Routine drops are one line.** ``RoutineEvents`` turns uvicorn's tracebacks for what is
  routine for a streaming server (a client that stopped reading was dropped, a stream was cut
  at shutdown) into one INFO line.
* **Where to open the page**, once the server listens; ``raise_open_files_limit`` lifts the
  soft file limit to the hard one: each stream holds a socket, and the common default of
  1,024 is far below what one gateway serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
import resource
import signal
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator

import uvicorn
import uvloop
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.supervisors import Multiprocess

from gateway.adapters.uvicorn import BoundedHttpProtocol, HttpLimits
from gateway.drops import SendTimeout

log = logging.getLogger("multichat")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


# -- running ------------------------------------------------------------------------------------


def serve_config(
    app: ASGIApp | str, settings, workers: int = 1, **logging: object
) -> uvicorn.Config:
    """uvicorn's config for the gateway; ``logging`` is uvicorn's ``log_config``/``access_log``
    when the logs are JSON."""
    BoundedHttpProtocol.limits = HttpLimits.of(settings)
    return uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        workers=workers,
        loop="uvloop",
        http=BoundedHttpProtocol,
        ws="none",
        # The turns drain first (SHUTDOWN_GRACE); then uvicorn waits for the last writes.
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace) + 5,
        log_level=settings.log_level,
        # Off: forwarding headers are believed from TRUSTED_PROXIES only (gateway.auth.proxies);
        # uvicorn's own handling would trust 127.0.0.1 whatever that says.
        proxy_headers=False,
        **logging,  # type: ignore[arg-type]  # uvicorn.Config's own logging options, passed through
    )


def serve(config: uvicorn.Config) -> bool:
    """Serve in this process until a stop signal; True if the server had started."""
    server = uvicorn.Server(config)
    sock = config.bind_socket()  # says "Uvicorn running on ..."

    async def run() -> None:
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        while not server.started:
            if serving.done():
                break
            await asyncio.sleep(0.05)
        if server.started and config.uds is None and config.fd is None:
            announce(config.host, sock.getsockname()[1], config.loaded_app)
        await serving

    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run())
    except KeyboardInterrupt:
        # Ctrl-C: the drain is done by then. uvicorn re-raises the signal it caught once the
        # server has stopped, which asyncio turns into KeyboardInterrupt: no traceback for it.
        pass
    finally:
        sock.close()
    return server.started


def run_workers(config: uvicorn.Config) -> None:
    """``--workers N``: uvicorn's supervisor, each worker a plain uvicorn server of the app
    (built from the environment), whose lifespan drains its turns on a stop signal."""
    Multiprocess(config, sockets=[config.bind_socket()]).run()


def announce(host: str, port: int, app: object = None, sign_in_key: str | None = None) -> None:
    """Where to open the page: with the first key, the address that signs a browser in."""
    state = starlette_state(app)
    settings = getattr(state, "settings", None)
    access = getattr(getattr(state, "runtime", None), "access", None)
    base = (getattr(settings, "public_url", None) or page_url(host, port)).rstrip("/") + "/"
    for line in sign_in_lines(base, getattr(access, "sign_in_key", None) or sign_in_key, settings):
        log.info("%s", line)


def sign_in_lines(base: str, key: str | None, settings: object) -> list[str]:
    """The key rides in the fragment, which a browser sends to no server (no access log, no
    proxy log): the page posts it to /api/v1/session and takes it out of the address bar."""
    if getattr(settings, "auth", None) == "off":
        return [f"Open {base} (AUTH=off: the gateway trusts every request)"]
    if key:
        return [
            f"Open {base}#key={key} to sign in (the first client key, an admin)",
            f"For curl and the load test: export MULTICHAT_KEY={key}",
        ]
    return [f"Open {base} and sign in with a client key (multichat keys create --name NAME)"]


def starlette_state(app: object) -> object:
    """The app's state under uvicorn's wrappers (proxy headers, message logger ...)."""
    for _ in range(10):
        if app is None or hasattr(app, "state"):
            return getattr(app, "state", None)
        app = getattr(app, "app", None)
    return None


def page_url(host: str, port: int) -> str:
    """Where a person on this machine opens the page: a wildcard address is not a URL."""
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


# -- draining on a stop signal --------------------------------------------------------------------


@contextlib.contextmanager
def drain_on_stop_signals(drain: Callable[[], Awaitable[object]]) -> Iterator[None]:
    """While inside: SIGTERM and SIGINT start ``drain`` (once), then do what they did before
    (uvicorn's handler: stop accepting, wait for the open connections, which the drain ends).
    Only on the main thread, where signal handlers live, and only over a handler of Python's:
    a process that dies by default on SIGTERM keeps doing so."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    draining: list[asyncio.Task] = []

    def start_drain() -> None:
        if not draining:
            draining.append(loop.create_task(drain(), name="drain"))  # type: ignore[arg-type]  # drain is a coroutine function: typeshed cannot tell from app.state

    def handler(sig: int, frame) -> None:
        loop.call_soon_threadsafe(start_drain)
        before = previous[signal.Signals(sig)]
        if callable(before):
            before(sig, frame)

    chained = [sig for sig, before in previous.items() if callable(before)]
    for sig in chained:
        signal.signal(sig, handler)
    try:
        yield
    finally:
        for sig in chained:
            if signal.getsignal(sig) is handler:
                signal.signal(sig, previous[sig])


# -- a second server in the same process (the simulators) ---------------------------------------

_QUIET = contextvars.ContextVar("multichat_unlogged", default=False)


class Unlogged:
    """ASGI wrapper: the requests of this app are left out of ``uvicorn.access``, which the
    gateway's own server writes to (``QuietAccess`` reads the mark in the request's task)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        _QUIET.set(True)
        await self.app(scope, receive, send)


class QuietAccess(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not _QUIET.get()


async def start_background_server(app: ASGIApp, sock: socket.socket) -> Callable[[], Awaitable]:
    """Serve ``app`` on ``sock`` from this event loop, unlogged and deaf to signals (they are
    the gateway's: a second server taking SIGTERM would stop the simulators under the answers
    the gateway is still draining); returns what stops it."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QuietAccess) for f in access.filters):
        access.addFilter(QuietAccess())
    config = uvicorn.Config(
        Unlogged(app),
        lifespan="off",
        # No level, no logging config: either would reconfigure uvicorn's loggers, which the
        # gateway's own server shares.
        log_level=None,
        log_config=None,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    on_main_thread = threading.current_thread() is threading.main_thread()
    handlers = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS} if on_main_thread else {}
    task = asyncio.create_task(server.serve(sockets=[sock]), name="background-server")
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
    finally:
        # uvicorn.Server.serve took the stop signals on the main thread: give them back.
        for sig, handler in handlers.items():
            signal.signal(sig, handler)

    async def stop() -> None:
        server.should_exit = True
        await asyncio.gather(task, return_exceptions=True)

    return stop


# -- logging --------------------------------------------------------------------------------------


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
