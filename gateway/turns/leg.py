"""One leg: one provider answering one turn, its text relayed into the turn's log as it comes.

``run_leg`` is the per-token path of the whole gateway. It publishes ``start``, each delta and
each piece of reasoning (a ``thinking`` event, in the same id sequence, at the same cost), and
returns what the provider said as a ``LegResult``; storing the answer and announcing it
(``done``) are the registry's business, once per answer.

Text is made storable here, where it enters the gateway, and only here: PostgreSQL's ``text``
cannot hold U+0000, so it becomes U+FFFD before the delta is encoded. Deltas, ``done.content``
and the stored row are then the same text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from gateway.turns.events import status_data
from gateway.turns.log import EventLog, LegState
from providers import (
    CallSettings,
    Citations,
    Echo,
    Finish,
    Ignored,
    Message,
    Provider,
    ProviderError,
    Started,
    Status,
    Thinking,
    Usage,
)

log = logging.getLogger("multichat.turns")


@dataclass(slots=True)
class Leg:
    """A leg while it runs: its public state, what it runs, and how far a cancel can reach."""

    state: LegState
    provider: Provider
    thread: list[Message]
    settings: CallSettings | None = None  # this turn's, for this provider
    parts: list[str] = field(default_factory=list)  # the text so far
    thoughts: list[str] = field(default_factory=list)  # the reasoning so far
    checkpointed: tuple[int, int] = (0, 0)  # (parts, thoughts) the last checkpoint held
    task: asyncio.Task | None = None
    cancel_requested: bool = False
    entered: bool = False  # a task cancelled before it runs never enters its body
    storing: bool = False  # from here on a cancel cannot interrupt the leg
    cancel_reason: tuple[str, str] | None = None  # (error type, message) of a cancel with a reason
    counted: tuple[int, int, int] = (0, 0, 0)  # the budget's count: (parts, thoughts, chars)
    statuses: int = 0  # status events published (for the metrics' event count)

    def cancel(self, reason: tuple[str, str] | None = None) -> bool:
        """Ask the leg to stop; False when it is past the point where stopping matters."""
        if self.storing or self.cancel_requested or self.task is None:
            return False
        self.cancel_requested = True
        self.cancel_reason = reason
        if self.entered:
            self.task.cancel()
        return True


def storable(text: str) -> str:
    return text.replace("\x00", "\ufffd")


@dataclass(slots=True)
class LegResult:
    status: str  # complete | failed | cancelled
    content: str
    ttft_ms: float | None
    latency_ms: float
    finish: Finish | None = None
    usage: Usage | None = None
    citations: list[str] | None = None
    error: ProviderError | None = None
    thinking: str | None = None  # None: no reasoning came
    echo: dict | None = None  # what the API wants back with this answer (Echo)
    ignored: dict[str, str] | None = None  # settings the model was not given, and why


async def run_leg(leg: Leg, events: EventLog) -> LegResult:
    """Run the provider until its answer ends, fails or the leg is cancelled."""
    leg.entered = True
    state, provider = leg.state, leg.provider
    # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds.
    clock = time.perf_counter
    started = clock()
    append, publish_delta = leg.parts.append, events.publish_delta
    think, reasoning = leg.thoughts.append, state.reasoning
    ttft_ms = None
    finish: Finish | None = None
    usage: Usage | None = None
    citations: list[str] | None = None
    error: ProviderError | None = None
    echo: dict | None = None
    ignored: dict[str, str] = {}
    status = "cancelled" if leg.cancel_requested else "complete"

    def on_status(now: Status) -> None:  # a few times per answer, never per token
        leg.statuses += 1
        events.publish(
            "status",
            status_data(
                state.provider, now.state, now.attempt, now.attempts, now.retry_in_ms, state.label
            ),
        )

    try:
        if not leg.cancel_requested:  # else it was cancelled before this task first ran
            async for event in provider.adapter.stream(
                leg.thread, state.model, settings=leg.settings, on_status=on_status
            ):
                if type(event) is str:
                    if "\x00" in event:
                        event = storable(event)
                    if ttft_ms is None:
                        ttft_ms = (clock() - started) * 1000.0
                        state.status = "streaming"
                    append(event)
                    publish_delta(state, event)
                elif type(event) is Thinking:
                    text = event.text if "\x00" not in event.text else storable(event.text)
                    think(text)
                    publish_delta(reasoning, text)
                elif type(event) is Started:
                    state.status = "streaming"
                    events.publish("start", state.start_data())
                elif type(event) is Finish:
                    finish = event
                elif type(event) is Usage:
                    usage = event
                elif type(event) is Citations:
                    citations = [storable(url) for url in event.urls]
                elif type(event) is Echo:
                    echo = dict(event.data)
                elif type(event) is Ignored:
                    ignored[event.setting] = event.reason
    except ProviderError as failure:
        status, error = "failed", failure
        error.message = storable(error.message)  # it may quote what the upstream sent
    except asyncio.CancelledError:
        if not leg.cancel_requested:
            raise
        asyncio.current_task().uncancel()  # type: ignore[union-attr]  # inside the leg's task: current_task() is never None
        status = "cancelled"
    except Exception:  # a bug in an adapter must end its own leg, not the turn
        log.exception("%s adapter failed unexpectedly", state.provider)
        status = "failed"
        error = ProviderError(
            "internal_error", f"{state.provider}: the gateway failed to read the answer"
        )
    leg.storing = True
    return LegResult(
        status=status,
        content="".join(leg.parts),
        ttft_ms=round(ttft_ms, 3) if ttft_ms is not None else None,
        latency_ms=round((clock() - started) * 1000.0, 3),
        finish=finish,
        usage=usage,
        citations=citations,
        error=error,
        thinking="".join(leg.thoughts) if leg.thoughts else None,
        echo=echo,
        ignored=ignored or None,
    )
