"""Who may ask: the Host and Origin checks, then authentication, on every request.

A pure ASGI middleware, so that streams pass through untouched; it looks at the request once,
before the app, and either refuses it with the one JSON error shape or lets it through with
``scope["state"]["owner"]`` (the client key's id; 0 with ``AUTH=off``) and
``scope["state"]["admin"]`` set. It runs after ``gateway.auth.TrustedProxies``, so scheme,
client and Host are what a trusted proxy said, or the connection's own.

* **Host** must be one the gateway answers to (421 otherwise); **Origin**, on a state-changing
  request, must be an allowed one (403): see ``gateway.auth.origins``. With JSON bodies
  required (415), that is what keeps other sites from acting in a visitor's browser.
* **Credentials**, whatever the client's address: ``Authorization: Bearer <key>``, or the
  page's session cookie, or, on a turn's event stream only, the signed token its
  ``events_url`` carries. Nothing else reaches the API (401). ``AUTH=off`` trusts everyone,
  for deployments behind an authenticating proxy of their own.
* **Admin**: ``/metrics`` needs an admin key (or ``METRICS_TOKEN``, checked before this), and
  so does key management (its handlers check ``is_admin``).
"""

from __future__ import annotations

import re

from starlette.datastructures import Headers, QueryParams
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.api.errors import error_response
from gateway.api.requests import METRICS_PATH
from gateway.auth import Access, Ambiguous, ClientKey, allowance
from gateway.settings import Settings
from storage import UNAVAILABLE_ERRORS

SESSION_COOKIE = "multichat_session"
# Over HTTPS: a name that only a secure page of this very host, at path /, can set.
SECURE_SESSION_COOKIE = "__Host-multichat_session"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
EVENTS_PATH = re.compile(r"^/api/v1/turns/([A-Za-z0-9_-]{1,64})/events/?$")
# Readable by anyone who reaches the gateway: the page, its files, liveness, signing in, docs,
# and share links (/s/<token>: the token is what the view checks, gateway/api/shared_view.py).
PUBLIC_PATHS = re.compile(
    r"^(/|/static/.*|/favicon\.ico|/s/[^/]*|/api/v1/(health(/live|/ready)?|session|openapi\.json|docs.*|redoc.*))/?$"
)
NO_OWNER = -1  # a public path read without credentials: it reads no one's data


class Guard:
    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.auth_off = settings.auth == "off"
        self.public_url = settings.public_url
        self.allowance = allowance(
            host=settings.host,
            allowed_hosts=settings.allowed_hosts,
            public_url=settings.public_url,
            cors_origins=settings.cors_origins,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self.check_host_and_origin(scope, headers)
        if refusal is None:
            try:
                who = await self.who(scope, headers)
            except UNAVAILABLE_ERRORS:
                who = error_response(503, "unavailable", "the database is unavailable")
            if isinstance(who, tuple):
                state = scope.setdefault("state", {})
                state["owner"], state["admin"] = who
                await self.app(scope, receive, send)
                return
            refusal = who
        await refusal(scope, receive, send)

    def check_host_and_origin(self, scope: Scope, headers: Headers):
        host = headers.get("host", "")
        if not self.allowance.host_allowed(host):
            return error_response(
                421,
                "misdirected_request",
                "this gateway does not answer to that Host (see ALLOWED_HOSTS and PUBLIC_URL)",
            )
        origin = headers.get("origin")
        if (
            scope["method"] in UNSAFE_METHODS
            and origin is not None
            and not self.allowance.origin_allowed(origin, scope.get("scheme", "http"), host)
        ):
            return error_response(
                403,
                "forbidden_origin",
                "requests from this origin are not allowed (PUBLIC_URL, ALLOWED_HOSTS and"
                " CORS_ORIGINS name the allowed ones; behind a proxy, see TRUSTED_PROXIES)",
            )
        return None

    async def who(self, scope: Scope, headers: Headers):
        """(owner, admin), or the response that refuses the request."""
        if self.auth_off:
            return 0, True  # behind the operator's own authentication, said loudly at start
        path = scope["path"]
        if PUBLIC_PATHS.match(path):
            return NO_OWNER, False
        access: Access = scope["app"].state.runtime.access
        key = await authenticated_key(access, scope, headers, is_secure(scope, self.public_url))
        if isinstance(key, Ambiguous):
            return unauthorized(
                "more than one session cookie for this site: sign out, or clear its cookies"
            )
        if key is None:
            return unauthorized(
                "credentials are required: Authorization: Bearer <client key>, or sign in on"
                " the page"
            )
        if path.rstrip("/") == METRICS_PATH and not key.admin:
            return error_response(403, "forbidden", "/metrics needs an admin key")
        return key.id, key.admin


def is_secure(scope: Scope, public_url: str | None) -> bool:
    """Whether the browser talks HTTPS: to us, or to the TLS proxy in front (a trusted one
    says so in X-Forwarded-Proto; otherwise an https PUBLIC_URL does)."""
    return scope.get("scheme") == "https" or (public_url or "").startswith("https://")


async def authenticated_key(
    access: Access, scope: Scope, headers: Headers, secure: bool
) -> ClientKey | Ambiguous | None:
    """The live key a request names: bearer, else session cookie, else (on a turn's stream
    only) the token of its events_url."""
    scheme, _, credential = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credential.strip():
        return await access.keys.authenticate(credential.strip())
    cookies = session_cookies(headers, secure)
    if cookies:
        found = await access.sessions.authenticate(cookies)
        if found is not None:
            return found
    events = EVENTS_PATH.match(scope["path"])
    if events is not None:
        token = QueryParams(scope.get("query_string", b"").decode("latin-1")).get("token")
        key_id = access.signer.token_key(token, events.group(1)) if token else None
        if key_id is not None:
            return await access.keys.live(key_id)
    return None


def session_cookies(headers: Headers, secure: bool) -> list[str]:
    """Every value of the session cookie's name: a browser sends one per path and domain
    that set it, and one may come from another app of this host (cookies ignore ports)."""
    name = SECURE_SESSION_COOKIE if secure else SESSION_COOKIE
    values = []
    for header in headers.getlist("cookie"):
        for part in header.split(";"):
            key, _, value = part.strip().partition("=")
            if key == name and value:
                values.append(value.strip('"'))
    return values


def session_cookie_name(secure: bool) -> str:
    return SECURE_SESSION_COOKIE if secure else SESSION_COOKIE


def unauthorized(message: str):
    return error_response(
        401, "unauthorized", message, headers={"WWW-Authenticate": 'Bearer realm="multichat"'}
    )


def owner_of(request) -> int:
    """The owner the guard found for this request (0 with AUTH=off)."""
    return request.scope.get("state", {}).get("owner", 0)


def is_admin(request) -> bool:
    return bool(request.scope.get("state", {}).get("admin", False))
