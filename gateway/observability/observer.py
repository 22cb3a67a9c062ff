"""The observer: what the turn registry tells once per answer and once per turn, fanned out to
the metric families, the JSON turn line and the trace; and ``install``, which hooks all three
into a started runtime.

The hooks are where things happen once:

* a leg's end (the registry's ``_finish_leg``): the answer's TTFT, duration, mean inter-token
  gap, status, error type, and its relayed tokens and events, counted from the leg's parts;
* a turn's end: the turn's duration, its JSON log line (``LOG_FORMAT=json``) and its trace
  (``gateway.observability.tracing``, when enabled);
* each upstream attempt (``Adapter.on_attempt``, a plain callback in ``providers``);
* each writer commit (``Writer.on_commit``, a plain callback in ``storage``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gateway.observability.families import Metrics
from gateway.observability.records import LegRecord
from gateway.observability.turn_log import log_turn

if TYPE_CHECKING:
    from gateway.observability.tracing import TurnTracer
    from gateway.runtime import Runtime
    from gateway.turns.leg import Leg, LegResult
    from gateway.turns.turn import Turn
    from storage import Answer


@dataclass
class Observer:
    """Fans a leg's end and a turn's end out to metrics, the JSON turn line and traces; each
    part is optional (``METRICS=off``, ``LOG_FORMAT=text``, no tracing)."""

    metrics: Metrics | None = None
    log_turns: bool = False
    tracer: TurnTracer | None = None
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
        from gateway.observability.tracing import tracer_from_environment

        tracer = tracer_from_environment()
    if tracer is not None:
        stack.callback(tracer.shutdown)
    if metrics is None and settings.log_format != "json" and tracer is None:
        return None
    observer = Observer(metrics, settings.log_format == "json", tracer)
    turns = runtime.turns
    turns.observer = observer  # told of each answer's and turn's end
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
