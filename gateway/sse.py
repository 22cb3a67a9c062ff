"""Encoding events as SSE bytes, once each. The delta path is the per-token hot path."""

from __future__ import annotations

from typing import Any

import orjson


def event_bytes(id: int, name: str, data: Any) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (id, name.encode(), orjson.dumps(data))


def delta_prefix(provider: str) -> bytes:
    """Everything of a delta event between its id and its text, built once per leg."""
    return b'\nevent: delta\ndata: {"provider":%s,"text":' % orjson.dumps(provider)


def delta_bytes(id: int, prefix: bytes, text: str) -> bytes:
    # orjson escapes U+2028/U+2029 and control characters, so the data stays on one line.
    return b"id: %d%s%s}\n\n" % (id, prefix, orjson.dumps(text))


def retry_bytes(milliseconds: int) -> bytes:
    return b"retry: %d\n\n" % milliseconds
