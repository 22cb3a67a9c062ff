"""The browser tests' fixtures: one headless Chromium per module, a fresh context and page per
test (failing it on any uncaught error in the page), and the gateways the page talks to.

Everything under tests/browser is marked ``browser``. Without a browser the tests are skipped,
except under CI=true, where that fails (tests/support/browser.py)."""

from __future__ import annotations

import pytest
import pytest_asyncio

from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    WAIT,
    missing_browser,
    no_browser,
)
from tests.support.credentials import BROWSER_HEADERS
from tests.support.gateways import start_gateway
from tests.support.page_helpers import PacedSimulator
from tests.support.servers import ServerThread


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def browser():
    """One headless Chromium for the whole module (never downloaded: the system's own)."""
    reason = missing_browser()
    if reason:
        no_browser(reason)
    from playwright.async_api import async_playwright

    playwright = await async_playwright().start()
    try:
        chromium = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
    except Exception as error:
        await playwright.stop()
        no_browser(f"Chromium at {CHROMIUM} did not start: {error}")
    yield chromium
    await chromium.close()
    await playwright.stop()


@pytest_asyncio.fixture(loop_scope="session")
async def context(browser, request):
    """A fresh browser context; fails the test on any uncaught error in the page."""
    viewport = getattr(request, "param", DESKTOP)
    # Signed in as the suite's key (tests/support/credentials.py), a bearer on every request.
    context = await browser.new_context(viewport=viewport, extra_http_headers=BROWSER_HEADERS)
    context.set_default_timeout(WAIT)
    errors: list[str] = []
    context.on("weberror", lambda error: errors.append(str(error.error)))
    yield context
    await context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


@pytest_asyncio.fixture(loop_scope="session")
async def page(context):
    return await context.new_page()


@pytest.fixture
def gateway(database_url, sim):
    """A gateway on the session's simulator (12 tokens per answer, fast). The grace period
    outlasts a reload or a reconnect; the EventSource retries after 300 ms."""
    server = start_gateway(database_url, sim.url, disconnect_grace=10, retry_ms=300)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def paced_simulator():
    """The simulators with each provider at its own pace (tests.support.page_helpers.PACE)."""
    from providers.simulators.app import create_app as create_simulator

    server = ServerThread(PacedSimulator(create_simulator())).start()
    yield server
    server.stop()


@pytest.fixture
def paced_gateway(database_url, paced_simulator):
    server = start_gateway(database_url, paced_simulator.url, disconnect_grace=10, retry_ms=300)
    yield server
    server.stop()
