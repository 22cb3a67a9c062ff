"""Behind proxies (#20): whose forwarding headers are believed (TRUSTED_PROXIES, nobody's by
default, uvicorn's own handling off), which Host and Origin are allowed (``ALLOWED_HOSTS=*``
never turns the Origin check off), and the cookie over HTTPS."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from gateway.auth import TrustedProxies, allowance
from gateway.auth.proxies import read_forwarded
from tests.support.gateway_process import GatewayProcess
from tests.support.keys import bearer, make_keys, no_suite_key_environment, start_keyed_gateway
from tests.support.turn_helpers import API

# -- the forwarding headers, parsed -------------------------------------------------------------


def headers(**values: str) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").encode(), v.encode()) for k, v in values.items()]


async def forwarded_scope(trusted: list[str], peer: str, **values: str) -> dict:
    seen = {}

    async def app(scope, receive, send):
        seen.update(scope)

    scope = {
        "type": "http",
        "client": (peer, 5000),
        "scheme": "http",
        "headers": [(b"host", b"10.0.0.5:8000"), *headers(**values)],
    }
    await TrustedProxies(app, trusted)(scope, None, None)
    host = dict(seen["headers"])[b"host"].decode()
    return {"client": seen["client"][0], "scheme": seen["scheme"], "host": host}


async def test_forwarding_headers_count_only_from_a_trusted_proxy():
    sent = {
        "x_forwarded_for": "203.0.113.9",
        "x_forwarded_proto": "https",
        "x_forwarded_host": "chat.example.com",
    }
    believed = await forwarded_scope(["127.0.0.1", "10.1.0.0/16"], "10.1.2.3", **sent)
    assert believed == {"client": "203.0.113.9", "scheme": "https", "host": "chat.example.com"}
    for trusted in ([], ["10.1.2.4"], ["127.0.0.0/8"]):
        ignored = await forwarded_scope(trusted, "10.1.2.3", **sent)
        assert ignored == {"client": "10.1.2.3", "scheme": "http", "host": "10.0.0.5:8000"}


async def test_the_client_is_the_rightmost_address_that_is_not_a_proxy():
    # The client wrote the first address itself; nginx appended the one it saw.
    chain = {"x_forwarded_for": "6.6.6.6, 198.51.100.7, 10.1.0.9"}
    found = await forwarded_scope(["10.1.0.0/16"], "10.1.0.8", **chain)
    assert found["client"] == "198.51.100.7"


async def test_rfc_7239_forwarded_when_there_are_no_x_forwarded_headers():
    forwarded = 'for=198.51.100.7;proto=https;host="chat.example.com", for="[2001:db8::1]:4711"'
    found = await forwarded_scope(["2001:db8::1"], "127.0.0.1", forwarded=forwarded)
    assert found == {"client": "127.0.0.1", "scheme": "http", "host": "10.0.0.5:8000"}
    found = await forwarded_scope(["127.0.0.1", "2001:db8::1"], "127.0.0.1", forwarded=forwarded)
    assert found == {"client": "198.51.100.7", "scheme": "https", "host": "chat.example.com"}
    # X-Forwarded-* win: a client's own Forwarded header through nginx is not believed.
    both = read_forwarded(headers(forwarded="for=6.6.6.6;proto=https", x_forwarded_proto="http"))
    assert both.proto == "http" and both.addresses == []


def test_allowed_hosts_star_never_trusts_an_origin():
    rules = allowance(host="0.0.0.0", allowed_hosts=["*"], public_url=None, cors_origins=[])
    assert rules.host_allowed("evil.example")
    # A rebound name: the browser's Origin and Host agree, and that proves nothing.
    assert not rules.origin_allowed("http://evil.example", "http", "evil.example")
    assert rules.origin_allowed("http://127.0.0.1:8000", "http", "127.0.0.1:8000")
    named = allowance(
        host="0.0.0.0",
        allowed_hosts=["*", "https://chat.example.com"],
        public_url="https://public.example:8443/",
        cors_origins=["https://app.example"],
    )
    for origin in (
        "https://chat.example.com",
        "https://public.example:8443",
        "https://app.example",
    ):
        assert named.origin_allowed(origin, "http", "evil.example"), origin
    assert not named.origin_allowed("http://chat.example.com", "http", "evil.example")


def test_origins_compare_as_browsers_write_them():
    rules = allowance(
        host="127.0.0.1", allowed_hosts=["chat.example.com"], public_url=None, cors_origins=[]
    )
    assert rules.origin_allowed("HTTP://LOCALHOST:8000/", "http", "localhost:8000")
    assert rules.origin_allowed("https://chat.example.com", "https", "chat.example.com:443")
    assert not rules.origin_allowed("https://chat.example.com", "http", "chat.example.com")
    assert not rules.origin_allowed("http://localhost:9000", "http", "localhost:8000")
    assert not rules.origin_allowed("null", "http", "localhost:8000")
    assert not rules.host_allowed("attacker.example")


# -- through a real gateway ---------------------------------------------------------------------

PUBLIC = {
    "x-forwarded-proto": "https",
    "x-forwarded-host": "chat.example.com",
    "x-forwarded-for": "203.0.113.9",
}


async def test_behind_a_trusted_tls_proxy_origin_scheme_and_cookie_follow_it(database_url, sim):
    keys = await make_keys(database_url, "alice")
    trusted = start_keyed_gateway(
        database_url, sim.url, trusted_proxies=["127.0.0.1"], allowed_hosts=["chat.example.com"]
    )
    untrusted = start_keyed_gateway(database_url, sim.url, allowed_hosts=["chat.example.com"])
    try:
        origin = {"origin": "https://chat.example.com"}
        async with httpx.AsyncClient(base_url=trusted.url, timeout=30) as client:
            signed = await client.post(
                f"{API}/session", json={"key": keys["alice"]}, headers=PUBLIC | origin
            )
            assert signed.status_code == 200, signed.text
            cookie = signed.headers["set-cookie"]
            assert cookie.startswith("__Host-multichat_session=") and "Secure" in cookie
            assert "Path=/" in cookie and "Domain" not in cookie
            value = cookie.split(";")[0].split("=", 1)[1]
            # The secure cookie signs in over HTTPS; under the plain name it is not read.
            secure = {"cookie": f"__Host-multichat_session={value}"}
            created = await client.post(
                f"{API}/conversations/", json={}, headers=PUBLIC | origin | secure
            )
            assert created.status_code == 201
            plain = {"cookie": f"multichat_session={value}"}
            refused = await client.post(
                f"{API}/conversations/", json={}, headers=PUBLIC | origin | plain
            )
            assert refused.status_code == 401
            foreign = await client.post(
                f"{API}/conversations/",
                json={},
                headers=PUBLIC | secure | {"origin": "https://evil.example"},
            )
            assert foreign.status_code == 403
        # From a peer it does not trust, the same headers change nothing: the page's https
        # origin is not this plain-HTTP request's, and no cookie is Secure.
        async with httpx.AsyncClient(base_url=untrusted.url, timeout=30) as client:
            ignored = await client.post(
                f"{API}/session", json={"key": keys["alice"]}, headers=PUBLIC | origin
            )
            assert ignored.status_code == 403
            plain_sign_in = await client.post(f"{API}/session", json={"key": keys["alice"]})
            assert "secure" not in plain_sign_in.headers["set-cookie"].lower()
    finally:
        trusted.stop()
        untrusted.stop()


async def test_allowed_hosts_star_keeps_the_origin_check(database_url, sim):
    keys = await make_keys(database_url, "alice")
    server = start_keyed_gateway(database_url, sim.url, allowed_hosts=["*"])
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            rebound = {"host": "evil.example", "origin": "http://evil.example"}
            response = await client.post(
                f"{API}/conversations/", json={}, headers=rebound | bearer(keys["alice"])
            )
            assert response.status_code == 403
            own = {"origin": server.url}
            response = await client.post(
                f"{API}/conversations/", json={}, headers=own | bearer(keys["alice"])
            )
            assert response.status_code == 201
    finally:
        server.stop()


async def test_public_url_is_an_allowed_origin_and_makes_cookies_secure(database_url, sim):
    """An ssh tunnel or a TLS proxy that is not trusted: PUBLIC_URL says where the page is."""
    keys = await make_keys(database_url, "alice")
    server = start_keyed_gateway(database_url, sim.url, public_url="https://chat.example.com")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            signed = await client.post(
                f"{API}/session",
                json={"key": keys["alice"]},
                headers={"origin": "https://chat.example.com"},
            )
            assert signed.status_code == 200
            assert signed.headers["set-cookie"].startswith("__Host-multichat_session=")
            assert "Secure" in signed.headers["set-cookie"]
    finally:
        server.stop()


@pytest.mark.parametrize("trusted", ["", "127.0.0.1"])
async def test_uvicorn_believes_no_forwarding_header_of_its_own(
    tmp_path, database_url, sim, trusted
):
    """uvicorn trusts X-Forwarded-For from 127.0.0.1 by default (forwarded_allow_ips): under
    ``multichat serve`` the client is who TRUSTED_PROXIES says, and nobody else."""
    keys = await make_keys(database_url, "alice")
    environment = no_suite_key_environment(
        database_url,
        sim.url,
        LOG_FORMAT="json",
        TRUSTED_PROXIES=trusted,
        FORWARDED_ALLOW_IPS="*",  # uvicorn's own setting: must change nothing
    )
    process = GatewayProcess(tmp_path, environment)
    try:
        await asyncio.to_thread(process.wait_ready)
        async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
            forwarded = {"x-forwarded-for": "203.0.113.9", "x-request-id": "forwarded-1"}
            response = await client.get(
                f"{API}/providers", headers=forwarded | bearer(keys["alice"])
            )
            assert response.status_code == 200
    finally:
        process.stop()
    records = [json.loads(line) for line in process.output().splitlines() if line.startswith("{")]
    (access,) = [r for r in records if r.get("request_id") == "forwarded-1"]
    assert access["client"] == ("203.0.113.9" if trusted else "127.0.0.1")
