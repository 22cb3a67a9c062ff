"""The samples of a run and their percentiles.

Samples are appended to ``array('q')`` in nanoseconds while the streams run (no objects per
sample), and percentiles are computed once, at the end.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from gateway.tools.loadtest.config import LoadConfig

NS_PER_MS = 1_000_000


def percentile(ordered: Sequence[float], point: float) -> float:
    """Linear interpolation between closest ranks (numpy's default) of sorted values."""
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * point / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarise(samples: Sequence[int], points: Sequence[float] = (50, 95, 99)) -> dict[str, Any]:
    """Nanosecond samples as ``{"n", "p50", ...}`` in milliseconds (None when there are none)."""
    ordered = sorted(samples)
    summary: dict[str, Any] = {"n": len(ordered)}
    for point in points:
        value = percentile(ordered, point)
        summary[f"p{point:g}"] = None if math.isnan(value) else round(value / NS_PER_MS, 3)
    summary["max"] = round(ordered[-1] / NS_PER_MS, 3) if ordered else None
    return summary


class Stats:
    """Everything the clients of one run measure; one event loop, so no locks."""

    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        self.turns_started = 0
        self.turns_ok = 0
        self.turns_failed = 0
        self.deltas = 0
        self.turns_accepted = 0  # gateway: turns that got a `turn` event (answers expected)
        self.ttft: defaultdict[str, array] = defaultdict(lambda: array("q"))
        self.gaps: defaultdict[str, array] = defaultdict(lambda: array("q"))
        self.turn_time = array("q")
        # done.ttft_ms, the gateway's own measure from starting a leg to its first token: the
        # rest of the client's TTFT is the gateway's work before and after the upstream.
        self.reported_ttft = array("d")
        self.errors: Counter[str] = Counter()
        self.violations = 0
        self.violation_examples: list[str] = []
        self.open_turns = 0
        self.peak_open_turns = 0

    def error(self, kind: str, count: int = 1) -> None:
        self.errors[kind] += count

    def violation(self, kind: str, detail: str, where: str) -> None:
        self.violations += 1
        self.errors[f"violation: {kind}"] += 1
        if len(self.violation_examples) < self.config.show_violations:
            line = f"protocol violation ({where}): {kind}: {detail}"
            self.violation_examples.append(line)
            print(f"multichat loadtest: {line}", file=sys.stderr)
