"""Every metric family of the gateway, in one registry per app, and what it records once per
answer, attempt, commit or turn (never per token).

What is *open* (turns, legs, listeners, upstream streams), the writer's queue and the pool are
read from the registry at scrape time by ``gateway.observability.collector``, which costs
nothing in between.

Labels stay bounded: ``provider`` (the configured providers), ``status`` (complete, failed,
cancelled), ``error_type`` (a short identifier; past ``MAX_ERROR_TYPES`` distinct ones, or
anything else, ``other``), ``reason``. Never a turn id, never a model.

With ``PROMETHEUS_MULTIPROC_DIR`` set (``multichat serve --workers N``), counters and
histograms are shared through prometheus-client's files; the scrape-time figures become
``livesum`` gauges that each worker refreshes every ``MULTIPROCESS_REFRESH`` seconds, and each
worker's CPU is ``multichat_process_cpu_seconds`` (the default process collector cannot see
the other workers).
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
    generate_latest,
)

from gateway.observability.collector import LIVE_FIGURES, LiveCollector
from gateway.observability.records import LegRecord

if TYPE_CHECKING:
    from gateway.turns.registry import TurnRegistry

# No `_created` sample beside every counter and histogram: half the series, no information
# that Prometheus uses (it is process-wide, as the gateway is the process).
disable_created_metrics()

# Time to first token and answer durations of LLMs: tens of milliseconds to minutes.
TTFT_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1, 1.5, 2, 3, 5, 8, 13, 20, 30, 60, 120)
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 3, 5, 8, 13, 20, 30, 45, 60, 90, 120, 180, 300)
GAP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
COMMIT_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)

MAX_ERROR_TYPES = 40
ERROR_TYPE = re.compile(r"[a-z][a-z0-9_]{0,39}")
MULTIPROCESS_REFRESH = 1.0


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


class Metrics:
    """The metric families of one app, in their own registry (never the process-global one,
    so that several apps in one process, as in the tests, each count their own)."""

    def __init__(self) -> None:
        self.multiprocess = multiprocess_dir() is not None
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.ttft = Histogram(
            "multichat_ttft_seconds",
            "Time from calling the provider to its first text, per answer",
            ["provider"],
            buckets=TTFT_BUCKETS,
            registry=r,
        )
        self.answer_duration = Histogram(
            "multichat_answer_duration_seconds",
            "Time from calling the provider to the answer's end, per answer",
            ["provider", "status"],
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.turn_duration = Histogram(
            "multichat_turn_duration_seconds",
            "Time from a turn's first provider call to its end event",
            buckets=DURATION_BUCKETS,
            registry=r,
        )
        self.gap = Histogram(
            "multichat_inter_token_gap_seconds",
            "Mean gap between an answer's deltas, (duration - ttft) / (deltas - 1), once per answer",
            ["provider"],
            buckets=GAP_BUCKETS,
            registry=r,
        )
        self.answers = Counter(
            "multichat_answers",
            "Answers finished, by provider and status",
            ["provider", "status"],
            registry=r,
        )
        self.failures = Counter(
            "multichat_answer_failures",
            "Failed answers, by provider and error type",
            ["provider", "error_type"],
            registry=r,
        )
        self.turns = Counter("multichat_turns", "Turns ended", registry=r)
        self.attempts = Counter(
            "multichat_upstream_attempts",
            "Upstream requests made (first attempts and retries)",
            ["provider"],
            registry=r,
        )
        self.retries = Counter(
            "multichat_upstream_retries",
            "Upstream requests that were retries (before the first token)",
            ["provider"],
            registry=r,
        )
        self.tokens = Counter(
            "multichat_relayed_tokens",
            "Text deltas relayed, counted once per answer",
            ["provider"],
            registry=r,
        )
        self.events = Counter(
            "multichat_relayed_events",
            "Events published into turns' logs (delta, start, status, done per answer; turn, end per turn)",
            registry=r,
        )
        self.dropped = Counter(
            "multichat_listeners_dropped",
            "Listeners dropped as too slow",
            ["reason"],
            registry=r,
        )
        self.batch = Histogram(
            "multichat_writer_batch_size",
            "Items per writer transaction",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.commit = Histogram(
            "multichat_writer_commit_seconds",
            "Time per writer transaction",
            buckets=COMMIT_BUCKETS,
            registry=r,
        )
        self._error_types: set[str] = set()
        self.source: TurnRegistry | None = None
        self._live: dict[str, Gauge] = {}
        if self.multiprocess:
            for name, doc, labels, _ in LIVE_FIGURES:
                self._live[name] = Gauge(name, doc, labels, registry=r, multiprocess_mode="livesum")
            self._live["multichat_process_cpu_seconds"] = Gauge(
                "multichat_process_cpu_seconds",
                "CPU seconds of the live worker processes (multiprocess mode)",
                registry=r,
                multiprocess_mode="livesum",
            )
        else:
            ProcessCollector(registry=r)
            r.register(LiveCollector(lambda: self.source))

    # -- hooks: each once per answer, attempt, commit or turn ---------------------------------

    def attempt_hook(self, provider: str) -> Callable[[int], None]:
        attempts, retries = self.attempts.labels(provider), self.retries.labels(provider)

        def on_attempt(number: int) -> None:
            attempts.inc()
            if number > 1:
                retries.inc()

        return on_attempt

    def on_commit(self, items: int, seconds: float) -> None:
        self.batch.observe(items)
        self.commit.observe(seconds)

    def listener_dropped(self, reason: str) -> None:
        self.dropped.labels(reason).inc()

    def answer(self, record: LegRecord) -> None:
        provider, status = record.provider, record.status
        self.answers.labels(provider, status).inc()
        self.answer_duration.labels(provider, status).observe(record.latency_ms / 1000.0)
        if record.ttft_ms is not None:
            self.ttft.labels(provider).observe(record.ttft_ms / 1000.0)
            if record.tokens > 1:
                gap = (record.latency_ms - record.ttft_ms) / (record.tokens - 1) / 1000.0
                self.gap.labels(provider).observe(max(gap, 0.0))
        if status == "failed":
            self.failures.labels(provider, self.error_label(record.error_type)).inc()
        self.tokens.labels(provider).inc(record.tokens)
        self.events.inc(record.tokens + 1 + (record.ttft_ms is not None) + record.statuses)

    def turn(self, seconds: float) -> None:
        self.turns.inc()
        self.turn_duration.observe(seconds)

    def error_label(self, error_type: str | None) -> str:
        if error_type is None:
            return "unknown"
        if error_type in self._error_types:
            return error_type
        if len(self._error_types) < MAX_ERROR_TYPES and ERROR_TYPE.fullmatch(error_type):
            self._error_types.add(error_type)
            return error_type
        return "other"

    # -- scraping -----------------------------------------------------------------------------

    def exposition(self) -> tuple[bytes, str]:
        if not self.multiprocess:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        from prometheus_client import multiprocess

        self.refresh()
        scrape = CollectorRegistry()
        multiprocess.MultiProcessCollector(scrape)
        return generate_latest(scrape), CONTENT_TYPE_LATEST

    def refresh(self) -> None:
        """Multiprocess mode: this worker's scrape-time figures into its livesum gauges."""
        if self.source is None:
            return
        for name, _, labels, read in LIVE_FIGURES:
            gauge = self._live[name]
            for values, value in read(self.source):
                (gauge.labels(*values) if labels else gauge).set(value)
        self._live["multichat_process_cpu_seconds"].set(time.process_time())

    async def refresh_forever(self) -> None:
        while True:
            self.refresh()
            await asyncio.sleep(MULTIPROCESS_REFRESH)

    def close(self) -> None:
        if self.multiprocess:
            from prometheus_client import multiprocess

            multiprocess.mark_process_dead(os.getpid())
