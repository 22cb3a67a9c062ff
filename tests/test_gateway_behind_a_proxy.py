"""The gateway as a company network runs it: every provider only through an HTTPS proxy, TLS
from a private CA given by SSL_CERT_FILE, the proxy's credentials in HTTPS_PROXY.

The gateway is its own process, configured by its environment only. The providers' hosts are
made-up names that only the proxy (tests/connect_proxy.py) resolves, so an answer proves the
gateway went through it; behind it, one real TLS server plays all five APIs by Host header,
replaying the recorded real streams (tests/data/adapters/streams, with the events
tests/test_adapters_recorded.py expects of each) byte for byte. (What
fails, and how it reads, is in tests/test_proxies.py: the same adapters, without a process.)
"""

from __future__ import annotations

from collections import defaultdict

import httpx
import pytest

from providers import PROVIDERS, Citations, Finish, Thinking, Usage
from tests.support.proxies import Certificates, ConnectProxy
from tests.support.recorded import RECORDED
from tests.support.servers import ServerThread
from tests.support.sse_client import check_invariants, read_stream

pytestmark = pytest.mark.integration  # a gateway process, a proxy process, a TLS server

SECRET = "c0mpany-pr0xy-secret"
HOSTS = {  # the providers' hosts, as only the proxy knows them
    "claude": "api.anthropic.test",
    "chatgpt": "api.openai.test",
    "gemini": "generativelanguage.googleapis.test",
    "grok": "api.x.test",
    "perplexity": "api.perplexity.test",
}
PATHS = {"chatgpt": "/v1", "grok": "/v1"}  # the rest of each base URL, as the real one has it


def recordings() -> dict[str, list[tuple[bytes, list]]]:
    """Each provider's recorded streams and the events they stand for, in RECORDED's order."""
    found: dict[str, list[tuple[bytes, list]]] = defaultdict(list)
    for param in RECORDED:
        name, stream, expected = param.values
        found[name].append((stream, expected))
    return found


class RecordedProviders:
    """An ASGI app answering each provider's host with its recordings, one after the other
    (the nth request gets the nth recording, round and round), one event per body chunk."""

    def __init__(self) -> None:
        self.streams = {HOSTS[name]: [s for s, _ in found] for name, found in recordings().items()}
        self.served: dict[str, int] = defaultdict(int)
        self.requests: list[tuple[str, str]] = []

    async def __call__(self, scope, receive, send) -> None:
        assert scope["type"] == "http"
        while (await receive()).get("more_body"):
            pass
        host = dict(scope["headers"])[b"host"].decode().rpartition(":")[0]
        self.requests.append((host, scope["path"]))
        streams = self.streams[host]
        stream = streams[self.served[host] % len(streams)]
        self.served[host] += 1
        headers = [(b"content-type", b"text/event-stream; charset=utf-8")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        separator = b"\r\n\r\n" if b"\r\n\r\n" in stream else b"\n\n"
        for event in stream.split(separator)[:-1]:
            await send({"type": "http.response.body", "body": event + separator, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def expected_done(expected: list) -> dict:
    finish = next(e for e in expected if isinstance(e, Finish))
    usage = next((e for e in expected if isinstance(e, Usage)), None)
    citations = next((e for e in expected if isinstance(e, Citations)), None)
    thinking = "".join(e.text for e in expected if isinstance(e, Thinking))
    return {
        "status": "complete",
        "content": "".join(e for e in expected if isinstance(e, str)),
        "thinking": thinking or None,
        "finish_reason": finish.reason,
        "usage": usage
        and {
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "reasoning_tokens": usage.reasoning_tokens,
        },
        "citations": list(citations.urls) if citations else None,
    }


@pytest.fixture
def upstream(tmp_path):
    certificates = Certificates.make(tmp_path / "tls", *HOSTS.values())
    app = RecordedProviders()
    server = ServerThread(
        app,
        lifespan="off",
        ssl_certfile=str(certificates.cert_file),
        ssl_keyfile=str(certificates.key_file),
    ).start()
    yield app, server.port, certificates
    server.stop()


@pytest.fixture
def proxy(tmp_path):
    started = ConnectProxy(
        tmp_path, {host: "127.0.0.1" for host in HOSTS.values()}, auth=f"gateway:{SECRET}"
    ).start()
    yield started
    started.stop()


async def test_every_recorded_stream_over_https_through_a_proxy_that_alone_resolves_the_names(
    processes, database_url, upstream, proxy
):
    app, port, certificates = upstream
    env = {
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "info",
        "HTTPS_PROXY": f"http://gateway:{SECRET}@127.0.0.1:{proxy.port}",
        "NO_PROXY": "localhost,127.0.0.1",
        "SSL_CERT_FILE": str(certificates.ca_file),
        "CHATGPT_WIRE": "openai_chat",  # the recorded ChatGPT streams are Chat Completions
    }
    for name, spec in PROVIDERS.items():
        env[spec.key_env] = f"key-for-{name}"
        env[f"{name.upper()}_BASE_URL"] = f"https://{HOSTS[name]}:{port}{PATHS.get(name, '')}"
        env[f"{name.upper()}_MAX_ATTEMPTS"] = "1"  # a failure must show, not be retried away
    gateway = processes(env)

    found = recordings()
    rounds = max(len(streams) for streams in found.values())
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        for number in range(rounds):
            async with client.stream(
                "POST", "/api/v1/chat/stream", json={"prompt": f"round {number}"}
            ) as response:
                assert response.status_code == 200
                stream = await read_stream(response)
            check_invariants(stream, list(PROVIDERS))
            for name in PROVIDERS:
                _, expected = found[name][number % len(found[name])]
                done = stream.done(name)
                assert {key: done[key] for key in expected_done(expected)} == (
                    expected_done(expected)
                ), (name, number, done)

    model = PROVIDERS["gemini"].model
    assert set(app.requests) == {
        (HOSTS["claude"], "/v1/messages"),
        (HOSTS["chatgpt"], "/v1/chat/completions"),
        (HOSTS["gemini"], f"/v1beta/models/{model}:streamGenerateContent"),
        (HOSTS["grok"], "/v1/chat/completions"),
        (HOSTS["perplexity"], "/chat/completions"),
    }
    # Through the proxy, with its credentials: one tunnel per provider, kept alive across rounds.
    tunnels = proxy.tunnels()
    assert sorted(line.split()[1] for line in tunnels) == sorted(
        f"{host}:{port}" for host in HOSTS.values()
    )
    assert all(line.startswith("200 ") and " Basic " in line for line in tunnels)
    output = gateway.output()
    for name in PROVIDERS:
        assert (
            f"provider {name}: {HOSTS[name]}:{port}, through the proxy 127.0.0.1:{proxy.port} "
            "(HTTPS_PROXY), CAs from SSL_CERT_FILE"
        ) in output
    assert SECRET not in output
