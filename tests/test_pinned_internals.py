"""The private parts of libraries that we rely on: httpx (providers/http1.py) and uvicorn
(gateway/server.py).

pyproject.toml pins these libraries below their next minor release. Whoever lifts a pin runs
this file first: each test names the internal it checks, so a change upstream fails here, in
one clear line, instead of somewhere deep in a stream.
"""

from __future__ import annotations

import asyncio
import inspect

import httpx

from providers.http1 import Body, Http1Transport, body_reader


async def test_httpx_still_wraps_a_transports_body_where_body_reader_finds_it():
    # providers/http1.body_reader reads our Body directly; without it every chunk would take
    # httpx's iterator stack again (still correct, so only this test notices).
    server = await asyncio.start_server(serve_one_response, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    async with (
        server,
        httpx.AsyncClient(transport=Http1Transport()) as http,
        http.stream("GET", url) as response,
    ):
        assert type(getattr(response.stream, "_stream", None)) is Body, (
            "httpx no longer keeps a transport's stream in BoundAsyncStream._stream"
        )
        assert body_reader(response) == response.stream._stream.read  # noqa: SLF001
        assert await body_reader(response)() == b"ok"


async def serve_one_response(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
    await writer.drain()
    writer.close()


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


def test_uvicorn_supervisor_makes_its_workers_by_the_name_run_workers_replaces():
    from uvicorn.supervisors import multiprocess

    assert "Process(self.config, self.sockets)" in inspect.getsource(multiprocess.Multiprocess), (
        "gateway.server.run_workers swaps multiprocess.Process for GatewayWorker"
    )
    assert isinstance(inspect.getattr_static(multiprocess.Process, "server"), property)
    assert "_server" in inspect.getsource(multiprocess.Process.__init__)
