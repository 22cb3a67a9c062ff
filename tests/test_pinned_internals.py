"""The private parts of libraries that we rely on: httpx (providers/http1.py) and uvicorn
(gateway/adapters/uvicorn.py).

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


def test_uvicorn_still_builds_its_protocols_with_the_arguments_our_wrapper_takes():
    # gateway/adapters/uvicorn.BoundedHttpProtocol is built by uvicorn.Server with these
    # keyword arguments, and builds uvicorn's HttpToolsProtocol with them in turn.
    import uvicorn
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    source = inspect.getsource(uvicorn.Server.startup)
    for argument in ("config=config", "server_state=self.server_state", "_loop=_loop"):
        assert argument in source, f"uvicorn.Server builds its protocol without {argument}"
    assert "app_state=self.lifespan.state" in source
    parameters = inspect.signature(HttpToolsProtocol.__init__).parameters
    assert list(parameters) == ["self", "config", "server_state", "app_state", "_loop"]


def test_uvicorn_httptools_protocol_is_still_a_plain_protocol_our_wrapper_can_forward_to():
    # The wrapper forwards every asyncio.Protocol callback; the protocol must not need more
    # (say, a buffered protocol's get_buffer) nor swap itself out of the transport for HTTP.
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    for name in ("connection_made", "data_received", "eof_received", "connection_lost"):
        assert name in vars(HttpToolsProtocol), f"HttpToolsProtocol.{name} is gone"
    for name in ("pause_writing", "resume_writing"):
        assert callable(getattr(HttpToolsProtocol, name, None))
    assert not hasattr(HttpToolsProtocol, "get_buffer")
