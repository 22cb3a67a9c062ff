"""A turn's event stream as the gateway encodes it, made by hand: the bytes the load
generator's checker and the Locust user are fed (a good stream, and pieces to break it with)."""

from __future__ import annotations

from gateway.turns.events import delta_bytes, delta_prefix, event_bytes


def turn(providers: tuple[str, ...] = ("claude", "gemini"), id: int = 1) -> bytes:
    entries = [{"provider": p, "model": "m", "simulated": True} for p in providers]
    data = {"turn_id": "t1", "conversation_id": 1, "user_message_id": 1, "providers": entries}
    return event_bytes(id, "turn", data)


def delta(id: int, provider: str, text: str) -> bytes:
    return delta_bytes(id, delta_prefix(provider), text)


def done(id: int, provider: str, content: str, status: str = "complete") -> bytes:
    data = {"provider": provider, "status": status, "message_id": id, "content": content}
    data["error"] = None if status == "complete" else {"type": "upstream_error", "message": "x"}
    return event_bytes(id, "done", data)


def end(id: int, statuses: dict[str, str]) -> bytes:
    return event_bytes(id, "end", {"turn_id": "t1", "statuses": statuses})


def good_stream() -> list[bytes]:
    both = {"claude": "complete", "gemini": "complete"}
    return [
        b"retry: 2000\n\n",
        turn(),
        event_bytes(2, "start", {"provider": "claude", "model": "m"}),
        delta(3, "claude", "Hello"),
        delta(4, "gemini", "Hi"),
        delta(5, "claude", " world"),
        b": ping\n\n",
        done(6, "gemini", "Hi"),
        done(7, "claude", "Hello world"),
        end(8, both),
    ]
