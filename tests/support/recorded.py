"""The recorded upstream traffic in tests/data/adapters: streams byte for byte (``.sse`` files,
LF or CRLF framed as sent) and the providers' error bodies before a stream starts."""

from __future__ import annotations

import json
from typing import Any

from tests.support.paths import DATA

ADAPTERS = DATA / "adapters"


def recorded_stream(name: str) -> bytes:
    """The exact bytes of ``tests/data/adapters/streams/<name>.sse``."""
    return (ADAPTERS / "streams" / f"{name}.sse").read_bytes()


def pre_stream_errors() -> list[dict[str, Any]]:
    """Each case of ``errors-before-the-stream.json``: ``id``, ``provider``, ``status``, optional
    ``headers``, the body as ``json`` or ``text``, and the ``expected`` ProviderError fields."""
    return json.loads((ADAPTERS / "errors-before-the-stream.json").read_text())
