"""Every metric family of the gateway, and the observer that feeds them once per answer.

Nothing here runs per token. The hooks are where things happen once:

* a leg's end (``TurnRegistry._finish_leg``): the answer's TTFT, duration, mean inter-token gap,
  status, error type, and its relayed tokens and events, counted from the leg's parts;
* a turn's end (``TurnRegistry._end``): the turn's duration, its JSON log line
  (``LOG_FORMAT=json``) and its trace (``gateway.tracing``, when enabled);
* each upstream attempt (``Adapter.on_attempt``, a plain callback in ``providers``);
* each writer commit (``Writer.on_commit``, a plain callback in ``storage``).

What is *open* (turns, legs, listeners, upstream streams), the writer's queue and the pool are
read from the registry at scrape time by a custom collector, which costs nothing in between.

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
import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from gateway.runtime import Runtime
    from gateway.tracing import TurnTracer
    from gateway.turns.leg import Leg, LegResult
    from gateway.turns.registry import TurnRegistry
    from gateway.turns.turn import Turn
    from storage import Answer

turn_log = logging.getLogger("multichat.turn")
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
            r.register(LiveCollector(self))

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


# -- what is open, read at scrape time ------------------------------------------------------------

Figure = Iterator[tuple[tuple[str, ...], float]]


def _open_turns(turns: TurnRegistry) -> Figure:
    yield (), len(turns.running_legs)


def _legs(turns: TurnRegistry, streaming: bool) -> Figure:
    counts = dict.fromkeys(turns.providers, 0)
    for legs in list(turns.running_legs.values()):
        for name, leg in legs.items():
            status = leg.state.status
            if (status == "streaming") if streaming else status in ("pending", "streaming"):
                counts[name] = counts.get(name, 0) + 1
    for name, count in counts.items():
        yield (name,), count


def _listeners(turns: TurnRegistry) -> Figure:
    yield (), sum(len(getattr(t.log, "listeners", ())) for t in list(turns.turns.values()))


def _writer_queue(turns: TurnRegistry) -> Figure:
    yield (), turns.writer.queue.qsize()


def _writer_capacity(turns: TurnRegistry) -> Figure:
    yield (), turns.writer.queue.maxsize


def _pool(turns: TurnRegistry, which: str) -> Figure:
    pool = turns.pool
    size, idle = pool.get_size(), pool.get_idle_size()
    yield (), {"in_use": size - idle, "size": size, "max": pool.get_max_size()}[which]


LIVE_FIGURES: tuple[tuple[str, str, tuple[str, ...], Callable[[Any], Figure]], ...] = (
    ("multichat_open_turns", "Turns with an answer still running", (), _open_turns),
    (
        "multichat_open_legs",
        "Answers still running (upstream called, not yet finished)",
        ("provider",),
        lambda t: _legs(t, streaming=False),
    ),
    (
        "multichat_upstream_streams",
        "Upstream responses streaming text now",
        ("provider",),
        lambda t: _legs(t, streaming=True),
    ),
    ("multichat_listeners", "Connected event-stream listeners", (), _listeners),
    ("multichat_writer_queue_depth", "Items waiting for the writer", (), _writer_queue),
    ("multichat_writer_queue_size", "The writer queue's capacity", (), _writer_capacity),
    (
        "multichat_db_pool_in_use",
        "Database connections in use",
        (),
        lambda t: _pool(t, "in_use"),
    ),
    ("multichat_db_pool_size", "Database connections open", (), lambda t: _pool(t, "size")),
    ("multichat_db_pool_max", "The pool's maximum size", (), lambda t: _pool(t, "max")),
)


class LiveCollector(Collector):
    """The open figures, computed from the turn registry when Prometheus scrapes."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        source = self.metrics.source
        if source is None:
            return
        for name, doc, labels, read in LIVE_FIGURES:
            family = GaugeMetricFamily(name, doc, labels=list(labels))
            for values, value in read(source):
                family.add_metric(list(values), value)
            yield family


# -- the observer: what the registry's hooks call ------------------------------------------------


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


@dataclass
class Observer:
    """Fans a leg's end and a turn's end out to metrics, the JSON turn line and traces; each
    part is optional (``METRICS=off``, ``LOG_FORMAT=text``, no tracing)."""

    metrics: Metrics | None = None
    log_turns: bool = False
    tracer: Any = None  # gateway.tracing.TurnTracer
    _legs: dict[str, list[LegRecord]] = field(default_factory=dict)

    def listener_dropped(self, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.listener_dropped(reason)

    def leg_finished(self, turn: Turn, leg: Leg, result: LegResult, answer: Answer) -> None:
        record = LegRecord(
            provider=leg.state.provider,
            model=leg.state.model,
            status=answer.status,
            error_type=answer.error_type,
            ttft_ms=result.ttft_ms,
            latency_ms=result.latency_ms,
            tokens=len(leg.parts),
            ended_ns=time.time_ns(),
            statuses=leg.statuses,
        )
        if self.metrics is not None:
            self.metrics.answer(record)
        self._legs.setdefault(turn.id, []).append(record)

    def turn_ended(self, turn: Turn) -> None:
        records = self._legs.pop(turn.id, [])
        now = time.time_ns()
        started = min((r.ended_ns - int(r.latency_ms * 1e6) for r in records), default=now)
        if self.metrics is not None:
            self.metrics.events.inc(2)  # turn and end
            self.metrics.turn((now - started) / 1e9)
        if self.log_turns:
            log_turn(turn, records, (now - started) / 1e6)
        if self.tracer is not None:
            self.tracer.turn(turn, records, started, now)


def install(
    metrics: Metrics | None,
    runtime: Runtime,
    stack: contextlib.AsyncExitStack,
    tracer: TurnTracer | None = None,
) -> Observer | None:
    """Hook metrics, turn lines and traces into a started runtime; None when all are off."""
    settings = runtime.settings
    if tracer is None:
        from gateway.tracing import tracer_from_environment

        tracer = tracer_from_environment()
    if tracer is not None:
        stack.callback(tracer.shutdown)
    if metrics is None and settings.log_format != "json" and tracer is None:
        return None
    observer = Observer(metrics, settings.log_format == "json", tracer)
    turns = runtime.turns
    turns.observer = observer  # type: ignore[attr-defined]  # read in _finish_leg and _end
    if metrics is not None:
        metrics.source = turns
        turns.writer.on_commit = metrics.on_commit
        for name, provider in runtime.providers.items():
            provider.adapter.on_attempt = metrics.attempt_hook(name)
        if metrics.multiprocess:
            refresher = asyncio.get_running_loop().create_task(metrics.refresh_forever())
            stack.callback(metrics.close)
            stack.callback(refresher.cancel)
    return observer


def log_turn(turn: Turn, records: list[LegRecord], duration_ms: float) -> None:
    turn_log.info(
        "turn %s finished",
        turn.id,
        extra={
            "fields": {
                "event": "turn",
                "turn_id": turn.id,
                "conversation_id": turn.conversation_id,
                "providers": [r.provider for r in records],
                "statuses": {r.provider: r.status for r in records},
                "ttft_ms": {r.provider: r.ttft_ms for r in records},
                "tokens": {r.provider: r.tokens for r in records},
                "duration_ms": round(duration_ms, 3),
            }
        },
    )
