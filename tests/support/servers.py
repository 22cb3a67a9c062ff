"""Run an ASGI app in a real uvicorn server, on a free loopback port, in a background thread.

Tests talk to it over real sockets, exactly as a browser or a load generator would. Each server
has its own event loop, so nothing in a test can lean on the app's in-memory objects by accident.
Stopping a server and starting a new app on the same database is how tests simulate a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn

from tests.support.credentials import accepting, app_takes_test_key, stopped

_HANDED_OUT: set[int] = set()
LOWEST_PORT = 10000


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768  # Linux's default


def port_block() -> range:
    """The ports this session (this xdist worker) hands out: below the kernel's ephemeral
    range, which every ``bind(0)`` and outgoing connection takes from, and a block of its own
    per worker, so no other worker or connection can take a port between its handing out and
    its binding."""
    top = _ephemeral_low()
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
    size = (top - LOWEST_PORT) // max(count, 1)
    return range(LOWEST_PORT + worker * size, LOWEST_PORT + (worker + 1) * size)


_BLOCK = port_block()
_NEXT = iter(random.sample(_BLOCK, len(_BLOCK)))  # another session's tests may run beside


def free_port() -> int:
    """A port nothing listens on, for a process that binds it itself (a gateway, Redis, a
    proxy), which may be a second later. Never the same one twice in a session, and from this
    worker's block (``port_block``): the kernel's ephemeral ports may be handed to anyone
    meanwhile."""
    for port in _NEXT:
        if port in _HANDED_OUT:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # somebody else's
        _HANDED_OUT.add(port)
        return port
    raise RuntimeError(f"no free port left in {_BLOCK}")


def bound_socket(port: int = 0) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, telling the test thread when it listens (or gave up) instead of being
    polled for it. (Signals: uvicorn listens to them on the main thread only.)"""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        finally:
            self.ready.set()


class ServerThread:
    """The listening socket is bound here, not when the server starts: a port picked now and
    bound later could be taken in between (as the source port of any outgoing connection)."""

    def __init__(self, app: Any, port: int | None = None, **config: Any) -> None:
        self.socket = bound_socket(port or 0)
        self.port = self.socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config.setdefault("log_level", "warning")
        config.setdefault("lifespan", "on")
        config.setdefault("timeout_graceful_shutdown", 2)
        # As `multichat serve` runs: forwarding headers are for TRUSTED_PROXIES alone.
        config.setdefault("proxy_headers", False)
        self.server = _Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, **config))
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as error:  # noqa: BLE001 - reported to the test thread
            self.error = error
        finally:
            self.server.ready.set()  # whatever happened, the test thread stops waiting

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        await self.server.serve(sockets=[self.socket])

    def start(self, timeout: float = 30.0) -> ServerThread:
        self.thread.start()
        if not self.server.ready.wait(timeout):
            raise TimeoutError("server did not start")
        if not self.server.started:
            raise RuntimeError(f"server failed to start: {self.error!r}")
        accepting(self.port, app_takes_test_key(self.server.config.app))
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        self.socket.close()
        stopped(self.port)

    @classmethod
    def for_app(cls, make_app: Callable[[int], Any], **config: Any) -> ServerThread:
        """A server for an app that must know its port (in its settings): the port is bound
        before the app is made, so nothing can take it before the server listens."""
        server = cls(None, **config)
        server.server.config.app = make_app(server.port)
        return server

    def call(self, fn: Callable[[], Any], timeout: float = 10.0) -> Any:
        """Run a coroutine function on the server's loop (for test-only introspection)."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(fn(), self.loop).result(timeout)


@contextlib.contextmanager
def serve(app: Any, **config: Any) -> Iterator[ServerThread]:
    server = ServerThread(app, **config).start()
    try:
        yield server
    finally:
        server.stop()
