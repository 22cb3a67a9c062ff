"""What an answer looked like once it ended: the one record metrics, the turn's log line and
its trace are all made from."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True)
class LegRecord:
    """One finished answer, as metrics, the turn's log line and its trace see it."""

    provider: str
    model: str
    status: str
    error_type: str | None
    ttft_ms: float | None
    latency_ms: float
    tokens: int
    ended_ns: int  # wall clock, for traces
    statuses: int = 0  # status events it published (waiting, retrying, streaming)
