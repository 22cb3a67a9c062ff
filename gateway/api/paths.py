"""Where the API lives: the one prefix every route and every URL the gateway hands out starts
with (its own module, so that any handler can build a URL without importing the route table)."""

from __future__ import annotations

API = "/api/v1"


def events_path(turn_id: str) -> str:
    """A turn's event stream (``GET``), as ``events_url`` names it."""
    return f"{API}/turns/{turn_id}/events"
