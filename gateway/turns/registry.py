"""The turn registry: where turns are created, found, rerun and cancelled; the one object the
HTTP layer talks to. It holds the process's turns and puts its collaborators together:

* ``admission``: which providers, whether a turn may start now, starting it;
* ``ending``: a leg's answer stored and announced, a turn's end;
* ``reruns``: retry and add (``RerunService``);
* ``grace``: the waits for a listener, after which what still runs is cancelled;
* ``bridge``: the other gateway processes, over the Redis bus (with ``REDIS_URL``).

A turn runs on the server, not inside an HTTP connection: its legs are tasks that relay their
provider's text into the turn's log as it arrives, and store their answer once, when they end.
Listeners come and go; when the last one leaves, the turn waits ``disconnect_grace`` seconds
for a reconnect before it cancels what is still running (and stores it as ``cancelled``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from gateway.settings import Settings
from gateway.turns.admission import Admission
from gateway.turns.bridge import ProcessBridge, event_bus
from gateway.turns.checkpoints import Checkpointer
from gateway.turns.costs import BudgetWatch
from gateway.turns.ending import Endings, TurnObserver
from gateway.turns.fuse.service import FuseService
from gateway.turns.grace import GraceTimers
from gateway.turns.leases import LeaseKeeper
from gateway.turns.limits import KeyLimits
from gateway.turns.log import BufferBudget, EventLog
from gateway.turns.replay import StoredTurn, load_owned_turn
from gateway.turns.reruns.choice import Rerun
from gateway.turns.reruns.claims import Claims
from gateway.turns.reruns.service import RerunService
from gateway.turns.table import TurnTable
from gateway.turns.tree import Parent
from gateway.turns.turn import Turn
from gateway.turns.turn_settings import TurnSettings
from providers import Message, Provider
from storage import Pool, Writer

log = logging.getLogger("multichat.turns")


class TurnRegistry:
    def __init__(self, settings: Settings, pool: Pool, providers: dict[str, Provider]) -> None:
        self.settings = settings
        self.pool = pool
        self.providers = providers
        self.table = table = TurnTable()
        self.writer = Writer(
            pool, batch_size=settings.writer_batch, queue_size=settings.writer_queue
        )
        # What every listener of this process may buffer together (LISTENER_BUFFER_TOTAL).
        self.listener_budget = BufferBudget(settings.listener_buffer_total)
        self.bridge = bridge = ProcessBridge(table, pool, self.rerun, self.fuse)
        self.bus = bridge.bus = (
            event_bus()(
                settings.redis_url,
                retention=settings.redis_stream_retention,
                listener_limit=settings.listener_buffer_bytes,
                listener_budget=self.listener_budget,
                grace=settings.disconnect_grace,
                on_cancel=bridge.cancel_from_elsewhere,
                on_reveal=bridge.reveal_from_elsewhere,
                on_rerun=bridge.rerun_from_elsewhere,
                on_fenced=bridge.taken_from_us,
                pool=pool,
                heartbeat=settings.redis_heartbeat,
            )
            if settings.redis_url
            else None
        )
        self.leases = LeaseKeeper(
            pool,
            lambda: table.running_legs,
            lease_seconds=settings.turn_lease,
            on_interrupted=bridge.interrupted if self.bus else None,
        )
        self.checkpoints = Checkpointer(
            self.writer, settings.checkpoint_interval, table.stored_legs
        )
        self.limits = KeyLimits(settings.key_turns_per_minute, settings.key_max_concurrent_turns)
        self.prices = settings.price_table()
        self.budget = BudgetWatch(self.prices, settings.max_turn_cost, self._budget_turns)
        self.grace = GraceTimers(table, settings, self.bus)
        self.endings = Endings(
            table, settings, self.writer, self.limits, self.grace, self.bus, self.prices
        )
        self.admission = Admission(
            table, settings, pool, providers, self.limits, self.endings, self.grace, self._hooked
        )
        self.claims = Claims(table, settings, pool, self.limits, self.bus, self._hooked)
        self.reruns = RerunService(
            table, settings, pool, providers, self.endings, self.grace, self.claims
        )
        self.fusions = FuseService(
            table, settings, pool, providers, self.endings, self.grace, self.claims
        )

    # -- what the HTTP layer and the observers read ----------------------------------------------

    @property
    def turns(self) -> dict[str, Turn]:
        """Live turns, and ended ones for the retention window."""
        return self.table.turns

    @property
    def running_legs(self) -> dict:
        return self.table.running_legs

    @property
    def running(self) -> int:
        return self.table.running

    @property
    def draining(self) -> bool:
        """Shutting down: no new turn starts."""
        return self.table.draining

    @property
    def observer(self) -> TurnObserver | None:
        """Told once per answer and per turn (``gateway.observability``)."""
        return self.endings.observer

    @observer.setter
    def observer(self, observer: TurnObserver | None) -> None:
        self.endings.observer = observer

    # -- life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self.writer.start()
        if self.bus is not None:
            await self.bus.start()
        await self.leases.start()
        self.checkpoints.start()
        self.budget.start()

    async def drain(self, within: float) -> bool:
        """Start no new turn; cancel the running legs and wait (up to ``within`` seconds) until
        each answer is stored and every listener was sent its dones and end. True if all were."""
        self.table.draining = True
        for turn_id in list(self.table.running_legs):
            self.cancel(turn_id)
        tasks = self.table.tasks(list(self.table.running_legs))
        if not tasks:
            return True
        _, pending = await asyncio.wait(tasks, timeout=within)
        if pending:
            log.warning(
                "%d answer(s) were not stored within %g s of shutdown", len(pending), within
            )
        return not pending

    async def stop(self) -> None:
        """Cancel what still runs, store it, and let the writer drain."""
        self.checkpoints.stop()
        self.budget.stop()
        self.leases.stop()
        await self.drain(self.settings.shutdown_grace)
        await self.writer.stop()
        if self.bus is not None:
            await self.bus.stop()
        self.grace.stop()
        for handle in self.table.forget.values():
            handle.cancel()

    # -- turns: creating, rerunning, cancelling ---------------------------------------------------

    async def create_turn(
        self,
        prompt: str,
        *,
        conversation_id: int | None = None,
        models: Sequence[str] | None = None,
        wait_for_listener: bool = False,
        owner: int = 0,
        blind: bool | None = None,
        history: Sequence[Message] | None = None,
        settings: TurnSettings | None = None,
        parent: Parent | None = None,
    ) -> Turn:
        """Start a turn for ``owner`` (a client key's id; 0 in open mode). ``blind``: labels
        instead of providers; None: as the conversation is. ``history``: the messages before
        the prompt, as the client keeps them (the OpenAI-compatible API, which is stateless):
        every provider is given those instead of the stored conversation's, which only says
        where the turn is stored. ``settings``: the turn's own system prompt, parameters and
        images. ``parent``: the turn it continues (an edit's); None: the conversation's
        current leaf."""
        return await self.admission.create_turn(
            prompt,
            conversation_id=conversation_id,
            models=models,
            wait_for_listener=wait_for_listener,
            owner=owner,
            blind=blind,
            history=history,
            settings=settings,
            parent=parent,
        )

    async def rerun(
        self, turn_id: str, entries: Sequence[str], *, add: bool, owner: int = 0
    ) -> Rerun:
        """Ask providers of the turn again (retry) or new ones (add), on its own stream."""
        return await self.reruns.rerun(turn_id, entries, add=add, owner=owner)

    async def fuse(
        self,
        turn_id: str,
        judge: str,
        *,
        instructions: str | None = None,
        answers: Sequence[str] | None = None,
        owner: int = 0,
    ) -> Rerun:
        """A judge fuses the turn's answers into one, on the turn's own stream."""
        return await self.fusions.fuse(
            turn_id, judge, instructions=instructions, answers=answers, owner=owner
        )

    def cancel(self, turn_id: str, providers: Sequence[str] | None = None) -> list[str]:
        """Cancel running legs now; return the providers that were cancelled."""
        return self.table.cancel(turn_id, providers)

    async def cancel_conversation(self, conversation_id: int, owner: int = 0) -> None:
        """Stop a conversation's running turns (before its rows are deleted)."""
        turn_ids = [
            t.id
            for t in self.table.turns.values()
            if t.conversation_id == conversation_id
            and t.owner == owner
            and t.id in self.table.running_legs
        ]
        for turn_id in turn_ids:
            self.cancel(turn_id)
        await asyncio.gather(*self.table.tasks(turn_ids), return_exceptions=True)

    def cancel_owned_by(self, owners: set[int]) -> int:
        """Cancel the running turns of these keys (revoked ones) on this process: their answers
        are stored ``cancelled`` and their streams get their ``done``s and ``end``."""
        turn_ids = [
            t.id
            for t in self.table.turns.values()
            if t.owner in owners and t.id in self.table.running_legs
        ]
        return sum(len(self.cancel(turn_id)) for turn_id in turn_ids)

    async def wait(self, turn: Turn) -> None:
        """Until the turn has ended (for the blocking POST /chat/)."""
        if tasks := self.table.tasks([turn.id]):
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- finding a turn ---------------------------------------------------------------------------

    def live(self, turn_id: str, owner: int = 0) -> Turn | None:
        """The turn in memory, if it is ``owner``'s (another key's turn is as good as absent)."""
        return self.table.live(turn_id, owner)

    async def stored(self, turn_id: str, owner: int = 0) -> StoredTurn:
        """The turn as the database has it, if it is ``owner``'s (else NotFound)."""
        return await load_owned_turn(self.pool, turn_id, owner)

    # -- wiring -----------------------------------------------------------------------------------

    def _hooked(self, turn_id: str, events: EventLog) -> EventLog:
        """A turn's log, hooked to its grace timers, the metrics and the bus."""
        events.on_listener = lambda _: self.grace.cancel(turn_id)
        events.on_abandoned = lambda _: self.grace.start(turn_id, self.settings.disconnect_grace)
        events.on_overflow = self._listener_overflowed
        events.budget = self.listener_budget
        if self.bus is not None:
            events.sink = self.bus.sink(turn_id)
        return events

    def _listener_overflowed(self) -> None:
        if (observer := self.endings.observer) is not None:
            observer.listener_dropped("buffer_full")

    def _budget_turns(self):
        """For the budget: each running turn's finished answers' cost, and its running legs."""
        for legs in self.table.running_legs.values():
            finished = sum(
                leg.state.cost_usd or 0.0 for leg in legs.values() if leg.state.done is not None
            )
            yield finished, [leg for leg in legs.values() if leg.state.done is None]
