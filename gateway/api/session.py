"""The page's sign-in: a client key once, then an HttpOnly, SameSite=Strict session cookie.

A browser's EventSource sends cookies but no Authorization header: a page on the gateway's
own origin signs in here, and its streams, like its other calls, carry the cookie. Clients on
other origins use ``Authorization: Bearer`` and the token in a turn's ``events_url``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.api.body import read_json
from gateway.api.errors import HttpError
from gateway.api.guard import SESSION_COOKIE, is_loopback
from gateway.api.schemas import SessionState, SignIn, dump
from gateway.runtime import runtime


async def session_state(request: Request) -> Response:
    gateway = runtime(request)
    if gateway.settings.auth == "off":
        return JSONResponse(dump(SessionState(auth="off", signed_in=True)))
    keys = gateway.access.keys
    if not keys.any_live:
        client = request.client.host if request.client else None
        mode = "open" if is_loopback(client) else "keys"
        return JSONResponse(dump(SessionState(auth=mode, signed_in=mode == "open")))
    key_id = gateway.access.signer.session_key(request.cookies.get(SESSION_COOKIE, ""))
    name = await keys.name_of(key_id) if key_id is not None else None
    return JSONResponse(dump(SessionState(auth="keys", signed_in=name is not None, key_name=name)))


async def sign_in(request: Request) -> Response:
    gateway = runtime(request)
    body = await read_json(request, SignIn, gateway.settings.max_body_bytes)
    key = await gateway.access.keys.authenticate(body.key.strip())
    if key is None:
        raise HttpError(401, "that key is not a live client key", type="unauthorized")
    response = JSONResponse(dump(SessionState(auth="keys", signed_in=True, key_name=key.name)))
    response.set_cookie(
        SESSION_COOKIE,
        gateway.access.signer.session(key.id),
        max_age=int(gateway.settings.session_ttl),
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


async def sign_out(request: Request) -> Response:
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response
