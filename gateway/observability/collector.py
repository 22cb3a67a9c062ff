"""The open figures (turns, legs, listeners, upstream streams, the writer's queue, the pool),
read from the turn registry when Prometheus scrapes: nothing is counted in between."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from gateway.turns.registry import TurnRegistry


class LiveCollector(Collector):
    """The open figures, computed from the turn registry when Prometheus scrapes."""

    def __init__(self, source: Callable[[], TurnRegistry | None]) -> None:
        self.source = source

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[GaugeMetricFamily]:
        source = self.source()
        if source is None:
            return
        for name, doc, labels, read in LIVE_FIGURES:
            family = GaugeMetricFamily(name, doc, labels=list(labels))
            for values, value in read(source):
                family.add_metric(list(values), value)
            yield family


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
