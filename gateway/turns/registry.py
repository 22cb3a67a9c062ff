"""The turn registry: where turns are created, found, cancelled, and where they end.

A turn runs on the server, not inside an HTTP connection: its legs are tasks that relay their
provider's text into the turn's log as it arrives, and store their answer once, when they end.
Listeners come and go; when the last one leaves, the turn waits ``disconnect_grace`` seconds
for a reconnect before it cancels what is still running (and stores it as ``cancelled``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence
from dataclasses import asdict

import asyncpg

from gateway.settings import Settings
from gateway.turns.blind import assign_labels
from gateway.turns.checkpoints import Checkpointer
from gateway.turns.context import conversation_settings
from gateway.turns.costs import BudgetWatch, answer_cost
from gateway.turns.errors import (
    Conflict,
    InvalidChoice,
    NotFound,
    PromptTooLong,
    ShuttingDown,
    TooBusy,
    TurnError,
)
from gateway.turns.events import done_data
from gateway.turns.leases import LeaseKeeper
from gateway.turns.leg import Leg, LegResult, run_leg
from gateway.turns.limits import KeyLimits
from gateway.turns.log import EventLog, LegState
from gateway.turns.replay import StoredTurn, answer_error, load_stored_turn, sum_costs
from gateway.turns.rerun import (
    Rerun,
    choose_rerun,
    error_from_reply,
    error_reply,
    models_of,
    turn_from_stored,
    unblind_entries,
)
from gateway.turns.threads import threads_with_images
from gateway.turns.turn import Turn
from gateway.turns.turn_settings import TurnSettings
from gateway.turns.uploads import check_attachments
from providers import Message, Provider
from storage import Answer, Q, TurnEnd, Writer

log = logging.getLogger("multichat.turns")

MAX_TITLE = 60
MAX_ID = 2**63 - 1
RUNNING_ELSEWHERE = "this turn is running on another gateway process; retry once it has ended"
_IDLE = LegState("", "", False, status="complete")  # a provider not in the turn is not busy


class TurnRegistry:
    def __init__(
        self, settings: Settings, pool: asyncpg.Pool, providers: dict[str, Provider]
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.providers = providers
        self.writer = Writer(
            pool, batch_size=settings.writer_batch, queue_size=settings.writer_queue
        )
        self.bus = (
            event_bus()(
                settings.redis_url,
                retention=settings.redis_stream_retention,
                listener_limit=settings.listener_buffer_bytes,
                grace=settings.disconnect_grace,
                on_cancel=self._cancel_from_elsewhere,
                on_reveal=self._reveal_from_elsewhere,
                on_rerun=self._rerun_from_elsewhere,
            )
            if settings.redis_url
            else None
        )
        self.leases = LeaseKeeper(
            pool,
            lambda: self.running_legs,
            lease_seconds=settings.turn_lease,
            on_interrupted=self._interrupted if self.bus else None,
        )
        self.checkpoints = Checkpointer(
            self.writer, settings.checkpoint_interval, self._stored_legs
        )
        self.draining = False  # shutting down: no new turn starts
        self.observer = None  # gateway.metrics: told once per answer and per turn
        self.limits = KeyLimits(settings.key_turns_per_minute, settings.key_max_concurrent_turns)
        self.turns: dict[str, Turn] = {}  # live turns, and ended ones for the retention window
        self.running_legs: dict[str, dict[str, Leg]] = {}  # by turn
        self._grace: dict[str, asyncio.TimerHandle] = {}
        self._starting = 0  # turns past the limit check whose prompt is still being stored
        self._forget: dict[str, asyncio.TimerHandle] = {}  # ended turns leaving memory
        self._ending: dict[str, asyncio.Event] = {}  # turns between their last done and end
        self.prices = settings.price_table()
        self.budget = BudgetWatch(self.prices, settings.max_turn_cost, self._budget_turns)

    @property
    def running(self) -> int:
        return len(self.running_legs) + self._starting

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
        self.draining = True
        for turn_id in list(self.running_legs):
            self.cancel(turn_id)
        tasks = self._tasks(list(self.running_legs))
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
        for handle in [*self._grace.values(), *self._forget.values()]:
            handle.cancel()

    def _stored_legs(self) -> list[tuple[str, Leg]]:
        return [
            (turn_id, leg)
            for turn_id, legs in self.running_legs.items()
            if turn_id in self.turns
            for leg in legs.values()
        ]

    def _tasks(self, turn_ids: Sequence[str]) -> list[asyncio.Task]:
        return [
            leg.task
            for turn_id in turn_ids
            for leg in self.running_legs.get(turn_id, {}).values()
            if leg.task is not None
        ]

    # -- creating a turn --------------------------------------------------------------------------

    def choose_providers(self, models: Sequence[str] | None) -> list[tuple[Provider, str]]:
        if models is None:
            return [(p, p.config.model) for p in self.providers.values()]
        if not models:
            raise InvalidChoice("models: choose at least one provider, or send null for all")
        if len(models) > len(self.providers):
            raise InvalidChoice(f"models: at most {len(self.providers)} providers per turn")
        chosen: list[tuple[Provider, str]] = []
        for entry in models:
            name, _, model = entry.partition(":")
            provider = self.providers.get(name.strip())
            if provider is None:
                known = ", ".join(self.providers)
                raise InvalidChoice(
                    f"models: unknown provider {name!r} (known: {known})", unknown_provider=True
                )
            if any(p is provider for p, _ in chosen):
                raise InvalidChoice(f"models: {name!r} is listed twice")
            chosen.append((provider, model.strip() or provider.config.model))
        return chosen

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
    ) -> Turn:
        """Start a turn for ``owner`` (a client key's id; 0 in open mode). ``blind``: labels
        instead of providers; None: as the conversation is. ``history``: the messages before
        the prompt, as the client keeps them (the OpenAI-compatible API, which is stateless):
        every provider is given those instead of the stored conversation's, which only says
        where the turn is stored. ``settings``: the turn's own system prompt, parameters and
        images."""
        if len(prompt) > self.settings.max_prompt_chars:
            raise PromptTooLong(
                f"the prompt is longer than {self.settings.max_prompt_chars} characters"
            )
        chosen = self.choose_providers(models)
        settings = (settings or TurnSettings()).check(
            self.providers, self.settings.max_prompt_chars
        )
        if self.draining:
            raise ShuttingDown("the gateway is shutting down; try again in a moment")
        if self.running >= self.settings.max_concurrent_turns:
            raise TooBusy("too many turns are running; try again in a moment")
        await check_attachments(
            self.pool, settings.attachments, owner, self.settings.max_attachments
        )
        self.limits.admit(owner)
        try:
            return await self._start(
                prompt,
                chosen,
                conversation_id,
                wait_for_listener,
                owner,
                blind,
                history,
                settings,
            )
        except BaseException:
            self.limits.release(owner)
            raise

    async def _start(
        self,
        prompt: str,
        chosen: list[tuple[Provider, str]],
        conversation_id: int | None,
        wait_for_listener: bool,
        owner: int,
        blind: bool | None,
        history: Sequence[Message] | None,
        settings: TurnSettings,
    ) -> Turn:
        turn_id = secrets.token_urlsafe(16)  # 128 random bits
        states = {
            p.config.name: LegState(p.config.name, model, p.config.simulated) for p, model in chosen
        }
        events = self._new_log(turn_id, EventLog(self.settings.listener_buffer_bytes, held=True))
        # The slot is taken before the first await, or turns created at the same moment would
        # all pass the check above.
        self._starting += 1
        try:
            rows = await self._thread_rows(conversation_id, list(states), owner)
            conversation = conversation_settings(rows)
            threads = await threads_with_images(
                self.pool,
                rows if history is None else [],
                list(states),
                prompt,
                self.settings.context_budget_chars,
                conversation.policy,
                settings.attachments,
            )
        finally:
            self._starting -= 1
        if blind or (blind is None and conversation.blind):
            for name, label in assign_labels(list(states)).items():
                states[name].blind(label)
        if history is not None:  # the client's own history instead of the stored one
            threads = {name: [*history, *thread] for name, thread in threads.items()}
        legs = {
            name: Leg(states[name], provider, threads[name], settings.for_provider(name))
            for name, (provider, _) in zip(states, chosen, strict=True)
        }
        # The providers are called now, while the prompt is stored: storing it is then off the
        # time to first token. What they say before the turn is stored is held by the log.
        stored: asyncio.Future[Turn | None] = asyncio.get_running_loop().create_future()
        self.running_legs[turn_id] = legs
        for leg in legs.values():
            leg.task = asyncio.create_task(
                self._run(leg, events, stored), name=f"leg-{turn_id}-{leg.state.provider}"
            )
        try:
            # Let the legs send their requests first: up to its first wait for the network a
            # leg does nothing else, and the prompt's statement would otherwise go first.
            await asyncio.sleep(0)
            conversation_id, user_message_id = await self._store_prompt(
                turn_id, prompt, conversation_id, states, owner, settings
            )
        except BaseException:
            # The prompt could not be stored: stop the legs; they store and send nothing.
            self.cancel(turn_id)
            self.running_legs.pop(turn_id, None)
            stored.set_result(None)
            raise  # create_turn releases the owner's slot
        turn = Turn(turn_id, conversation_id, user_message_id, states, events, owner)
        turn.settings = settings
        self.turns[turn_id] = turn
        events.release(turn.turn_event_data())
        stored.set_result(turn)
        if wait_for_listener:
            self._start_grace(turn_id, self.settings.first_listener_timeout)
        return turn

    def _new_log(self, turn_id: str, events: EventLog) -> EventLog:
        """A turn's log, hooked to its grace timers, the metrics and the bus."""
        events.on_listener = lambda _: self._cancel_grace(turn_id)
        events.on_abandoned = lambda _: self._start_grace(turn_id, self.settings.disconnect_grace)
        events.on_overflow = self._listener_overflowed
        if self.bus is not None:
            events.sink = self.bus.sink(turn_id)
        return events

    async def _thread_rows(
        self, conversation_id: int | None, providers: list[str], owner: int
    ) -> list:
        if conversation_id is None:
            return []
        if not 1 <= conversation_id <= MAX_ID:
            raise NotFound("conversation")
        rows = await Q.conversation_thread.fetch(
            self.pool, conversation_id=conversation_id, providers=providers, owner=owner
        )
        if not rows:
            raise NotFound("conversation")  # before any provider is called
        return rows

    async def _store_prompt(
        self,
        turn_id: str,
        prompt: str,
        conversation_id: int | None,
        legs: dict[str, LegState],
        owner: int,
        settings: TurnSettings,
    ) -> tuple[int, int]:
        """Store the prompt (with its images) and the turn (with its settings), in one
        statement; return the two ids."""
        stored = await Q.start_turn.fetchrow(
            self.pool,
            conversation_id=conversation_id,
            owner=owner,
            title=title_from(prompt),
            turn_id=turn_id,
            content=prompt,
            providers=[leg.entry() for leg in legs.values()],
            lease_seconds=self.settings.turn_lease,
            attachments=list(settings.attachments),
            settings=settings.as_json(),
        )
        if stored is None:
            raise NotFound("conversation")  # deleted since its thread was read
        return stored["conversation_id"], stored["user_message_id"]

    # -- a leg's end, and the turn's --------------------------------------------------------------

    async def _run(self, leg: Leg, events: EventLog, stored: asyncio.Future[Turn | None]) -> None:
        result = await run_leg(leg, events)
        turn = await stored
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
        stored = asdict(answer)
        # Retryable only if what was stored is what the provider said (not unstorable, say).
        said = result.error
        retryable = said is not None and said.type == answer.error_type and said.retryable
        error = answer_error(stored, retryable=retryable)
        state.done = done_data(stored, state.message_id, error, state.label)
        state.done_event_id = turn.log.publish("done", state.done)
        if all(s.finished for s in turn.legs.values()):
            await self._end(turn)

    async def _end(self, turn: Turn) -> None:
        # Every leg is done: nothing else can publish, so the end's id is known before it is sent.
        # A retry asked meanwhile waits for this end (``_ending``), then reopens the turn.
        self._ending[turn.id] = ending = asyncio.Event()
        try:
            await self._store_end(turn)
        finally:
            del self._ending[turn.id]
            ending.set()

    async def _store_end(self, turn: Turn) -> None:
        end_id = turn.log.last_id + 1
        # A provider whose done has no id of its own (an interrupted one, rebuilt for a retry)
        # keeps the id its replay gives it.
        done_ids = {
            name: leg.done_event_id
            for name, leg in turn.legs.items()
            if leg.done_event_id is not None
        }
        try:
            await self.writer.end_turn(TurnEnd(turn.id, turn.conversation_id, done_ids, end_id))  # type: ignore[arg-type]
        except Exception:
            log.exception("could not mark turn %s finished", turn.id)
        end_id = turn.log.end(
            turn.id, {leg.label or name: leg.status for name, leg in turn.legs.items()}
        )
        if (observer := self.observer) is not None:
            observer.turn_ended(turn)
        if self.bus is not None:
            self.bus.ended(turn.id)
        self.running_legs.pop(turn.id, None)
        self.limits.release(turn.owner)
        self._cancel_grace(turn.id)
        loop = asyncio.get_running_loop()
        # The exact log for as long as a client that just dropped may come back (the grace, or
        # two EventSource retries); then only what the database replay would give (turn,
        # dones, end) until the retention ends: a finished turn's deltas are most of its bytes.
        keep = {1, end_id, *(id for id in done_ids.values() if id is not None)}
        exact = max(self.settings.disconnect_grace, 2 * self.settings.retry_ms / 1000)
        loop.call_later(exact, turn.log.compact, keep)
        self._forget[turn.id] = loop.call_later(
            self.settings.replay_retention, self._forget_turn, turn.id
        )

    def _forget_turn(self, turn_id: str) -> None:
        self._forget.pop(turn_id, None)
        self.turns.pop(turn_id, None)

    # -- retry and add (gateway.turns.rerun) ------------------------------------------------------

    async def rerun(
        self, turn_id: str, entries: Sequence[str], *, add: bool, owner: int = 0
    ) -> Rerun:
        """Ask providers of the turn again (retry) or new ones (add), on its own stream."""
        if self.draining:
            raise ShuttingDown("the gateway is shutting down; try again in a moment")
        turn = self.live(turn_id, owner)
        stored = await self.stored(turn_id, owner) if turn is None else None
        in_turn = (
            {name: leg.model for name, leg in turn.legs.items()}
            if turn is not None
            else models_of(stored)  # type: ignore[arg-type]
        )
        asked = list(entries)  # as the client named them (labels, for a blind turn)
        labels = (
            {name: leg.label for name, leg in turn.legs.items() if leg.label}
            if turn is not None
            else {e["provider"]: e["label"] for e in stored.row["providers"] if e.get("label")}  # type: ignore[union-attr]
        )
        if labels:
            entries = unblind_entries(labels, entries, add=add)
        chosen = choose_rerun(self.providers, in_turn, entries, add=add)
        names = [p.config.name for p, _ in chosen]
        if turn is not None and (ending := self._ending.get(turn_id)) is not None:
            await ending.wait()  # its end is being stored: reopen it once it is out
        if turn is not None and not turn.ended:
            busy = [
                p.config.name for p, _ in chosen if not turn.legs.get(p.config.name, _IDLE).finished
            ]
            if busy:
                raise Conflict(
                    f"providers: {', '.join(busy)} still answering in this turn; "
                    "cancel it or wait for its done"
                )
            await self._claim(
                turn_id, self._providers_after(in_turn, turn, chosen), names, None, ours=True
            )
            return await self._launch(turn, chosen)
        if stored is not None and stored.running:
            if self.bus is None:
                raise Conflict(RUNNING_ELSEWHERE)
            # Its legs run on another process: that one runs these too (over Redis).
            reply = await self.bus.request_rerun(turn_id, asked, add, owner)
            if reply is None:
                raise Conflict(RUNNING_ELSEWHERE)  # its owner did not answer (gone?)
            if "error" in reply:
                raise error_from_reply(reply)
            return Rerun(**reply)
        if self.running >= self.settings.max_concurrent_turns:
            raise TooBusy("too many turns are running; try again in a moment")
        self.limits.admit(owner)
        self._starting += 1
        claimed = False
        try:
            providers = self._providers_after(in_turn, turn or stored, chosen)
            if turn is not None and turn.ended:
                # Ours in memory, ended: take it if the record still ends where we do.
                claimed = await self._claim(turn_id, providers, names, turn.log.last_id)
            if not claimed:
                # Not in memory, or another process ran a retry since: the record's turn.
                stored = await load_stored_turn(self.pool, turn_id)
                if stored is None:
                    raise NotFound("turn")
                if stored.running:
                    raise Conflict(RUNNING_ELSEWHERE)
                in_turn = models_of(stored)  # it may have more providers than our copy had
                chosen = choose_rerun(self.providers, in_turn, entries, add=add)
                providers = self._providers_after(in_turn, stored, chosen)
                claimed = await self._claim(turn_id, providers, names, stored.row["end_event_id"])
                if not claimed:
                    raise Conflict(RUNNING_ELSEWHERE)  # taken by another process just now
                turn = self._rebuild(stored)
            assert turn is not None
            turn.log.reopen()
            if (handle := self._forget.pop(turn_id, None)) is not None:
                handle.cancel()
            if self.bus is not None:
                self.bus.reopened(turn_id)
            return await self._launch(turn, chosen)
        except BaseException:
            self.limits.release(owner)
            if claimed and turn_id not in self.running_legs:
                await Q.end_rerun.execute(self.pool, id=turn_id)  # nothing runs: finished again
            raise
        finally:
            self._starting -= 1

    def _providers_after(self, in_turn: dict, turn, chosen) -> list[dict]:
        """The turn's provider list once the rerun starts: same order, added ones last."""
        simulated = {p.config.name: p.config.simulated for p in self.providers.values()}
        if isinstance(turn, Turn):
            simulated |= {name: leg.simulated for name, leg in turn.legs.items()}
            labels = {name: leg.label for name, leg in turn.legs.items() if leg.label}
        else:
            simulated |= {e["provider"]: e["simulated"] for e in turn.row["providers"]}
            labels = {e["provider"]: e["label"] for e in turn.row["providers"] if e.get("label")}
        models = dict(in_turn) | {p.config.name: model for p, model in chosen}
        return [
            {"provider": name, "model": model, "simulated": simulated[name]}
            | ({"label": labels[name]} if name in labels else {})
            for name, model in models.items()
        ]

    async def _claim(
        self,
        turn_id: str,
        providers: list[dict],
        rerun: list[str],
        expected_end: int | None,
        *,
        ours: bool = False,
    ) -> bool:
        """Mark the turn running (with a lease) and list its providers; False if it is not
        (or no longer) the finished turn the caller holds."""
        claimed = await Q.reopen_turn.fetchrow(
            self.pool,
            id=turn_id,
            providers=providers,
            rerun=rerun,
            expected_end=expected_end,
            lease_seconds=self.settings.turn_lease,
            ours=ours,
        )
        return claimed is not None

    def _rebuild(self, stored: StoredTurn) -> Turn:
        """A finished turn from the record (as read before it was reopened), live again."""
        turn_id = stored.row["id"]
        events = EventLog.from_stored(
            stored.numbered_events_after(0, as_finished=True), self.settings.listener_buffer_bytes
        )
        turn = turn_from_stored(stored, self._new_log(turn_id, events))
        self.turns[turn_id] = turn
        return turn

    async def _launch(self, turn: Turn, chosen: list[tuple[Provider, str]]) -> Rerun:
        names = [p.config.name for p, _ in chosen]
        rows = await Q.rerun_thread_rows.fetch(
            self.pool,
            conversation_id=turn.conversation_id,
            user_message_id=turn.user_message_id,
            providers=names,
        )
        asked = next((r for r in rows if r["role"] == "user" and r["turn_id"] == turn.id), None)
        if asked is None:
            raise NotFound("turn")  # its conversation was deleted meanwhile
        before = [r for r in rows if r is not asked]  # the history; the prompt is passed apart
        threads = await threads_with_images(
            self.pool,
            before,
            names,
            asked["content"],
            self.settings.context_budget_chars,
            attachments=asked["upload_ids"] or (),
        )
        after = turn.log.last_id
        legs = self.running_legs.setdefault(turn.id, {})
        stored: asyncio.Future[Turn | None] = asyncio.get_running_loop().create_future()
        stored.set_result(turn)
        for provider, model in chosen:
            name = provider.config.name
            previous = turn.legs.get(name)
            label = previous.label if previous is not None else None
            state = LegState(name, model, provider.config.simulated, label=label)
            state.run = previous.run + 1 if previous is not None else 0
            turn.legs[name] = state
            leg = legs[name] = Leg(state, provider, threads[name], turn.settings.for_provider(name))
            leg.task = asyncio.create_task(
                self._run(leg, turn.log, stored), name=f"leg-{turn.id}-{name}-{state.run}"
            )
        if not turn.log.listeners:
            # As a turn started by POST /turns: the caller opens the stream to follow the run.
            self._start_grace(turn.id, self.settings.first_listener_timeout)
        shown = [turn.legs[name].label or name for name in names]  # a blind turn's: labels
        return Rerun(turn.id, turn.conversation_id, after, shown)

    def _budget_turns(self):
        """For the budget: each running turn's finished answers' cost, and its running legs."""
        for legs in self.running_legs.values():
            finished = sum(
                leg.state.cost_usd or 0.0 for leg in legs.values() if leg.state.done is not None
            )
            yield finished, [leg for leg in legs.values() if leg.state.done is None]

    # -- grace and cancel -------------------------------------------------------------------------

    def _start_grace(self, turn_id: str, seconds: float) -> None:
        self._cancel_grace(turn_id)
        loop = asyncio.get_running_loop()
        self._grace[turn_id] = loop.call_later(seconds, self._grace_over, turn_id)

    def _cancel_grace(self, turn_id: str) -> None:
        handle = self._grace.pop(turn_id, None)
        if handle is not None:
            handle.cancel()

    def _grace_over(self, turn_id: str) -> None:
        self._grace.pop(turn_id, None)
        turn = self.turns.get(turn_id)
        if turn is None or turn.log.listeners:
            return
        if self.bus is None:
            self._abandon(turn_id)
        else:
            asyncio.get_running_loop().create_task(self._grace_over_everywhere(turn_id))

    async def _grace_over_everywhere(self, turn_id: str) -> None:
        """A listener on another worker counts: wait another grace period for it."""
        assert self.bus is not None
        if await self.bus.watched(turn_id):
            self._start_grace(turn_id, max(self.settings.disconnect_grace, 0.5))
        elif (turn := self.turns.get(turn_id)) is not None and not turn.log.listeners:
            self._abandon(turn_id)

    def _abandon(self, turn_id: str) -> None:
        log.info("turn %s has no listener; cancelling its running legs", turn_id)
        self.cancel(turn_id)

    def _listener_overflowed(self) -> None:
        if self.observer is not None:
            self.observer.listener_dropped("buffer_full")

    async def _rerun_from_elsewhere(self, request: dict) -> dict | None:
        """A retry or add that another process received for one of our running turns: the
        reply it answers its client with; None when the turn is not ours."""
        turn_id = request["rerun"]
        if turn_id not in self.running_legs:
            return None  # every worker hears the request; the owner answers
        try:
            started = await self.rerun(
                turn_id, request["providers"], add=request["add"], owner=request["owner"]
            )
        except TurnError as error:
            return error_reply(error)
        return started.as_dict()

    def _cancel_from_elsewhere(self, turn_id: str, providers: list[str] | None) -> None:
        if turn_id in self.running_legs:  # ours; every worker hears the request
            self.cancel(turn_id, providers)

    def _reveal_from_elsewhere(self, turn_id: str) -> None:
        if turn_id in self.running_legs and (turn := self.turns.get(turn_id)) is not None:
            turn.reveal()

    async def _interrupted(self, turn_ids: list[str]) -> None:
        """Turns of a gateway that died: their stored dones and end go to their streams, so
        listeners on other workers finish instead of waiting."""
        assert self.bus is not None
        for turn_id in turn_ids:
            stored = await load_stored_turn(self.pool, turn_id)
            if stored is not None:
                try:
                    await self.bus.publish_late(turn_id, stored.numbered_events_after(1))
                except Exception as error:  # Redis away: replays from PostgreSQL still work
                    log.warning("could not finish the stream of turn %s: %s", turn_id, error)

    def cancel(self, turn_id: str, providers: Sequence[str] | None = None) -> list[str]:
        """Cancel running legs now; return the providers that were cancelled."""
        return [
            name
            for name, leg in self.running_legs.get(turn_id, {}).items()
            if (providers is None or name in providers) and leg.cancel()
        ]

    async def cancel_conversation(self, conversation_id: int, owner: int = 0) -> None:
        """Stop a conversation's running turns (before its rows are deleted)."""
        turn_ids = [
            t.id
            for t in self.turns.values()
            if t.conversation_id == conversation_id
            and t.owner == owner
            and t.id in self.running_legs
        ]
        for turn_id in turn_ids:
            self.cancel(turn_id)
        await asyncio.gather(*self._tasks(turn_ids), return_exceptions=True)

    async def wait(self, turn: Turn) -> None:
        """Until the turn has ended (for the blocking POST /chat/)."""
        if tasks := self._tasks([turn.id]):
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- finding a turn ---------------------------------------------------------------------------

    def live(self, turn_id: str, owner: int = 0) -> Turn | None:
        """The turn in memory, if it is ``owner``'s (another key's turn is as good as absent)."""
        turn = self.turns.get(turn_id)
        return turn if turn is not None and turn.owner == owner else None

    async def stored(self, turn_id: str, owner: int = 0) -> StoredTurn:
        stored = await load_stored_turn(self.pool, turn_id)
        if stored is None or stored.row["owner"] != owner:
            raise NotFound("turn")
        return stored


def event_bus() -> type:
    """The Redis bus, imported only when REDIS_URL asks for it: redis-py brings about 20 MB
    of modules (OpenTelemetry's SDK among them) that a single process never uses."""
    from gateway.bus import EventBus

    return EventBus


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


def title_from(prompt: str) -> str:
    title = " ".join(prompt.split())
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1].rstrip() + "…"
