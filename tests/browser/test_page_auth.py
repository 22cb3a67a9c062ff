"""The page with client keys (#11, #20), in a real headless Chromium: the sign-in form, the
session cookie its calls and streams carry, and the events_url token a browser EventSource
opens a turn's stream with (or is refused with), from a context that has no cookie at all.

The browser fixture is tests/browser/conftest.py's; the contexts here carry no credentials of
the suite's (tests/support/credentials.py), and the gateways take none.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urljoin

import httpx
import pytest
import pytest_asyncio

from tests.support.browser import DESKTOP, WAIT, expect
from tests.support.keys import expired_token, make_keys, start_keyed_gateway
from tests.support.page_helpers import (
    ALL,
    CuttableProxy,
    ask,
    every_column_has_text,
    expected,
    install_text_checker,
    last_turn,
    paced_expected,
    status_is,
    text_of,
    text_violations,
)
from tests.support.turn_helpers import API, rows

MODELS = ("claude", "chatgpt", "gemini")


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser):
    """A fresh context with no credentials; fails the test on an uncaught error in the page."""
    context = await browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(WAIT)
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    yield context
    await context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest.fixture
async def keyed_gateway(database_url, sim):
    """A gateway with two client keys, alice's and bob's, made before it starts."""
    keys = await make_keys(database_url, "alice", "bob")
    server = start_keyed_gateway(database_url, sim.url, disconnect_grace=10, retry_ms=300)
    yield server, keys
    server.stop()


@pytest.fixture
async def keyed_paced_gateway(database_url, paced_simulator):
    keys = await make_keys(database_url, "alice")
    server = start_keyed_gateway(
        database_url, paced_simulator.url, disconnect_grace=10, retry_ms=300
    )
    yield server, keys
    server.stop()


# -- helpers -------------------------------------------------------------------------------------


async def open_signin(page, url: str) -> None:
    await page.goto(url)
    await page.wait_for_selector('html[data-auth="keys"]')
    await expect(page.locator("#signin")).to_be_visible()
    await expect(page.locator("#app")).to_be_hidden()


async def sign_in(page, key: str) -> None:
    await page.fill("#signin-key", key)
    await page.click("#signin-button")


async def signed_in(page, name: str) -> None:
    await page.wait_for_selector("html[data-ready]")
    await expect(page.locator("#app")).to_be_visible()
    await expect(page.locator("#signin")).to_be_hidden()
    await expect(page.locator("#who")).to_contain_text(f"Signed in as {name}")


async def where_the_key_could_be(page) -> dict[str, str]:
    return await page.evaluate(
        """() => ({
            localStorage: JSON.stringify({ ...localStorage }),
            sessionStorage: JSON.stringify({ ...sessionStorage }),
            cookie: document.cookie,
            dom: document.documentElement.outerHTML,
            fields: [...document.querySelectorAll("input, textarea")].map((f) => f.value).join("|"),
        })"""
    )


def assert_key_kept_nowhere(places: dict[str, str], key: str) -> None:
    for where, text in places.items():
        assert key not in text and key[4:20] not in text, where


# Opens an EventSource on url in the page and collects the names of its events until `end`, or
# until the browser gives up on it (error with readyState CLOSED: what a 401 gets, no retry).
LISTEN = """(url) => new Promise((resolve) => {
  const names = [];
  const errors = [];
  const source = new EventSource(url);
  for (const type of ["turn", "start", "delta", "done", "end"]) {
    source.addEventListener(type, () => {
      names.push(type);
      if (type === "end") {
        source.close();
        resolve({ names, errors, closed: false });
      }
    });
  }
  source.onerror = () => {
    errors.push(source.readyState);
    if (source.readyState === EventSource.CLOSED) resolve({ names, errors, closed: true });
  };
})"""


async def listen(page, url: str) -> dict:
    return await asyncio.wait_for(page.evaluate(LISTEN, url), WAIT / 1000)


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


# -- tests ---------------------------------------------------------------------------------------


async def test_the_page_signs_in_streams_a_turn_and_signs_out(
    keyed_gateway,
    page,
    context,
    artifacts_dir,
):
    server, keys = keyed_gateway
    prompt = "Name three rivers"
    await install_text_checker(page, {p: expected(p, prompt) for p in MODELS})
    await open_signin(page, f"{server.url}/?models={','.join(MODELS)}")
    await expect(page.locator("#signin-key")).to_have_attribute("type", "password")
    await expect(page.locator("#signin-error")).to_be_hidden()
    assert await page.locator("html[data-ready]").count() == 0  # the app was not started
    await page.screenshot(path=artifacts_dir / "page-signin.png")

    # A wrong key: the error, no app, the field emptied.
    await sign_in(page, keys["alice"][:-4] + "abcd")
    await expect(page.locator("#signin-error")).to_have_text("That is not a live client key.")
    await expect(page.locator("#app")).to_be_hidden()
    assert await page.locator("#signin-key").input_value() == ""
    assert await page.locator("html[data-ready]").count() == 0
    assert await context.cookies() == []

    # The right key (Enter submits too): the app, and who is signed in.
    await page.fill("#signin-key", keys["alice"])
    await page.press("#signin-key", "Enter")
    await signed_in(page, "alice")
    assert await page.locator("#signin-key").input_value() == ""
    (cookie,) = await context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert keys["alice"] not in cookie["value"]
    assert_key_kept_nowhere(await where_the_key_could_be(page), keys["alice"])
    await expect(page.locator("#providers .chip input:checked")).to_have_count(len(MODELS))

    # A turn streams live, on the session cookie and the events_url's token.
    await ask(page, prompt)
    await every_column_has_text(page, MODELS)
    for provider in MODELS:
        await status_is(page, provider, "complete")
    for provider in MODELS:
        assert await text_of(page, provider) == expected(provider, prompt)
    assert await text_violations(page) == []
    await expect(page.locator("#conversation-list .conversation")).to_have_count(1)
    await page.screenshot(path=artifacts_dir / "page-signed-in.png")

    # The page's own EventSource sends the cookie (same origin): the stream with no token.
    turn_id = await last_turn(page).get_attribute("data-turn-id")
    heard = await listen(page, f"{API}/turns/{turn_id}/events")
    assert heard["names"][0] == "turn" and heard["names"][-1] == "end", heard
    assert_key_kept_nowhere(await where_the_key_could_be(page), keys["alice"])

    # Alice's turn is alice's: bob sees nothing of it.
    async with httpx.AsyncClient(base_url=server.url) as http:
        listing = await http.get(f"{API}/conversations/", headers=bearer(keys["bob"]))
        assert listing.json() == []

    # Sign out: back to the form, the cookie gone, the gateway says so too.
    await page.click("#sign-out")
    # The page reloads itself without the hash: wait for that, do not race it with a goto.
    await page.wait_for_url(lambda url: "#" not in url)
    await page.wait_for_selector('html[data-auth="keys"]')
    await expect(page.locator("#signin")).to_be_visible()
    assert await context.cookies() == []
    state = await page.evaluate("() => fetch('/api/v1/session').then((r) => r.json())")
    assert state == {"auth": "keys", "signed_in": False, "key_name": None, "admin": False}
    assert "#" not in page.url  # nothing of alice's is named in the address either
    await expect(page.locator("#who")).to_have_count(0)
    assert_key_kept_nowhere(await where_the_key_could_be(page), keys["alice"])


async def test_a_401_later_brings_the_form_back_and_signing_in_reloads(
    keyed_gateway,
    page,
    context,
):
    server, keys = keyed_gateway
    await open_signin(page, f"{server.url}/?models=claude,gemini")
    await sign_in(page, keys["bob"])
    await signed_in(page, "bob")
    await ask(page, "first question")
    for provider in ("claude", "gemini"):
        await status_is(page, provider, "complete")
    await page.wait_for_function("() => location.hash.includes('conversation=')")

    # The session ends under the page (as when it expires): the next call answers 401.
    await context.clear_cookies()
    await page.evaluate("() => { window.__samePage = true; }")
    await ask(page, "second question")
    await expect(page.locator("#signin")).to_be_visible()
    await expect(page.locator("#app")).to_be_hidden()
    await expect(page.locator("#signin-error")).to_contain_text("session has ended")

    # Signing in again loads the page again: the conversation in the hash, as it is stored.
    await sign_in(page, keys["bob"])
    await page.wait_for_function(
        "() => !window.__samePage && document.documentElement.dataset.ready"
    )
    await signed_in(page, "bob")
    await expect(page.locator("#turns > .turn")).to_have_count(1)
    await status_is(page, "claude", "complete")
    assert await text_of(page, "claude") == expected("claude", "first question")


async def test_signed_in_streams_resume_after_a_cut_and_a_reload(
    keyed_paced_gateway,
    page,
):
    server, keys = keyed_paced_gateway
    proxy = await CuttableProxy(server.port).start()
    try:
        prompt = "Explain recursion to a five-year-old"
        texts = paced_expected(prompt)
        await install_text_checker(page, texts)
        await open_signin(page, proxy.url + "/")
        await sign_in(page, keys["alice"])
        await signed_in(page, "alice")

        await ask(page, prompt)
        await every_column_has_text(page, ALL)
        assert proxy.cut() >= 1  # the event stream's connection dies mid-turn
        for provider in ALL:
            await status_is(page, provider, "complete")
        for provider in ALL:
            assert await text_of(page, provider) == texts[provider]
        assert await text_violations(page) == []
        resumed = [path for path, after in proxy.event_requests() if after]
        assert resumed, proxy.event_requests()

        # A reload mid-turn opens the stream by the turn's id alone: the cookie carries it.
        await ask(page, prompt)
        await expect(page.locator("#turns > .turn")).to_have_count(2)
        await every_column_has_text(page, ALL)
        turn_id = await last_turn(page).get_attribute("data-turn-id")
        await page.reload()
        await signed_in(page, "alice")
        for provider in ALL:
            await status_is(page, provider, "complete")
        for provider in ALL:
            assert await text_of(page, provider) == texts[provider]
        assert await text_violations(page) == []
        reopened = [
            path
            for path, _ in proxy.event_requests()
            if path.startswith(f"{API}/turns/{turn_id}/events") and "token=" not in path
        ]
        assert reopened, proxy.event_requests()
    finally:
        await proxy.close()


async def test_the_events_url_token_in_a_real_browser(
    keyed_gateway,
    page,
    context,
    database_url,
):
    """From a page on the gateway's origin with no session cookie, a browser EventSource
    opens a turn's stream with the token of its events_url, and is refused with a tampered
    one, another turn's, or an expired one."""
    server, keys = keyed_gateway
    await open_signin(page, server.url + "/")  # the gateway's origin, signed out
    assert await context.cookies() == []
    body = {"prompt": "stream me", "models": ["claude:claude-sonnet-5+tokens=8,gap=1"]}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        created = []
        for _ in range(2):
            response = await http.post(f"{API}/turns", json=body, headers=bearer(keys["alice"]))
            assert response.status_code == 201, response.text
            created.append(response.json())
    one, other = created
    url = urljoin(server.url + "/", one["events_url"])
    assert url.startswith(server.url) and "?token=" in url and keys["alice"] not in url

    heard = await listen(page, url)
    assert not heard["closed"], heard
    assert heard["names"][0] == "turn" and heard["names"][-1] == "end", heard
    assert {"start", "delta", "done"} <= set(heard["names"])

    token = url.split("token=")[1]
    other_token = other["events_url"].split("token=")[1]
    (secret,) = await rows(database_url, "SELECT value FROM gateway_secrets")
    (alice,) = await rows(database_url, "SELECT id FROM client_keys WHERE name = 'alice'")
    old = expired_token(bytes(secret["value"]), one["turn_id"], alice["id"])
    events = f"{API}/turns/{one['turn_id']}/events"
    refused = {
        "tampered": f"{events}?token={token[:-2]}{'yy' if token.endswith('xx') else 'xx'}",
        "another turn's token": f"{events}?token={other_token}",
        "expired": f"{events}?token={old}",
        "no token": events,
    }
    for what, bad in refused.items():
        heard = await listen(page, bad)
        assert heard["closed"], (what, heard)
        assert heard["names"] == [], (what, heard)
        assert heard["errors"] == [2], (what, heard)  # EventSource.CLOSED at once: no retry
    # The stream was refused, not the page: nothing signed this context in meanwhile.
    assert await context.cookies() == []
    await expect(page.locator("#signin")).to_be_visible()
