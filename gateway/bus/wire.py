"""The bus's names and the wire format of its entries.

A turn's events travel in its Redis Stream as entries of one field, ``e``: the SSE bytes of
one or more events back to back, exactly as a listener receives them. The entry's id is the
SSE id of its last event (``{id}-0``), so ``XREAD`` from a ``Last-Event-ID`` starts at the
entry that holds the next event.
"""

from __future__ import annotations

import orjson

# Every process's liveness: a sorted set of worker -> the time (Redis's clock) its heartbeat
# runs out (gateway/bus/heartbeat.py).
WORKERS = "multichat:workers"


def stream_key(turn_id: str) -> str:
    return f"multichat:turn:{turn_id}:events"


def watchers_key(turn_id: str) -> str:
    return f"multichat:turn:{turn_id}:watchers"


def taken_key(turn_id: str) -> str:
    """Set when another process took a turn over from its dead owner: the owner, should it
    come back to life, publishes nothing more to the turn's stream."""
    return f"multichat:turn:{turn_id}:taken"


def wake_key(worker: str) -> str:
    return f"multichat:worker:{worker}:wake"


def worker_turns_key(worker: str) -> str:
    """The turns a worker runs (and has published to), for whoever takes over from it."""
    return f"multichat:worker:{worker}:turns"


def bursts(events: list[tuple[str, int, bytes]]) -> dict[str, tuple[int, int, list[bytes]]]:
    """Events in publishing order, by turn: (first id, last id, their chunks in order)."""
    grouped: dict[str, tuple[int, int, list[bytes]]] = {}
    for turn_id, id, chunk in events:
        burst = grouped.get(turn_id)
        if burst is None:
            grouped[turn_id] = (id, id, [chunk])
        else:
            burst[2].append(chunk)
            grouped[turn_id] = (burst[0], id, burst[2])
    return grouped


def split_entry(packed: bytes) -> list[tuple[int, bytes]]:
    """An entry's events, each ``(id, its SSE bytes)``. Every event the log encodes starts
    with ``id: N`` and ends with the blank line; its data is one JSON line, which never holds
    a raw newline, so the first blank line after an event's start is its end."""
    events = []
    start, size = 0, len(packed)
    while start < size:
        stop = packed.index(b"\n\n", start) + 2
        events.append((int(packed[start + 4 : packed.index(b"\n", start)]), packed[start:stop]))
        start = stop
    return events


def entry_events(entries) -> list[tuple[int, bytes]]:
    """Every event of a stream's entries (as XRANGE or XREAD return them), in order."""
    return [event for _, fields in entries for event in split_entry(fields.get(b"e", b""))]


def is_late(id: int) -> bool:
    """The ids a replay gives the dones and end of a turn whose owner died (replay.py)."""
    return id > 10**9


def event_name(chunk: bytes) -> bytes:
    """``b"delta"``, ``b"done"`` ...: the name of an event the log encoded."""
    start = chunk.index(b"\nevent: ") + 8
    return chunk[start : chunk.index(b"\n", start)]


def is_delta(chunk: bytes) -> bool:
    return b"\nevent: delta\n" in chunk[:40]


def is_end(chunk: bytes) -> bool:
    return b"\nevent: end\n" in chunk[:40]


def event_data(chunk: bytes) -> dict:
    return orjson.loads(chunk.split(b"\ndata: ", 1)[1])


def done_provider(chunk: bytes) -> str | None:
    """The provider (or a blind turn's label) a done event is for; None for other events."""
    if b"\nevent: done\n" not in chunk[:40]:
        return None
    data = event_data(chunk)
    return data.get("provider") or data.get("label")
