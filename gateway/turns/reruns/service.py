"""The rerun service: retry and add on a running turn, a finished one in memory, or one
rebuilt from PostgreSQL (after a restart, or run by another process), which is claimed in the
record before its new legs start, so that two processes never rerun one turn at once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from gateway.settings import Settings
from gateway.turns.ending import Endings
from gateway.turns.errors import Conflict, NotFound, ShuttingDown, TooBusy
from gateway.turns.fuse.state import providers_only
from gateway.turns.grace import GraceTimers
from gateway.turns.leg import Leg
from gateway.turns.limits import KeyLimits
from gateway.turns.log import EventLog, LegState
from gateway.turns.replay import StoredTurn, load_owned_turn, load_stored_turn
from gateway.turns.reruns.choice import (
    Rerun,
    choose_rerun,
    error_from_reply,
    models_of,
    turn_from_stored,
    unblind_entries,
)
from gateway.turns.table import TurnTable
from gateway.turns.threads import threads_with_images
from gateway.turns.turn import Turn
from providers import Provider
from storage import Pool, Q

if TYPE_CHECKING:
    from gateway.bus import EventBus

RUNNING_ELSEWHERE = "this turn is running on another gateway process; retry once it has ended"
_IDLE = LegState("", "", False, status="complete")  # a provider not in the turn is not busy


class RerunService:
    def __init__(
        self,
        table: TurnTable,
        settings: Settings,
        pool: Pool,
        providers: dict[str, Provider],
        limits: KeyLimits,
        endings: Endings,
        grace: GraceTimers,
        bus: EventBus | None,
        hooked_log: Callable[[str, EventLog], EventLog],
    ) -> None:
        self.table = table
        self.settings = settings
        self.pool = pool
        self.providers = providers
        self.limits = limits
        self.endings = endings
        self.grace = grace
        self.bus = bus
        self.hooked_log = hooked_log

    async def rerun(
        self, turn_id: str, entries: Sequence[str], *, add: bool, owner: int = 0
    ) -> Rerun:
        """Ask providers of the turn again (retry) or new ones (add), on its own stream."""
        if self.table.draining:
            raise ShuttingDown("the gateway is shutting down; try again in a moment")
        turn = self.table.live(turn_id, owner)
        record: StoredTurn | None = None
        if turn is not None:
            current: Turn | StoredTurn = turn
            legs = providers_only(turn.legs)  # a fusion is no provider to retry
            in_turn = {name: leg.model for name, leg in legs.items()}
            labels = {name: leg.label for name, leg in legs.items() if leg.label}
        else:
            current = record = await load_owned_turn(self.pool, turn_id, owner)
            in_turn = models_of(record)
            labels = {e["provider"]: e["label"] for e in record.row["providers"] if e.get("label")}
        asked = list(entries)  # as the client named them (labels, for a blind turn)
        if labels:
            entries = unblind_entries(labels, entries, add=add)
        chosen = choose_rerun(self.providers, in_turn, entries, add=add)
        names = [p.config.name for p, _ in chosen]
        if turn is not None and (ending := self.table.ending.get(turn_id)) is not None:
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
            await self.claim(
                turn_id, self._providers_after(in_turn, turn, chosen), names, None, ours=True
            )
            return await self._launch(turn, chosen)
        if record is not None and record.running:
            # Its legs run on another process: that one runs these too (over Redis).
            return await self.ask_owner(turn_id, asked, add, owner)
        if self.table.running >= self.settings.max_concurrent_turns:
            raise TooBusy("too many turns are running; try again in a moment")
        self.limits.admit(owner)
        self.table.starting += 1
        claimed = False
        try:
            providers = self._providers_after(in_turn, current, chosen)
            if turn is not None and turn.ended:
                # Ours in memory, ended: take it if the record still ends where we do.
                claimed = await self.claim(turn_id, providers, names, turn.log.last_id)
            if not claimed:
                # Not in memory, or another process ran a retry since: the record's turn.
                record = await load_stored_turn(self.pool, turn_id)
                if record is None:
                    raise NotFound("turn")
                if record.running:
                    raise Conflict(RUNNING_ELSEWHERE)
                in_turn = models_of(record)  # it may have more providers than our copy had
                chosen = choose_rerun(self.providers, in_turn, entries, add=add)
                providers = self._providers_after(in_turn, record, chosen)
                claimed = await self.claim(turn_id, providers, names, record.row["end_event_id"])
                if not claimed:
                    raise Conflict(RUNNING_ELSEWHERE)  # taken by another process just now
                turn = self.rebuild(record)
            assert turn is not None
            turn.log.reopen()
            self.table.keep(turn_id)
            if self.bus is not None:
                self.bus.reopened(turn_id)
            return await self._launch(turn, chosen)
        except BaseException:
            self.limits.release(owner)
            if claimed and turn_id not in self.table.running_legs:
                await Q.end_rerun.execute(self.pool, id=turn_id)  # nothing runs: finished again
            raise
        finally:
            self.table.starting -= 1

    def _providers_after(
        self, in_turn: dict, turn: Turn | StoredTurn, chosen: list[tuple[Provider, str]]
    ) -> list[dict]:
        """The turn's provider list once the rerun starts: same order, added ones last."""
        simulated = {p.config.name: p.config.simulated for p in self.providers.values()}
        if isinstance(turn, Turn):
            legs = providers_only(turn.legs)
            simulated |= {name: leg.simulated for name, leg in legs.items()}
            labels = {name: leg.label for name, leg in legs.items() if leg.label}
        else:
            simulated |= {e["provider"]: e["simulated"] for e in turn.row["providers"]}
            labels = {e["provider"]: e["label"] for e in turn.row["providers"] if e.get("label")}
        models = dict(in_turn) | {p.config.name: model for p, model in chosen}
        return [
            {"provider": name, "model": model, "simulated": simulated[name]}
            | ({"label": labels[name]} if name in labels else {})
            for name, model in models.items()
        ]

    async def ask_owner(
        self,
        turn_id: str,
        entries: Sequence[str],
        add: bool,
        owner: int,
        fuse: dict | None = None,
    ) -> Rerun:
        """Have the process that runs the turn start the rerun (or fusion), over Redis."""
        if self.bus is None:
            raise Conflict(RUNNING_ELSEWHERE)
        reply = await self.bus.request_rerun(turn_id, list(entries), add, owner, fuse=fuse)
        if reply is None:
            raise Conflict(RUNNING_ELSEWHERE)  # its owner did not answer (gone?)
        if "error" in reply:
            raise error_from_reply(reply)
        return Rerun(**reply)

    async def claim(
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

    def rebuild(self, record: StoredTurn) -> Turn:
        """A finished turn from the record (as read before it was reopened), live again."""
        turn_id = record.row["id"]
        events = EventLog.from_stored(
            record.numbered_events_after(0, as_finished=True), self.settings.listener_buffer_bytes
        )
        turn = turn_from_stored(record, self.hooked_log(turn_id, events))
        self.table.turns[turn_id] = turn
        return turn

    async def _launch(self, turn: Turn, chosen: list[tuple[Provider, str]]) -> Rerun:
        names = [p.config.name for p, _ in chosen]
        rows = await Q.rerun_thread_rows.fetch(self.pool, turn_id=turn.id, providers=names)
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
        legs = self.table.running_legs.setdefault(turn.id, {})
        prompt_stored: asyncio.Future[Turn | None] = asyncio.get_running_loop().create_future()
        prompt_stored.set_result(turn)  # long since
        for provider, model in chosen:
            name = provider.config.name
            previous = turn.legs.get(name)
            label = previous.label if previous is not None else None
            state = LegState(name, model, provider.config.simulated, label=label)
            state.run = previous.run + 1 if previous is not None else 0
            turn.legs[name] = state
            leg = legs[name] = Leg(state, provider, threads[name], turn.settings.for_provider(name))
            leg.task = asyncio.create_task(
                self.endings.run(leg, turn.log, prompt_stored),
                name=f"leg-{turn.id}-{name}-{state.run}",
            )
        if not turn.log.listeners:
            # As a turn started by POST /turns: the caller opens the stream to follow the run.
            self.grace.start(turn.id, self.settings.first_listener_timeout)
        shown = [turn.legs[name].label or name for name in names]  # a blind turn's: labels
        return Rerun(turn.id, turn.conversation_id, after, shown)
