"""The gateway deployed as teams deploy it (#20), with real parts only: a plain TCP forwarder
in front of a default ``multichat serve``, the shipped docs/nginx.conf on a non-default port in
front of two gateways, and docs/nginx-tls.conf with certificates made here (trustme). Browsers
are Debian's Chromium (tests/browser/conftest.py's skip and CI rules); nginx and Redis are
tests/support/cluster.py's.
"""

from __future__ import annotations

import base64
import hashlib
import ssl

import httpx
import pytest
import pytest_asyncio

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, WAIT, expect
from tests.support.cluster import Cluster, Nginx, with_upstreams
from tests.support.keys import bearer, make_keys, no_suite_key_environment, printed_sign_in
from tests.support.page_helpers import CuttableProxy, ask, status_is
from tests.support.paths import ROOT
from tests.support.servers import free_port
from tests.support.turn_helpers import API


async def new_context(browser, **options):
    context = await browser.new_context(viewport=DESKTOP, **options)
    context.set_default_timeout(WAIT)
    return context


async def signed_in_page(page, who: str) -> None:
    await page.wait_for_selector("html[data-ready]")
    await expect(page.locator("#who")).to_contain_text(f"Signed in as {who}")


async def a_turn_completes(page, prompt: str = "hello through the proxy") -> None:
    await ask(page, prompt)
    await status_is(page, "claude", "complete")


# -- a same-host forwarder ----------------------------------------------------------------------


async def test_a_forwarder_gets_401_and_the_printed_address_signs_a_browser_in(
    processes, database_url, sim, browser
):
    """``socat``, ``ssh -R``, a tunnel client: every remote client arrives as a loopback peer,
    with nothing added. The default gateway answers none of them; the address it printed at
    start signs a real browser in (the key in the fragment, gone from the address bar)."""
    gateway = processes(no_suite_key_environment(database_url, sim.url))
    forwarder = await CuttableProxy(gateway.port).start()
    try:
        async with httpx.AsyncClient(base_url=forwarder.url, timeout=30) as client:
            for method, path, host in (
                ("GET", f"{API}/conversations/", None),
                ("GET", f"{API}/providers", "localhost"),
                ("GET", "/metrics", None),
                ("POST", f"{API}/chat/", None),
            ):
                body = {"prompt": "free?", "models": ["claude"]} if method == "POST" else None
                headers = {"host": host} if host else {}
                response = await client.request(method, path, json=body, headers=headers)
                assert response.status_code == 401, (method, path, response.text)
            state = (await client.get(f"{API}/session")).json()
            assert state["auth"] == "keys" and state["signed_in"] is False
        assert sum(s["requests"] for s in sim.stats().values()) == 0, "no provider was called"

        url, key = printed_sign_in(gateway)
        context = await new_context(browser)
        try:
            page = await context.new_page()
            await page.goto(url.replace("/#", "/?models=claude#"))
            await signed_in_page(page, "first")
            assert "key=" not in page.url and key not in page.url
            (cookie,) = await context.cookies()
            assert cookie["name"] == "multichat_session" and cookie["httpOnly"]
            assert key not in cookie["value"]
            await a_turn_completes(page)
            # The same page through the forwarder's own address works as well (an ssh -L
            # tunnel): the browser sends the Host it addressed, its Origin agrees.
            through = await context.new_page()
            await through.goto(f"{forwarder.url}/?models=claude")
            await signed_in_page(through, "first")
            await a_turn_completes(through, "through the forwarder")
        finally:
            await context.close()
        assert key.encode() not in bytes(forwarder.client_bytes), "the fragment never left"
    finally:
        await forwarder.close()


# -- behind nginx, plain and TLS -----------------------------------------------------------------


@pytest.fixture
async def cluster(tmp_path, database_url, sim):
    """Two gateways (no suite key) sharing Redis, believing forwarding headers from loopback."""
    keys = await make_keys(database_url, "alice")
    running = Cluster(
        tmp_path, database_url, sim.url, TRUSTED_PROXIES="127.0.0.1", MULTICHAT_KEY=""
    )
    try:
        running.start(size=2)
        yield running, keys
    finally:
        running.stop()


async def sign_in_with_the_form(page, url: str, key: str) -> None:
    await page.goto(url)
    await expect(page.locator("#signin")).to_be_visible()
    await page.fill("#signin-key", key)
    await page.press("#signin-key", "Enter")


async def test_the_page_behind_the_shipped_nginx_on_a_non_default_port(cluster, browser):
    running, keys = cluster
    nginx = running.nginx
    assert nginx.port not in (80, 443)
    context = await new_context(browser)
    try:
        page = await context.new_page()
        await sign_in_with_the_form(page, f"{nginx.url}/?models=claude", keys["alice"])
        await signed_in_page(page, "alice")
        for prompt in ("first", "second", "third"):  # round robin: both gateways take POSTs
            await a_turn_completes(page, prompt)
    finally:
        await context.close()
    async with httpx.AsyncClient(base_url=nginx.url, timeout=30) as client:
        for origin in ("http://evil.example", f"http://127.0.0.1:{nginx.port + 1}"):
            foreign = await client.post(
                f"{API}/turns",
                json={"prompt": "csrf", "models": ["claude"]},
                headers={"origin": origin} | bearer(keys["alice"]),
            )
            assert foreign.status_code == 403, origin
        own = await client.post(
            f"{API}/conversations/",
            json={},
            headers={"origin": nginx.url} | bearer(keys["alice"]),
        )
        assert own.status_code == 201


class TlsNginx(Nginx):
    """docs/nginx-tls.conf as shipped, but for its upstream list, ports and certificate."""

    def __init__(self, tmp_path, upstream_ports: list[int], certificate) -> None:
        self.certificate = certificate
        super().__init__(tmp_path / "tls", upstream_ports)
        self.url = f"https://localhost:{self.port}"

    def site(self, upstream_ports: list[int]) -> str:
        chain, private = self.dir / "chain.pem", self.dir / "key.pem"
        self.certificate.private_key_pem.write_to_path(str(private))
        chain.write_bytes(b"".join(blob.bytes() for blob in self.certificate.cert_chain_pems))
        site = with_upstreams((ROOT / "docs" / "nginx-tls.conf").read_text(), upstream_ports)
        replacements = {
            "listen 80;": f"listen 127.0.0.1:{free_port()};",  # the redirect to https
            "listen 443 ssl http2;": f"listen 127.0.0.1:{self.port} ssl http2;",
            "/etc/nginx/tls/fullchain.pem": str(chain),
            "/etc/nginx/tls/privkey.pem": str(private),
        }
        for old, new in replacements.items():
            assert old in site, f"docs/nginx-tls.conf changed shape: no {old!r}"
            site = site.replace(old, new)
        return site


def spki_hash(certificate) -> str:
    """The SHA-256 of the server key's SubjectPublicKeyInfo, base64: what Chromium's
    --ignore-certificate-errors-spki-list trusts (that key only; nothing else is ignored)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    leaf = x509.load_pem_x509_certificate(certificate.cert_chain_pems[0].bytes())
    der = leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest_asyncio.fixture(loop_scope="session")
async def tls_chromium(browser):
    """A Chromium that trusts one test certificate's key, made by trustme's test CA."""
    import trustme
    from playwright.async_api import async_playwright

    authority = trustme.CA()
    certificate = authority.issue_cert("localhost", "127.0.0.1")
    playwright = await async_playwright().start()
    chromium = await playwright.chromium.launch(
        executable_path=str(CHROMIUM),
        args=[*CHROMIUM_ARGS, f"--ignore-certificate-errors-spki-list={spki_hash(certificate)}"],
        headless=True,
    )
    yield chromium, authority, certificate
    await chromium.close()
    await playwright.stop()


async def test_behind_a_tls_terminating_nginx_the_cookie_is_secure_and_posts_work(
    cluster, tls_chromium, tmp_path
):
    running, keys = cluster
    chromium, authority, certificate = tls_chromium
    nginx = TlsNginx(tmp_path, [g.port for g in running.gateways], certificate).start()
    try:
        context = await new_context(chromium)
        try:
            page = await context.new_page()
            await sign_in_with_the_form(page, f"{nginx.url}/?models=claude", keys["alice"])
            await signed_in_page(page, "alice")
            (cookie,) = await context.cookies()
            assert cookie["name"] == "__Host-multichat_session"
            assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Strict"
            assert cookie["path"] == "/"
            for prompt in ("over TLS", "and again"):
                await a_turn_completes(page, prompt)
        finally:
            await context.close()
        # A client that checks the certificate against the test CA: foreign origins still 403.
        trust = ssl.create_default_context()
        authority.configure_trust(trust)
        async with httpx.AsyncClient(base_url=nginx.url, verify=trust, timeout=30) as client:
            foreign = await client.post(
                f"{API}/conversations/",
                json={},
                headers={"origin": "https://evil.example"} | bearer(keys["alice"]),
            )
            assert foreign.status_code == 403
            plain_origin = await client.post(
                f"{API}/conversations/",
                json={},
                headers={"origin": f"http://localhost:{nginx.port}"} | bearer(keys["alice"]),
            )
            assert plain_origin.status_code == 403, "https page, http origin: not the same"
    finally:
        nginx.stop()
