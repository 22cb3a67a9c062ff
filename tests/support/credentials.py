"""The client key of the test suite: every gateway a test starts accepts it (as MULTICHAT_KEY),
and the suite's HTTP clients send it to those gateways by default.

Every API call needs credentials (#20), so without this each of the suite's hundreds of
requests would have to carry a header. Instead:

* ``install()`` puts ``TEST_KEY`` in the environment, where the gateways read MULTICHAT_KEY
  (in-process ones through ``load_settings``, ``multichat serve`` processes by inheritance);
* a gateway that does accept it, once listening, is registered by port (``accepting``);
* httpx's transports add ``Authorization: Bearer TEST_KEY`` to a request for a registered
  port, unless the request has an Authorization header already.

Tests about authentication start their gateways with ``multichat_key=None`` (or an
environment without it): those are not registered, and their clients send nothing unasked.
Browsers are given the key per context (``BROWSER_HEADERS``).
"""

from __future__ import annotations

import functools
import os
import secrets

import httpx

TEST_KEY = "mck_test_" + secrets.token_urlsafe(32)
BROWSER_HEADERS = {"Authorization": f"Bearer {TEST_KEY}"}
AUTHORIZATION = f"Authorization: Bearer {TEST_KEY}\r\n".encode()  # for raw-socket requests
LOOPBACK = frozenset({"127.0.0.1", "localhost"})
_ACCEPTING: set[int] = set()


def accepting(port: int, takes_key: bool = True) -> None:
    """Whether the gateway (or the balancer in front of gateways) now on this port takes
    TEST_KEY. Said of every gateway a test starts, those that do not take it too: a port is
    used again by later servers, and a key-less gateway on a port where a suite-key one was
    would get TEST_KEY added to every request, its bearer checked before any cookie or token
    (its cookie and token tests failed now and then, a 401 for a fresh credential)."""
    if takes_key:
        _ACCEPTING.add(port)
    else:
        _ACCEPTING.discard(port)


def stopped(port: int) -> None:
    """Nothing of ours listens on this port any more."""
    _ACCEPTING.discard(port)


def takes_test_key(environment: dict[str, str]) -> bool:
    """Whether a gateway started with this environment accepts TEST_KEY."""
    return environment.get("MULTICHAT_KEY", os.environ.get("MULTICHAT_KEY")) == TEST_KEY


def app_takes_test_key(app: object) -> bool:
    settings = getattr(getattr(app, "state", None), "settings", None)
    key = getattr(settings, "multichat_key", None)
    return key is not None and key.get_secret_value() == TEST_KEY


def add_test_key(request: httpx.Request) -> None:
    url = request.url
    if url.port in _ACCEPTING and url.host in LOOPBACK and "authorization" not in request.headers:
        request.headers["Authorization"] = f"Bearer {TEST_KEY}"


def install() -> None:
    """At the transport, so that every way of making a request gets it: clients, httpx.get,
    SDKs built on httpx. The gateways' own upstream calls use their own transport: untouched."""
    os.environ["MULTICHAT_KEY"] = TEST_KEY
    if getattr(httpx.HTTPTransport.handle_request, "sends_test_key", False):
        return
    handle, handle_async = (
        httpx.HTTPTransport.handle_request,
        httpx.AsyncHTTPTransport.handle_async_request,
    )

    @functools.wraps(handle)
    def handle_request(self, request):
        add_test_key(request)
        return handle(self, request)

    @functools.wraps(handle_async)
    async def handle_async_request(self, request):
        add_test_key(request)
        return await handle_async(self, request)

    handle_request.sends_test_key = True  # type: ignore[attr-defined]
    httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]
    httpx.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign]
