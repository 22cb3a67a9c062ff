"""The page's sign-in: a client key once, then an HttpOnly, SameSite=Strict session cookie.

A browser's EventSource sends cookies but no Authorization header: a page on the gateway's
own origin signs in here, and its streams, like its other calls, carry the cookie. Clients on
other origins use ``Authorization: Bearer`` and the token in a turn's ``events_url``.

Over HTTPS (directly, behind a trusted TLS proxy, or with an https ``PUBLIC_URL``) the cookie
is ``Secure`` and named ``__Host-multichat_session``: a name the browser lets only a secure
page of this very host set, so another app on the host cannot plant one. Signing out ends the
session on the server (every process forgets it within a second), not only in this browser.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.api.body import read_json
from gateway.api.errors import HttpError
from gateway.api.guard import (
    SECURE_SESSION_COOKIE,
    SESSION_COOKIE,
    authenticated_key,
    is_secure,
    session_cookie_name,
    session_cookies,
)
from gateway.api.schemas import SessionState, SignIn, dump
from gateway.auth import Ambiguous
from gateway.runtime import runtime


async def session_state(request: Request) -> Response:
    """Who this request is: by its bearer key (scripts, and a browser told to send one) or by
    its session cookie."""
    gateway = runtime(request)
    if gateway.settings.auth == "off":
        return JSONResponse(dump(SessionState(auth="off", signed_in=True, admin=True)))
    headers = Headers(scope=request.scope)
    key = await authenticated_key(gateway.access, request.scope, headers, secure(request))
    if key is None or isinstance(key, Ambiguous):
        return JSONResponse(dump(SessionState(auth="keys", signed_in=False)))
    state = SessionState(auth="keys", signed_in=True, key_name=key.name, admin=key.admin)
    return JSONResponse(dump(state))


async def sign_in(request: Request) -> Response:
    gateway = runtime(request)
    body = await read_json(request, SignIn, gateway.settings.max_body_bytes)
    key = await gateway.access.keys.authenticate(body.key.strip())
    if key is None:
        raise HttpError(401, "that key is not a live client key", type="unauthorized")
    is_secure = secure(request)
    state = SessionState(auth="keys", signed_in=True, key_name=key.name, admin=key.admin)
    response = JSONResponse(dump(state))
    response.set_cookie(
        session_cookie_name(is_secure),
        await gateway.access.sessions.begin(key),
        max_age=int(gateway.settings.session_ttl),
        path="/",
        httponly=True,
        samesite="strict",
        secure=is_secure,
    )
    return response


async def sign_out(request: Request) -> Response:
    """End every session this browser's cookies name, here and on every other process."""
    gateway = runtime(request)
    is_secure = secure(request)
    cookies = session_cookies(Headers(scope=request.scope), is_secure)
    if cookies and gateway.settings.auth != "off":
        await gateway.access.sessions.end(cookies)
    response = Response(status_code=204)
    for name in (SESSION_COOKIE, SECURE_SESSION_COOKIE):
        secure_name = name == SECURE_SESSION_COOKIE
        if secure_name and not is_secure:
            continue  # a browser ignores a __Host- cookie sent over plain HTTP
        response.delete_cookie(
            name, path="/", httponly=True, samesite="strict", secure=secure_name or is_secure
        )
    return response


def secure(request: Request) -> bool:
    """As the guard decided it (HTTPS to us, or to the TLS proxy in front)."""
    return is_secure(request.scope, runtime(request).settings.public_url)
