"""The upstream client's own HTTP/1.1 transport (providers/transport/): plain HTTP, TLS with
ALPN, connection reuse (never sending a request twice), informational responses, the read
timeout of every body read, truncated and malformed bodies, the connection bound, and respx
over it. Proxies and CAs: tests/test_proxies.py."""

from __future__ import annotations

import asyncio
import socket
import ssl

import httpx
import pytest
import respx
import trustme

from providers import make_client
from providers.transport import Body, Http1Transport, Network, body_reader

pytestmark = pytest.mark.integration

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
    writer.close()  # one response per connection: the client's next request may race this


@pytest.fixture
def tls(tmp_path):
    """A server context with a certificate for localhost, and a client context trusting its
    CA (whose file is tmp_path/ca.pem)."""
    authority = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("localhost").configure_cert(server)
    client = ssl.create_default_context()
    authority.configure_trust(client)
    authority.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    return server, client


def client(trust: ssl.SSLContext | None = None, connections: int = 8) -> httpx.AsyncClient:
    transport = Http1Transport(httpx.Limits(max_connections=connections), ssl_context=trust)
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
                assert response.headers["content-type"] == "text/event-stream"
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


async def serve_keep_alive(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers every request on the connection, each with its connection's request count."""
    served = 0
    while True:
        try:
            await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            break
        served += 1
        body = b"request %d" % served
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
    writer.close()


async def test_a_connection_is_reused_once_its_body_was_read_and_not_when_cut_short():
    server = await asyncio.start_server(serve_keep_alive, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    async with server, client() as http:
        assert (await http.get(url)).text == "request 1"
        assert (await http.get(url)).text == "request 2"  # the same connection
        async with http.stream("GET", url) as response:
            assert response.status_code == 200  # closed without reading its body
        assert (await http.get(url)).text == "request 1"  # so a new connection


async def test_the_fast_reader_gives_the_bytes_of_each_read():
    server = await asyncio.start_server(serve_once, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    async with server, client() as http, http.stream("GET", url) as response:
        read = body_reader(response)
        chunks = []
        while chunk := await read():
            chunks.append(chunk)
    assert b"".join(chunks) == BODY
    assert len(chunks) == 2  # each written part, as the server sent it


async def test_the_fast_reader_is_found_through_httpx_public_api():
    # The Body rides in the response's extensions: no private httpx attribute, no iterator
    # stack per chunk (a reader from aiter_raw would still be correct: only this test knows).
    server = await asyncio.start_server(serve_once, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    async with server, client() as http, http.stream("GET", url) as response:
        read = body_reader(response)
        assert type(getattr(read, "__self__", None)) is Body
        assert await read() == BODY[:11]


@pytest.mark.parametrize(
    "reply",
    [
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n",  # no last chunk
        b"HTTP/1.1 200 OK\r\ncontent-length: 50\r\n\r\nshort",
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n",  # malformed
    ],
    ids=["chunked", "content-length", "malformed"],
)
async def test_a_body_cut_short_or_malformed_is_a_protocol_error(reply):
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(reply)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    async with server, client() as http:
        with pytest.raises(httpx.RemoteProtocolError):
            await http.get(url)


async def test_a_request_body_and_its_headers_reach_the_server():
    received: list[bytes] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
        received.append(head + await reader.readexactly(length))
        writer.write(b"HTTP/1.1 204 No Content\r\n\r\n")
        await writer.drain()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server, client() as http:
        response = await http.post(f"http://127.0.0.1:{port}/v1/x?alt=sse", json={"a": 1})
    assert response.status_code == 204
    assert received[0].startswith(b"POST /v1/x?alt=sse HTTP/1.1\r\n")
    assert b"\r\ncontent-type: application/json\r\n" in received[0].lower()
    assert received[0].endswith(b'\r\n\r\n{"a":1}') or received[0].endswith(b'{"a": 1}')


async def test_over_the_connection_bound_a_request_waits_for_a_free_connection():
    release, arrived = asyncio.Event(), asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        arrived.set()
        await release.wait()
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    async with server, client(connections=1) as http:
        first = asyncio.create_task(http.get(url))
        await arrived.wait()  # the first request holds the only connection
        with pytest.raises(httpx.PoolTimeout):
            await http.get(url, timeout=httpx.Timeout(5.0, pool=0.1))
        second = asyncio.create_task(http.get(url))
        release.set()
        assert (await first).text == "ok"
        assert (await second).text == "ok"  # it got the slot the first one freed


async def test_respx_mocks_the_gateways_own_client():
    # respx's default mocker patches httpcore, which this transport does not use; its httpx
    # mocker works on any transport.
    async with make_client(max_streams=4) as http:
        with respx.mock(using="httpx") as router:
            router.get("https://api.example/x").respond(200, text="mocked")
            response = await http.get("https://api.example/x")
    assert response.text == "mocked"


# -- what an exchange must get right ------------------------------------------------------------


async def test_informational_responses_are_skipped():
    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(
            b"HTTP/1.1 100 Continue\r\n\r\n"
            b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>; rel=preload\r\n\r\n"
        )
        await writer.drain()
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-final: yes\r\n\r\nfinal")
        await writer.drain()
        await reader.read()  # until the client closes: the connection stays reusable
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    async with server, client() as http:
        response = await http.post(url, content=b"{}")
    assert (response.status_code, response.text) == (200, "final")
    assert response.headers["x-final"] == "yes" and "link" not in response.headers
    assert response.extensions["reason_phrase"] == b"OK"


class KeepAliveServer:
    """Answers the first request of each connection and keeps it open; what happens to a second
    request on it is ``second``: "close" reads it and closes without an answer."""

    def __init__(self, second: str = "close") -> None:
        self.second = second
        self.requests: list[bytes] = []
        self.connections = 0
        self.writers: list[asyncio.StreamWriter] = []

    async def __call__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.writers.append(writer)
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
                self.requests.append(head + await reader.readexactly(length))
                served += 1
                if served == 2 and self.second == "close":
                    break
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


async def test_a_request_is_never_sent_twice_by_the_pool():
    # The second POST reaches the server on a kept-alive connection, which then closes
    # without an answer. It may have started (and billed) a generation: the caller's retry
    # policy decides whether to send it again, so the transport raises instead of resending.
    upstream = KeepAliveServer(second="close")
    server = await asyncio.start_server(upstream, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/v1/messages"
    async with server, client() as http:
        assert (await http.post(url, content=b"first")).text == "ok"
        with pytest.raises(httpx.RemoteProtocolError):
            await http.post(url, content=b"second")
    assert [request.endswith(b"second") for request in upstream.requests] == [False, True]
    assert upstream.connections == 1


async def test_a_kept_alive_connection_closed_by_the_server_is_not_written_to():
    # The server's close has reached this host but not yet the event loop's handlers (the
    # shutdown below runs in the client's task, and nothing is awaited before the request):
    # the pool must see it before writing a byte, and open a new connection.
    upstream = KeepAliveServer(second="answer")
    server = await asyncio.start_server(upstream, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    async with server, client() as http:
        assert (await http.post(url, content=b"first")).text == "ok"
        upstream.writers[0].get_extra_info("socket").shutdown(socket.SHUT_RDWR)
        assert (await http.post(url, content=b"second")).text == "ok"
    assert upstream.connections == 2
    assert [request.endswith(b"second") for request in upstream.requests] == [False, True]


async def test_every_body_read_has_the_read_timeout():
    release = asyncio.Event()

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await release.wait()  # then nothing more
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/"
    async with server, client() as http:
        timeout = httpx.Timeout(5.0, read=0.2)
        async with http.stream("GET", url, timeout=timeout) as response:
            read = body_reader(response)
            assert await read() == b"first"
            with pytest.raises(httpx.ReadTimeout):
                async with asyncio.timeout(30):  # a bound for the old code, which waited on
                    await read()
        release.set()


async def test_tls_offers_http_1_1_by_alpn(tls, tmp_path):
    server_context, _ = tls
    server_context.set_alpn_protocols(["h2", "http/1.1"])
    chosen: list[str | None] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        chosen.append(writer.get_extra_info("ssl_object").selected_alpn_protocol())
        await serve_once(reader, writer)

    server = await asyncio.start_server(serve, "127.0.0.1", 0, ssl=server_context)
    port = server.sockets[0].getsockname()[1]
    network = Network(ca_file=str(tmp_path / "ca.pem"))  # the providers' own context
    async with server, make_client(max_streams=2, network=network) as http:
        assert (await http.get(f"https://localhost:{port}/")).status_code == 200
    assert chosen == ["http/1.1"]
