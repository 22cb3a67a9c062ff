"""Swagger UI and ReDoc work offline, under their strict Content-Security-Policy, in Chromium.

Every request that would leave the machine is aborted (and counted), so a page that needs a
CDN fails here. Skipped without a browser, except under CI=true (tests/support/browser.py).
"""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest_asyncio

from gateway.api.system import DOCS_FILES, DOCS_STATIC_URL, REDOC_SCRIPT
from tests.support.browser import DESKTOP, WAIT
from tests.support.databases import TEMPLATE, create_database, drop_database
from tests.support.gateways import start_gateway

API = "/api/v1"

# Reports every violation of the page's policy, even one the page itself catches.
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__cspViolations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def docs_gateway(postgres_admin_dsn, template_dsn):
    """One gateway for the module (the docs pages need no fresh database per test)."""
    dsn = await create_database(postgres_admin_dsn, TEMPLATE)
    server = start_gateway(dsn, "http://127.0.0.1:9")
    yield server
    server.stop()
    await drop_database(postgres_admin_dsn, dsn)


@pytest_asyncio.fixture(loop_scope="session")
async def offline_page(browser):
    """A page whose only network is this machine: each other request is aborted and recorded,
    with the console's messages and every CSP violation."""
    context = await browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(WAIT)
    record = {"left": [], "console": [], "errors": [], "requests": []}

    async def only_loopback(route) -> None:
        url = route.request.url
        record["requests"].append(url)
        if urlsplit(url).hostname != "127.0.0.1":
            record["left"].append(url)
            await route.abort("internetdisconnected")
        else:
            await route.continue_()

    await context.route("**/*", only_loopback)
    await context.add_init_script(script=CSP_LISTENER)
    context.on("weberror", lambda error: record["errors"].append(str(error.error)))
    page = await context.new_page()
    page.on("console", lambda message: record["console"].append(f"{message.type}: {message.text}"))
    yield page, record
    await context.close()


async def check_offline(page, record) -> None:
    violations = await page.evaluate("() => window.__cspViolations")
    csp_console = [line for line in record["console"] if "Content Security Policy" in line]
    assert not record["left"], f"requests left the machine: {record['left']}"
    assert not violations and not csp_console, (violations, csp_console)
    assert not record["errors"], f"uncaught errors in the page: {record['errors']}"
    paths = {urlsplit(url).path for url in record["requests"]}
    assert all(path.startswith(("/api/v1/", "/favicon.ico")) for path in paths), paths


async def test_swagger_ui_renders_the_operations_offline(docs_gateway, offline_page) -> None:
    page, record = offline_page
    await page.goto(f"{docs_gateway.url}{API}/docs")
    operation = page.locator(".opblock-summary-path", has_text="/api/v1/chat/stream").first
    await operation.wait_for(state="visible", timeout=WAIT)
    assert await page.locator(".opblock").count() >= 10  # every operation, not just one
    await operation.click()  # expands: the schemas render too
    await page.locator(".opblock-body").first.wait_for(state="visible", timeout=WAIT)
    await check_offline(page, record)
    assert f"{docs_gateway.url}{DOCS_STATIC_URL}/swagger-init.js" in record["requests"]


async def test_redoc_renders_the_operations_offline(docs_gateway, offline_page) -> None:
    page, record = offline_page
    await page.goto(f"{docs_gateway.url}{API}/redoc")
    await page.locator("h1", has_text="Multichat gateway").wait_for(timeout=WAIT)
    await page.get_by_text("/api/v1/chat/stream").first.wait_for(state="attached", timeout=WAIT)
    # Search runs in ReDoc's Worker, made from a blob: URL (worker-src blob:, on this page only).
    await page.locator('input[placeholder="Search..."]').fill("conversation")
    results = page.locator('[data-role="search:results"] li')
    await results.filter(has_text="Create a conversation").wait_for(timeout=WAIT)
    logo = page.locator('img[alt="redocly logo"]')  # from the bundle's copy, not Redocly's CDN
    assert await logo.get_attribute("src") == f"{DOCS_STATIC_URL}/logo-mini.svg"
    await check_offline(page, record)


async def test_only_the_pages_files_are_served(docs_gateway) -> None:
    async with httpx.AsyncClient(base_url=docs_gateway.url) as http:
        for name in sorted({*DOCS_FILES, REDOC_SCRIPT}):
            response = await http.get(f"{DOCS_STATIC_URL}/{name}")
            assert response.status_code == 200, name
            kind = {"css": "text/css", "svg": "image/svg+xml"}.get(name[-3:], "text/javascript")
            assert response.headers["content-type"].startswith(kind), name
            revalidated = await http.get(
                f"{DOCS_STATIC_URL}/{name}", headers={"if-none-match": response.headers["etag"]}
            )
            assert revalidated.status_code == 304, name
        # The bundles' own demo pages load a CDN and an inline script: not served.
        for name in ("index.html", "swagger-initializer.js", "../redoc/vendor/index.html"):
            assert (await http.get(f"{DOCS_STATIC_URL}/{name}")).status_code == 404, name
        for page in ("docs", "redoc"):
            html = (await http.get(f"{API}/{page}")).text
            assert "http://" not in html and "https://" not in html and "<script>" not in html
        redoc = (await http.get(f"{DOCS_STATIC_URL}/{REDOC_SCRIPT}")).text
        assert "cdn.redoc.ly" not in redoc
