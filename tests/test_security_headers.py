"""Every response carries the security headers: API JSON, errors, streams, files, pages, docs."""

from __future__ import annotations

import httpx

from gateway.api.headers import API_CONTENT_SECURITY_POLICY, SECURITY_HEADERS, SecurityHeaders
from gateway.api.openapi import REDOC_POLICY, SWAGGER_POLICY
from gateway.api.page import CONTENT_SECURITY_POLICY as PAGE_POLICY

API = "/api/v1"
COMMON = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cross-origin-opener-policy": "same-origin",
}


def missing_headers(response: httpx.Response, policy: str) -> dict[str, str | None]:
    """The expected headers this response lacks or carries with another value."""
    want = {**COMMON, "content-security-policy": policy}
    wrong = {name: response.headers.get(name) for name, value in want.items()}
    return {name: got for name, got in wrong.items() if got != want[name]}


async def test_every_kind_of_response_carries_them(stream_client: httpx.AsyncClient) -> None:
    http = stream_client
    api = API_CONTENT_SECURITY_POLICY
    checks: list[tuple[str, httpx.Response, int, str]] = []

    async def check(label: str, status: int, policy: str, method: str, url: str, **kw) -> None:
        checks.append((label, await http.request(method, url, **kw), status, policy))

    await check("json", 200, api, "GET", f"{API}/providers")
    await check("404", 404, api, "GET", f"{API}/turns/no-such-turn")
    await check("unknown path", 404, api, "GET", "/no/such/path")
    await check("422", 422, api, "POST", f"{API}/chat/stream", json={"prompt": ""})
    await check("400", 400, api, "POST", f"{API}/chat/stream", content=b"{", headers=json_type())
    await check("405", 405, api, "PUT", f"{API}/providers")
    await check("openapi.json", 200, api, "GET", f"{API}/openapi.json")
    await check("head", 200, api, "HEAD", f"{API}/openapi.json")
    await check("static file", 200, api, "GET", "/static/app.js")
    await check("page", 200, PAGE_POLICY, "GET", "/")
    await check("swagger ui", 200, SWAGGER_POLICY, "GET", f"{API}/docs")
    await check("redoc", 200, REDOC_POLICY, "GET", f"{API}/redoc")
    await check("docs file", 200, api, "GET", f"{API}/docs/static/swagger-ui-bundle.js")
    await check("docs 404", 404, api, "GET", f"{API}/docs/static/index.html")

    async with http.stream("POST", f"{API}/chat/stream", json={"prompt": "hi"}) as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        body = (await stream.aread()).decode()
        assert "event: end" in body  # headers added, and the stream went on to its end
    checks.append(("sse stream", stream, 200, api))

    problems = {
        label: (response.status_code, missing_headers(response, policy))
        for label, response, status, policy in checks
        if response.status_code != status or missing_headers(response, policy)
    }
    assert not problems, problems


def json_type() -> dict[str, str]:
    return {"content-type": "application/json"}


async def test_a_header_the_response_sets_wins_and_bodies_pass_one_by_one() -> None:
    sent: list[dict] = []
    chunks = [{"type": "http.response.body", "body": b"x", "more_body": True} for _ in range(3)]

    async def app(scope, receive, send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"Content-Security-Policy", b"default-src 'self'")],
            }
        )
        for chunk in chunks:
            await send(chunk)

    async def send(message: dict) -> None:
        sent.append(message)

    await SecurityHeaders(app)({"type": "http", "path": "/"}, None, send)
    start, *bodies = sent
    headers = {name.decode().lower(): value.decode() for name, value in start["headers"]}
    assert headers["content-security-policy"] == "default-src 'self'"  # kept, not duplicated
    assert len(start["headers"]) == len(SECURITY_HEADERS)
    assert headers["x-frame-options"] == "DENY"
    assert all(got is want for got, want in zip(bodies, chunks, strict=True))  # not copied


async def test_other_scopes_pass_untouched() -> None:
    seen = []

    async def app(scope, receive, send) -> None:
        seen.append(send)

    async def send(message: dict) -> None:
        raise AssertionError

    await SecurityHeaders(app)({"type": "lifespan"}, None, send)
    assert seen == [send]


def test_an_unexpected_500_carries_the_headers_too(database_url):
    """The only 500 is a bug's; Starlette answers it from outside the app's middleware."""
    from starlette.routing import Route
    from starlette.testclient import TestClient

    from gateway.app import create_app
    from tests.support.credentials import BROWSER_HEADERS
    from tests.support.gateways import make_settings

    async def boom(request):
        raise RuntimeError("a bug")

    app = create_app(make_settings(database_url=database_url, simulator_url="http://127.0.0.1:9"))
    app.router.routes.append(Route("/api/v1/boom", boom))
    local = ("127.0.0.1", 5000)
    with TestClient(app, "http://127.0.0.1", raise_server_exceptions=False, client=local) as client:
        response = client.get("/api/v1/boom", headers=BROWSER_HEADERS)
    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
