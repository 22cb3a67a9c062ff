"""The private parts of httpx and httpcore that providers/transport.py and netio.py rely on.

pyproject.toml pins both libraries below their next minor release. Whoever lifts a pin runs
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
