"""Providers reached through real CONNECT proxies, over TLS with certificates from a private CA.

The proxies are processes: Debian's tinyproxy, and tests/support/connect_proxy.py where a test needs a
name only the proxy can resolve or TLS to the proxy. The upstream is a real TLS server; each
call goes through the Claude adapter, as the gateway makes it, so the failures are checked as
users see them: a ``connect_error`` whose message says what failed and never a credential.
The whole gateway over HTTPS through a proxy, replaying every recorded stream:
tests/test_gateway_behind_a_proxy.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import pytest

from providers import Message, ProviderConfig, ProviderError, make_adapter, make_client
from providers.base import Event
from providers.transport import Network, network_for
from tests.support.proxies import Certificates, ConnectProxy, TinyProxy

pytestmark = pytest.mark.integration  # proxies, TLS servers and upstreams, all processes or sockets

SECRET = "pr0xy-pa55word"
NAME = "api.claude.test"  # only tests/support/connect_proxy.py resolves it (to 127.0.0.1)
ANSWER = (
    b'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":3,'
    b'"output_tokens":1}}}\n\n'
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":'
    b'{"type":"text_delta","text":"through"}}\n\n'
    b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"end_turn"},'
    b'"usage":{"output_tokens":2}}\n\n'
    b'event: message_stop\ndata: {"type":"message_stop"}\n\n'
)


class Upstream:
    """A server (TLS with ``certificates``) answering every request with ANSWER; it records
    each request's line and Host header."""

    def __init__(self, certificates: Certificates | None, client_ca: Path | None = None) -> None:
        self.context = certificates.server_context(client_ca) if certificates else None
        self.lines: list[bytes] = []
        self.hosts: list[str] = []
        self.server: asyncio.Server | None = None

    async def __aenter__(self) -> Upstream:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0, ssl=self.context)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()

    @property
    def port(self) -> int:
        assert self.server is not None
        return self.server.sockets[0].getsockname()[1]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()
            return
        line, *fields = head.split(b"\r\n")
        pairs = (field.split(b":", 1) for field in fields if b":" in field)
        headers = {name.strip().lower(): value.strip() for name, value in pairs}
        await reader.readexactly(int(headers.get(b"content-length", b"0")))
        self.lines.append(line)
        self.hosts.append(headers[b"host"].decode())
        writer.write(
            b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (len(ANSWER), ANSWER)
        )
        await writer.drain()
        writer.close()


async def ask(base_url: str, network: Network) -> list[Event]:
    """One answer through the Claude adapter, as the gateway asks for it; one attempt."""
    config = ProviderConfig(
        name="claude",
        base_url=base_url,
        model="m",
        api_key="sk-ant-test",
        max_attempts=1,
        connect_timeout=10.0,
        network=network,
    )
    async with make_client(max_streams=4, network=network) as http:
        adapter = make_adapter(config, http)
        return [event async for event in adapter.stream([Message("user", "hi")])]


async def failure(base_url: str, network: Network) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        await ask(base_url, network)
    error = raised.value
    assert error.type == "connect_error", error
    assert SECRET not in error.message
    return error


def texts(events: list[Event]) -> list[str]:
    return [event for event in events if isinstance(event, str)]


@pytest.fixture
def certificates(tmp_path) -> Certificates:
    return Certificates.make(tmp_path / "upstream", "localhost", NAME)


@pytest.fixture
def ca(certificates) -> Mapping[str, str]:
    """The environment that trusts the private CA, the standard way."""
    return {"SSL_CERT_FILE": str(certificates.ca_file)}


@pytest.fixture
async def upstream(certificates) -> AsyncIterator[Upstream]:
    async with Upstream(certificates) as server:
        yield server


@pytest.fixture
def tinyproxy(tmp_path):
    started: list[TinyProxy] = []

    def start(**options) -> TinyProxy:
        proxy = TinyProxy(tmp_path, **options)
        started.append(proxy)
        return proxy.start()

    yield start
    for proxy in started:
        proxy.stop()


@pytest.fixture
def connect_proxy(tmp_path):
    started: list[ConnectProxy] = []

    def start(**options) -> ConnectProxy:
        proxy = ConnectProxy(tmp_path, {NAME: "127.0.0.1"}, **options)
        started.append(proxy)
        return proxy.start()

    yield start
    for proxy in started:
        proxy.stop()


# -- through tinyproxy ----------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["own", "httpx"])
async def test_https_through_tinyproxy_trusting_the_ca_of_ssl_cert_file(
    transport, upstream, tinyproxy, ca
):
    proxy = tinyproxy()
    url = f"https://localhost:{upstream.port}"
    network = network_for(url, ca, prefix="CLAUDE_", proxy=proxy.url, transport=transport)
    assert texts(await ask(url, network)) == ["through"]
    assert any(f"localhost:{upstream.port}" in line for line in proxy.connects())


@pytest.mark.parametrize("transport", ["own", "httpx"])
async def test_a_proxy_that_wants_credentials(transport, upstream, tinyproxy, ca):
    proxy = tinyproxy(auth=("gateway", SECRET))
    url = f"https://localhost:{upstream.port}"

    def through(proxy_url: str) -> Network:
        return network_for(url, ca, prefix="CLAUDE_", proxy=proxy_url, transport=transport)

    anonymous = await failure(url, through(proxy.url))
    wrong = await failure(url, through(f"http://gateway:wrong-{SECRET}@127.0.0.1:{proxy.port}"))
    if transport == "own":
        assert anonymous.message == (
            f"could not connect to claude: the proxy 127.0.0.1:{proxy.port} requires "
            "authentication (407 Proxy Authentication Required); give the credentials in the "
            "proxy URL (http://user:password@host:port)"
        )
        assert wrong.message == (  # tinyproxy's answer to wrong credentials is a 401
            f"could not connect to claude: the proxy 127.0.0.1:{proxy.port} rejected the "
            "credentials in its URL (401 Unauthorized)"
        )
    else:
        assert "407" in anonymous.message and "401" in wrong.message
    granted = through(f"http://gateway:{SECRET}@127.0.0.1:{proxy.port}")
    assert texts(await ask(url, granted)) == ["through"]
    assert upstream.hosts == [f"localhost:{upstream.port}"]  # the refused ones never got there


async def test_a_proxy_that_refuses_the_tunnel(upstream, tinyproxy, ca):
    proxy = tinyproxy(connect_ports=(443,))  # tinyproxy's usual rule: CONNECT to 443 only
    url = f"https://localhost:{upstream.port}"
    error = await failure(url, network_for(url, ca, prefix="CLAUDE_", proxy=proxy.url))
    assert error.message == (
        f"could not connect to claude: the proxy 127.0.0.1:{proxy.port} would not open a "
        f"tunnel to localhost:{upstream.port} (403 Access violation)"
    )


async def test_a_proxy_that_is_not_there(upstream, ca):
    url = f"https://localhost:{upstream.port}"
    network = network_for(url, ca, prefix="CLAUDE_", proxy=f"http://u:{SECRET}@127.0.0.1:9")
    error = await failure(url, network)
    assert error.message == (
        "could not connect to claude: could not connect to the proxy 127.0.0.1:9: "
        "connection refused"
    )


async def test_an_http_origin_goes_through_the_proxy_as_a_forwarded_request(tinyproxy):
    async with Upstream(None) as upstream:
        port = upstream.port
        url = f"http://localhost:{port}"
        proxy = tinyproxy(auth=("gateway", SECRET))
        granted = f"http://gateway:{SECRET}@127.0.0.1:{proxy.port}"
        network = network_for(url, {}, prefix="CLAUDE_", proxy=granted)
        assert texts(await ask(url, network)) == ["through"]
        with pytest.raises(ProviderError, match="requires authentication"):
            await ask(url, network_for(url, {}, prefix="CLAUDE_", proxy=proxy.url))
    # The proxy forwarded it with its own request line, not the absolute form it was sent.
    assert upstream.lines == [b"POST /v1/messages HTTP/1.1"]
    assert upstream.hosts == [f"localhost:{port}"]


# -- the standard variables, through a proxy that alone resolves the name -----------------------


async def test_https_proxy_from_the_environment(upstream, connect_proxy, ca):
    proxy = connect_proxy(auth=f"gateway:{SECRET}")
    url = f"https://{NAME}:{upstream.port}"
    environ = {**ca, "HTTPS_PROXY": f"http://gateway:{SECRET}@127.0.0.1:{proxy.port}"}
    network = network_for(url, environ)
    assert network.describe() == (
        f"through the proxy 127.0.0.1:{proxy.port} (HTTPS_PROXY), CAs from SSL_CERT_FILE"
    )
    assert texts(await ask(url, network)) == ["through"]
    (tunnel,) = proxy.tunnels()
    assert tunnel.startswith(f"200 {NAME}:{upstream.port} Basic ")
    assert upstream.hosts == [f"{NAME}:{upstream.port}"]


async def test_no_proxy_is_honoured(upstream, connect_proxy, ca):
    proxy = connect_proxy()
    url = f"https://{NAME}:{upstream.port}"
    environ = {**ca, "HTTPS_PROXY": proxy.url, "NO_PROXY": "localhost,.claude.test"}
    # Direct: this host cannot resolve the name that only the proxy knows.
    error = await failure(url, network_for(url, environ))
    assert error.message == (
        f"could not connect to claude: could not connect to {NAME}:{upstream.port}: "
        "the name does not resolve"
    )
    assert proxy.tunnels() == []
    environ["NO_PROXY"] = "localhost,other.test"
    assert texts(await ask(url, network_for(url, environ))) == ["through"]
    assert len(proxy.tunnels()) == 1


async def test_an_https_proxy_is_reached_over_tls(upstream, connect_proxy, certificates, ca):
    # TLS to the proxy (its certificate from the same private CA), and TLS inside the tunnel.
    proxy = connect_proxy(tls=certificates)
    url = f"https://{NAME}:{upstream.port}"
    environ = {**ca, "HTTPS_PROXY": f"https://localhost:{proxy.port}"}
    assert texts(await ask(url, network_for(url, environ))) == ["through"]
    assert len(proxy.tunnels()) == 1


# -- certificates -------------------------------------------------------------------------------


@pytest.mark.parametrize("through_proxy", [False, True])
async def test_a_certificate_from_an_untrusted_ca_is_a_tls_connect_error(
    through_proxy, upstream, connect_proxy, tmp_path
):
    other = Certificates.make(tmp_path / "other", "localhost")
    environ = {"SSL_CERT_FILE": str(other.ca_file)}
    via = ""
    if through_proxy:
        proxy = connect_proxy()
        environ["HTTPS_PROXY"] = proxy.url
        via = f" through the proxy 127.0.0.1:{proxy.port}"
    url = f"https://{NAME if through_proxy else 'localhost'}:{upstream.port}"
    error = await failure(url, network_for(url, environ))
    host = url.removeprefix("https://")
    assert error.message == (
        f"could not connect to claude: TLS: the certificate of {host} is not trusted "
        f"(unable to get local issuer certificate){via}"
    )
    assert upstream.hosts == []


async def test_the_public_cas_do_not_trust_a_private_one(upstream):
    url = f"https://localhost:{upstream.port}"
    error = await failure(url, network_for(url, {}))
    assert "TLS: the certificate of" in error.message and "not trusted" in error.message


async def test_mutual_tls_presents_the_client_certificate(certificates, tmp_path, ca):
    cert, key = certificates.client_files(tmp_path)
    async with Upstream(certificates, client_ca=certificates.ca_file) as upstream:
        url = f"https://localhost:{upstream.port}"
        with_certificate = network_for(
            url, ca, prefix="CLAUDE_", client_cert=str(cert), client_key=str(key)
        )
        assert texts(await ask(url, with_certificate)) == ["through"]
        with pytest.raises(ProviderError):  # without one, the server refuses the handshake
            await ask(url, network_for(url, ca))
    assert len(upstream.hosts) == 1
