"""Ending legs and turns: a leg's answer stored once and announced (``done``); once every leg
is done, the turn's end stored and sent, its log compacted after the reconnect window, and the
turn forgotten after the retention.

A ``done`` is sent only once the answer is committed: a client that sees ``complete`` can
rely on the row being there.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from typing import TYPE_CHECKING, Protocol

from gateway.settings import Settings
from gateway.turns.costs import answer_cost
from gateway.turns.events import done_data
from gateway.turns.grace import GraceTimers
from gateway.turns.leg import Leg, LegResult, run_leg
from gateway.turns.limits import KeyLimits
from gateway.turns.log import EventLog, LegState
from gateway.turns.replay import answer_error, sum_costs
from gateway.turns.table import TurnTable
from gateway.turns.turn import Turn
from providers import PriceTable
from storage import Answer, TurnEnd, Writer

if TYPE_CHECKING:
    from gateway.bus import EventBus

log = logging.getLogger("multichat.turns")


class TurnObserver(Protocol):
    """Told once per answer and once per turn (metrics, turn lines, traces), never per token:
    ``gateway.observability.observer.Observer``."""

    def leg_finished(self, turn: Turn, leg: Leg, result: LegResult, answer: Answer) -> None: ...

    def turn_ended(self, turn: Turn) -> None: ...

    def listener_dropped(self, reason: str) -> None: ...


class Endings:
    def __init__(
        self,
        table: TurnTable,
        settings: Settings,
        writer: Writer,
        limits: KeyLimits,
        grace: GraceTimers,
        bus: EventBus | None,
        prices: PriceTable,
    ) -> None:
        self.table = table
        self.settings = settings
        self.writer = writer
        self.limits = limits
        self.grace = grace
        self.bus = bus
        self.prices = prices
        self.observer: TurnObserver | None = None

    async def run(
        self, leg: Leg, events: EventLog, prompt_stored: asyncio.Future[Turn | None]
    ) -> None:
        """A leg's task: the provider answers, then (once the turn's prompt is stored) the
        answer is stored and announced."""
        result = await run_leg(leg, events)
        turn = await prompt_stored
        if turn is None:
            return  # the prompt was never stored: this leg is discarded
        await self._finish_leg(turn, leg, result)

    async def _finish_leg(self, turn: Turn, leg: Leg, result: LegResult) -> None:
        state = leg.state
        answer = answer_of(turn, state, result)
        answer.run = state.run
        answer.cost_usd = answer_cost(self.prices, leg, result)
        if leg.cancel_reason is not None and answer.status == "cancelled":
            answer.error_type, answer.error_message = leg.cancel_reason
        try:
            # The writer may store a row it cannot take as failed instead: the answer says so.
            state.message_id = await self.writer.store_answer(answer)
        except Exception:
            log.exception("could not store the %s answer of turn %s", state.provider, turn.id)
        if state.message_id is None and answer.status == "complete":
            # A client that sees "complete" relies on the row being there.
            answer.status, answer.error_type = "failed", "not_stored"
            answer.error_message = "the answer could not be stored"
        state.status, state.cost_usd = answer.status, answer.cost_usd
        turn.cost_usd = sum_costs((turn.cost_usd, answer.cost_usd))
        if (observer := self.observer) is not None:
            observer.leg_finished(turn, leg, result, answer)
        leg.provider.record(result.status)
        answer_row = asdict(answer)
        # Retryable only if what was stored is what the provider said (not unstorable, say).
        said = result.error
        retryable = said is not None and said.type == answer.error_type and said.retryable
        error = answer_error(answer_row, retryable=retryable)
        state.done = done_data(answer_row, state.message_id, error, state.label)
        state.done_event_id = turn.log.publish("done", state.done)
        await self.end_if_finished(turn)

    async def end_if_finished(self, turn: Turn) -> None:
        """Once every leg (a fusion's too) is done, the turn ends."""
        if all(s.finished for s in turn.legs.values()):
            await self._end(turn)

    async def _end(self, turn: Turn) -> None:
        # Every leg is done: nothing else can publish, so the end's id is known before it is sent.
        # A retry asked meanwhile waits for this end (``table.ending``), then reopens the turn.
        self.table.ending[turn.id] = ending = asyncio.Event()
        try:
            await self._store_end(turn)
        finally:
            del self.table.ending[turn.id]
            ending.set()

    async def _store_end(self, turn: Turn) -> None:
        end_id = turn.log.last_id + 1
        # A provider whose done has no id of its own (an interrupted one, rebuilt for a retry)
        # keeps the id its replay gives it.
        done_ids = {
            name: done_id
            for name, leg in turn.legs.items()
            if (done_id := leg.done_event_id) is not None
        }
        try:
            await self.writer.end_turn(TurnEnd(turn.id, turn.conversation_id, done_ids, end_id))
        except Exception:
            log.exception("could not mark turn %s finished", turn.id)
        end_id = turn.log.end(
            turn.id, {leg.label or name: leg.status for name, leg in turn.legs.items()}
        )
        if (observer := self.observer) is not None:
            observer.turn_ended(turn)
        if self.bus is not None:
            self.bus.ended(turn.id)
        self.table.running_legs.pop(turn.id, None)
        self.limits.release(turn.owner)
        self.grace.cancel(turn.id)
        loop = asyncio.get_running_loop()
        # The exact log for as long as a client that just dropped may come back (the grace, or
        # two EventSource retries); then only what the database replay would give (turn,
        # dones, end) until the retention ends: a finished turn's deltas are most of its bytes.
        keep = {1, end_id, *done_ids.values()}
        exact = max(self.settings.disconnect_grace, 2 * self.settings.retry_ms / 1000)
        loop.call_later(exact, turn.log.compact, keep)
        self.table.forget_later(turn.id, self.settings.replay_retention)


def answer_of(turn: Turn, state: LegState, result: LegResult) -> Answer:
    error, finish, usage = result.error, result.finish, result.usage
    return Answer(
        conversation_id=turn.conversation_id,
        turn_id=turn.id,
        provider=state.provider,
        model=state.model,
        status=result.status,
        content=result.content,
        finish_reason=finish.reason if finish else None,
        error_type=error.type if error else None,
        error_message=error.message if error else None,
        error_status_code=error.status_code if error else None,
        ttft_ms=result.ttft_ms,
        latency_ms=result.latency_ms,
        input_tokens=usage.input_tokens if usage else None,
        output_tokens=usage.output_tokens if usage else None,
        citations=result.citations,
        thinking=result.thinking,
        reasoning_tokens=usage.reasoning_tokens if usage else None,
        echo=result.echo,
        settings_ignored=result.ignored,
    )
