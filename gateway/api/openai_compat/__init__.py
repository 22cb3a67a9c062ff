"""The OpenAI-compatible API at the root: ``POST /v1/chat/completions``, ``GET /v1/models``.

``OpenAI(base_url="http://host:8000/v1", api_key=<client key>)`` works as against OpenAI: a
model id is a provider with an optional model (``claude``, ``claude:claude-haiku-4-5``), or
``multichat`` / ``multichat:claude,gemini`` for one choice per provider, streamed interleaved.

HTTP shaping only: a call is a turn of ``gateway.turns``, created and listened to like any
other; these modules translate the request into it and its events into OpenAI's shapes.

* ``openai_routes`` (``handlers``): the three endpoints.
* ``OpenAIErrors`` (``errors``): every error of a ``/v1/`` request in OpenAI's shape.

The modules: ``request`` (the body: read, refused or honoured), ``messages`` (messages and
parameters as a turn), ``models`` (model ids, the model list), ``chunks`` (the streaming
shape), ``completion`` (the non-streaming body), ``shapes`` (what both share), ``errors``,
``handlers``.
"""

from gateway.api.openai_compat.errors import OpenAIErrors
from gateway.api.openai_compat.handlers import openai_routes

__all__ = ["OpenAIErrors", "openai_routes"]
