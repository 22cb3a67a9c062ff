"""HTTP and nothing else: routes, request and response schemas, errors, the stream response.

Handlers validate and read the request, call the turn domain (``gateway.turns``) or storage,
and shape the response. Domain errors become status codes in ``errors.py``, and only there.

What this package offers:

* ``ENDPOINTS`` (``endpoints``): every API endpoint, declared once with its schemas; the routes
  and the OpenAPI document are both generated from it.
* ``EXCEPTION_HANDLERS`` (``errors``): the one JSON error shape, for every failure.
* ``page_routes`` (``page``): the comparison page and its static files.
* ``openapi_document`` and ``build_routes`` (``openapi``).
* ``API`` (``paths``): the prefix of every route.

Its modules import each other by their own names (``gateway.api.errors``), never through this
package: it imports them, so they must not import it back.
"""

from gateway.api.endpoints import ENDPOINTS
from gateway.api.errors import EXCEPTION_HANDLERS, HttpError
from gateway.api.openapi import build_routes, openapi_document
from gateway.api.page import page_routes
from gateway.api.paths import API

__all__ = [
    "API",
    "ENDPOINTS",
    "EXCEPTION_HANDLERS",
    "HttpError",
    "build_routes",
    "openapi_document",
    "page_routes",
]
