"""The rerun service: retry and add on a running turn, a finished one in memory, or one
rebuilt from PostgreSQL (after a restart, or run by another process), which is claimed in the
record before its new legs start, so that two processes never rerun one turn at once
(``reruns.claims``, shared with fuse)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gateway.settings import Settings
from gateway.turns.ending import Endings
from gateway.turns.errors import Conflict, NotFound, ShuttingDown
from gateway.turns.fuse.state import providers_only
from gateway.turns.grace import GraceTimers
from gateway.turns.leg import Leg
from gateway.turns.log import LegState
from gateway.turns.replay import StoredTurn, load_owned_turn
from gateway.turns.reruns.choice import (
    Rerun,
    choose_rerun,
    models_of,
    runs_of,
    unblind_entries,
)
from gateway.turns.reruns.claims import Claims
from gateway.turns.table import TurnTable
from gateway.turns.threads import threads_with_images
from gateway.turns.turn import Turn
from providers import Provider
from storage import Pool, Q

_IDLE = LegState("", "", False, status="complete")  # a provider not in the turn is not busy


class RerunService:
    def __init__(
        self,
        table: TurnTable,
        settings: Settings,
        pool: Pool,
        providers: dict[str, Provider],
        endings: Endings,
        grace: GraceTimers,
        claims: Claims,
    ) -> None:
        self.table = table
        self.settings = settings
        self.pool = pool
        self.providers = providers
        self.endings = endings
        self.grace = grace
        self.claims = claims

    async def rerun(
        self, turn_id: str, entries: Sequence[str], *, add: bool, owner: int = 0
    ) -> Rerun:
        """Ask providers of the turn again (retry) or new ones (add), on its own stream."""
        if self.table.draining:
            raise ShuttingDown("the gateway is shutting down; try again in a moment")
        turn = self.table.live(turn_id, owner)
        record: StoredTurn | None = None
        if turn is not None:
            legs = providers_only(turn.legs)  # a fusion is no provider to retry
            in_turn = {name: leg.model for name, leg in legs.items()}
            labels = {name: leg.label for name, leg in legs.items() if leg.label}
        else:
            record = await load_owned_turn(self.pool, turn_id, owner)
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
            async with self.claims.one_at_a_time(turn_id):
                if not turn.ended:  # (it may have ended while another request started a leg)
                    return await self._rerun_running(turn, in_turn, chosen)
        if record is not None and record.running:
            # Its legs run on another process: that one runs these too (over Redis).
            return await self.claims.ask_owner(turn_id, asked, add, owner)

        def providers_of(current: Turn | StoredTurn) -> list[dict]:
            nonlocal chosen
            if isinstance(current, Turn):
                return self._providers_after(in_turn, current, chosen)
            # The record may have more providers than our copy had: choose again from it.
            chosen = choose_rerun(self.providers, models_of(current), entries, add=add)
            return self._providers_after(models_of(current), current, chosen)

        async with self.claims.finished(turn_id, turn, owner, names, providers_of) as claimed:
            self.claims.reopened(claimed)
            return await self._launch(claimed, chosen)

    async def _rerun_running(
        self, turn: Turn, in_turn: dict, chosen: list[tuple[Provider, str]]
    ) -> Rerun:
        busy = [
            p.config.name for p, _ in chosen if not turn.legs.get(p.config.name, _IDLE).finished
        ]
        if busy:
            raise Conflict(
                f"providers: {', '.join(busy)} still answering in this turn; "
                "cancel it or wait for its done"
            )
        names = [p.config.name for p, _ in chosen]
        await self.claims.claim(
            turn.id, self._providers_after(in_turn, turn, chosen), names, None, ours=True
        )
        return await self._launch(turn, chosen)

    def _providers_after(
        self, in_turn: dict, turn: Turn | StoredTurn, chosen: list[tuple[Provider, str]]
    ) -> list[dict]:
        """The turn's provider list once the rerun starts: same order, added ones last."""
        simulated = {p.config.name: p.config.simulated for p in self.providers.values()}
        if isinstance(turn, Turn):
            legs = providers_only(turn.legs)
            simulated |= {name: leg.simulated for name, leg in legs.items()}
            labels = {name: leg.label for name, leg in legs.items() if leg.label}
            runs = {name: leg.run for name, leg in legs.items()}
        else:
            simulated |= {e["provider"]: e["simulated"] for e in turn.row["providers"]}
            labels = {e["provider"]: e["label"] for e in turn.row["providers"] if e.get("label")}
            runs = runs_of(turn)
        models = dict(in_turn) | {p.config.name: model for p, model in chosen}
        # Each leg's run, the rerun ones' next (as ``_launch`` numbers them): should this process
        # die mid-run, whoever finishes the turn stores the cut answer as that run (LegState.entry).
        runs |= {
            name: runs[name] + 1 if name in runs else 0
            for name in (p.config.name for p, _ in chosen)
        }
        return [
            {"provider": name, "model": model, "simulated": simulated[name]}
            | ({"label": labels[name]} if name in labels else {})
            | ({"run": runs[name]} if runs.get(name) else {})
            for name, model in models.items()
        ]

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
