"""The asyncio network backend under the upstream client: plain HTTP, TLS, and failures."""

from __future__ import annotations

import asyncio
import ssl

import httpx
import pytest
import trustme

from providers.transport import ShardedTransport

BODY = b"data: one\n\ndata: two\n\n"


async def serve_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    for part in (BODY[:11], BODY[11:]):
        writer.write(b"%x\r\n%s\r\n" % (len(part), part))
        await writer.drain()
        await asyncio.sleep(0.01)
    writer.write(b"0\r\n\r\n")
    await writer.drain()


@pytest.fixture
def tls():
    authority = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server)
    client = ssl.create_default_context()
    authority.configure_trust(client)
    return server, client


def client(trust: ssl.SSLContext | None = None) -> httpx.AsyncClient:
    transport = ShardedTransport(
        4, httpx.Limits(max_connections=8), asyncio_streams=True, ssl_context=trust
    )
    return httpx.AsyncClient(transport=transport, trust_env=False)


@pytest.mark.parametrize("secure", [False, True])
async def test_streams_over_plain_and_tls(secure, tls):
    server_context, client_context = tls
    server = await asyncio.start_server(
        serve_once, "127.0.0.1", 0, ssl=server_context if secure else None
    )
    port = server.sockets[0].getsockname()[1]
    url = f"{'https' if secure else 'http'}://localhost:{port}/stream"
    async with server, client(client_context if secure else None) as http:
        for _ in range(3):  # and again on kept-alive connections
            async with http.stream("GET", url) as response:
                assert response.status_code == 200
                chunks = [chunk async for chunk in response.aiter_raw()]
            assert b"".join(chunks) == BODY
            if secure:
                assert (
                    response.extensions["network_stream"].get_extra_info("ssl_object") is not None
                )


async def test_untrusted_certificate_is_a_connect_error(tls):
    server_context, _ = tls
    server = await asyncio.start_server(serve_once, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    async with server, client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get(f"https://localhost:{port}/")


async def test_refused_connection_is_a_connect_error():
    async with client() as http:
        with pytest.raises(httpx.ConnectError):
            await http.get("http://127.0.0.1:9/")
