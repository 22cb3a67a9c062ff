"""The private parts of libraries that we rely on: httpx and httpcore (providers/transport.py,
netio.py), uvicorn and sse-starlette (gateway/server.py, gateway/app.py).

pyproject.toml pins these libraries below their next minor release. Whoever lifts a pin runs
this file first: each test names the internal it checks, so a change upstream fails here, in
one clear line, instead of somewhere deep in a stream.
"""

from __future__ import annotations

import inspect

import httpcore
import httpx

from providers.netio import AsyncioBackend, AsyncioStream
from providers.transport import ShardedTransport


def test_httpx_transport_keeps_its_httpcore_pool_in_the_private_pool_attribute():
    transport = httpx.AsyncHTTPTransport()
    assert isinstance(getattr(transport, "_pool", None), httpcore.AsyncConnectionPool), (
        "httpx.AsyncHTTPTransport._pool is gone or no longer an httpcore pool: "
        "providers/transport.py replaces it to install our network backend"
    )


def test_httpcore_pool_still_takes_the_arguments_we_rebuild_it_with():
    parameters = inspect.signature(httpcore.AsyncConnectionPool.__init__).parameters
    for name in (
        "ssl_context",
        "max_connections",
        "max_keepalive_connections",
        "keepalive_expiry",
        "network_backend",
    ):
        assert name in parameters, f"httpcore.AsyncConnectionPool no longer takes {name}="


def test_every_shard_really_uses_the_asyncio_backend():
    transport = ShardedTransport(4, httpx.Limits(max_connections=40))
    for shard in transport._pools:  # noqa: SLF001
        backend = getattr(shard._pool, "_network_backend", None)  # noqa: SLF001
        assert isinstance(backend, AsyncioBackend), (
            "httpcore's pool no longer keeps its backend in _network_backend, or ignores ours"
        )


def test_our_stream_and_backend_implement_httpcore_interface_with_its_signatures():
    for ours, theirs in (
        (AsyncioStream, httpcore.AsyncNetworkStream),
        (AsyncioBackend, httpcore.AsyncNetworkBackend),
    ):
        for name, method in inspect.getmembers(theirs, inspect.isfunction):
            if name.startswith("_"):
                continue
            assert name in vars(ours), f"{ours.__name__} lacks httpcore's {theirs.__name__}.{name}"
            expected = list(inspect.signature(method).parameters)
            actual = list(inspect.signature(getattr(ours, name)).parameters)
            assert actual == expected, f"{ours.__name__}.{name}{actual} != httpcore's {expected}"


def test_uvicorn_protocol_has_the_hooks_our_head_timeout_extends():
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    for name in ("connection_made", "connection_lost", "on_message_begin", "on_headers_complete"):
        assert callable(getattr(HttpToolsProtocol, name, None)), f"HttpToolsProtocol.{name} is gone"
    source = inspect.getsource(HttpToolsProtocol.__init__)
    assert "self.access_log" in source, "UnloggedProtocol sets HttpToolsProtocol.access_log"


def test_uvicorn_server_has_what_gateway_server_overrides():
    import uvicorn

    for name in ("shutdown", "_log_started_message", "capture_signals"):
        assert callable(getattr(uvicorn.Server, name, None)), f"uvicorn.Server.{name} is gone"
    assert "self.servers" in inspect.getsource(uvicorn.Server.startup), (
        "GatewayServer.shutdown closes the listening servers in uvicorn.Server.servers"
    )
    assert "capture_signals()" in inspect.getsource(uvicorn.Server.serve), (
        "the in-process simulators' server is kept off the process's signals through it"
    )


def test_sse_starlette_can_still_be_told_not_to_cancel_streams_at_shutdown():
    from sse_starlette.sse import AppStatus, SendTimeoutError

    assert callable(AppStatus.disable_automatic_graceful_drain)
    assert issubclass(SendTimeoutError, TimeoutError)


def test_uvicorn_supervisor_makes_its_workers_by_the_name_run_workers_replaces():
    from uvicorn.supervisors import multiprocess

    assert "Process(self.config, self.sockets)" in inspect.getsource(multiprocess.Multiprocess), (
        "gateway.server.run_workers swaps multiprocess.Process for GatewayWorker"
    )
    assert isinstance(inspect.getattr_static(multiprocess.Process, "server"), property)
    assert "_server" in inspect.getsource(multiprocess.Process.__init__)
