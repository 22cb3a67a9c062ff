"""Who may ask: the Host and Origin checks (every mode) and authentication (when keys exist).

A pure ASGI middleware, so that streams pass through untouched; it looks at the request once,
before the app, and either refuses it with the one JSON error shape or lets it through with
``scope["state"]["owner"]`` set: the client key's id, or 0 in open mode.

* **Host** must be a loopback name, the configured ``HOST``, or one of ``ALLOWED_HOSTS``:
  a page on another site that rebinds its DNS name to 127.0.0.1 reaches the gateway with its
  own name in ``Host``, and gets 421.
* **Origin**, on a state-changing request, must be the gateway's own or one of
  ``CORS_ORIGINS`` (403 otherwise): with JSON bodies required (415), that is what keeps other
  sites from starting turns in a visitor's browser.
* **Authentication**: with no live client key and a loopback client, the gateway is open, as
  it always was (owner 0). Once keys exist, every API call needs one: ``Authorization: Bearer``,
  or the page's session cookie, or, on a turn's event stream, the signed token that its
  ``events_url`` carries. With no key and a client from elsewhere, nothing is open.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api.errors import error_response
from gateway.settings import Settings

SESSION_COOKIE = "multichat_session"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
EVENTS_PATH = re.compile(r"^/api/v1/turns/([A-Za-z0-9_-]{1,64})/events/?$")
# Readable by anyone who reaches the gateway: the page, its files, liveness, signing in, docs.
PUBLIC_PATHS = re.compile(
    r"^(/|/static/.*|/favicon\.ico|/api/v1/(health(/live|/ready)?|session|openapi\.json|docs.*|redoc.*))/?$"
)


def host_name(host: str) -> str:
    """``Host`` without its port, lower case (``[::1]:8000`` → ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def is_loopback(address: str | None) -> bool:
    if not address:
        return False
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return address == "localhost"


def allowed_hosts(settings: Settings) -> frozenset[str] | None:
    """The names this gateway answers to; None when ``ALLOWED_HOSTS`` is ``*``."""
    extra = [host_name(h) for h in settings.allowed_hosts]
    if "*" in extra:
        return None
    bound = [] if settings.host in ("", "0.0.0.0", "::") else [host_name(settings.host)]
    return frozenset({*LOOPBACK_NAMES, *bound, *extra})


class Guard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings
        self.hosts = allowed_hosts(settings)
        self.origins = frozenset(o.rstrip("/") for o in settings.cors_origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self.check_host_and_origin(scope, headers)
        if refusal is None:
            owner = await self.owner(scope, headers)
            if isinstance(owner, int):
                scope.setdefault("state", {})["owner"] = owner
                await self.app(scope, receive, send)
                return
            refusal = owner
        await refusal(scope, receive, send)

    def check_host_and_origin(self, scope: Scope, headers: Headers):
        host = headers.get("host", "")
        if self.hosts is not None and host_name(host) not in self.hosts:
            return error_response(
                421, "misdirected_request", "this gateway does not answer to that Host"
            )
        origin = headers.get("origin")
        if scope["method"] in UNSAFE_METHODS and origin is not None:
            own = f"{scope.get('scheme', 'http')}://{host}".lower()
            if origin.rstrip("/").lower() != own and origin.rstrip("/") not in self.origins:
                return error_response(
                    403, "forbidden_origin", "requests from this origin are not allowed"
                )
        return None

    async def owner(self, scope: Scope, headers: Headers):
        """The owner (an int), or the response that refuses the request."""
        if self.settings.auth == "off":
            return 0  # behind the operator's own authentication proxy, said loudly at start
        access = scope["app"].state.runtime.access
        path = scope["path"]
        if PUBLIC_PATHS.match(path):
            return -1  # no owner: these paths read no one's data
        if not access.keys.any_live:
            client = scope.get("client")
            if is_loopback(client[0] if client else None):
                return 0
            return unauthorized(
                "this gateway has no client keys yet; create one with `multichat keys create`"
            )
        key_id = await authenticated_key(access, scope, headers, path)
        if key_id is None:
            return unauthorized("a valid client key is required (Authorization: Bearer …)")
        return key_id


async def authenticated_key(access, scope: Scope, headers: Headers, path: str) -> int | None:
    """A key named by the request that is live: bearer, then session cookie, then turn token."""
    authorization = headers.get("authorization", "")
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        key = await access.keys.authenticate(credential.strip())
        return key.id if key is not None else None
    for candidate in candidates(scope, headers, path, access):
        if candidate is not None and await access.keys.is_live(candidate):
            return candidate
    return None


def candidates(scope: Scope, headers: Headers, path: str, access) -> Iterable[int | None]:
    cookie = cookie_value(headers.get("cookie", ""), SESSION_COOKIE)
    if cookie:
        yield access.signer.session_key(cookie)
    events = EVENTS_PATH.match(path)
    if events is not None:
        token = QueryParams(scope.get("query_string", b"").decode("latin-1")).get("token")
        if token:
            yield access.signer.token_key(token, events.group(1))


def cookie_value(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def unauthorized(message: str):
    return error_response(
        401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="multichat"'}
    )


def owner_of(request) -> int:
    """The owner the guard found for this request (0 in open mode)."""
    return request.scope.get("state", {}).get("owner", 0)
