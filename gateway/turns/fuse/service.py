"""The fuse service: a turn's answers fused by a judge model, on the turn's own stream.

A fusion is claimed exactly as a retry is (``reruns.claims``): on a running turn of this
process it is one more leg before the turn's one ``end``; a finished turn (in memory, or rebuilt
from PostgreSQL on any process, after a restart too) is reopened in the record, so that two
processes never run it at once, and a second ``end`` closes the fusion. A turn running on
another process is fused there (asked over Redis, as a retry is).

One fusion at a time per turn (409 while one runs); each is stored as a new row, and the turn,
its replay and the ``fused`` context policy use the latest.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import asdict

from gateway.settings import Settings
from gateway.turns.costs import answer_cost
from gateway.turns.ending import Endings, answer_of
from gateway.turns.errors import Conflict, InvalidChoice, NotFound, ShuttingDown
from gateway.turns.fuse.sources import (
    Source,
    choose_sources,
    judge_prompt,
    sources_of_record,
    sources_of_turn,
)
from gateway.turns.fuse.state import FUSE, FuseState, fuse_done, providers_only
from gateway.turns.grace import GraceTimers
from gateway.turns.leg import Leg, run_leg
from gateway.turns.replay import StoredTurn, answer_error, load_owned_turn, sum_costs
from gateway.turns.reruns.choice import Rerun, pinned
from gateway.turns.reruns.claims import Claims
from gateway.turns.table import TurnTable
from gateway.turns.turn import Turn
from providers import Message, Provider
from storage import Pool, Q

log = logging.getLogger("multichat.turns")


class FuseService:
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
        self.claims = claims  # how a turn is claimed (and a finished one rebuilt), as for a retry

    async def fuse(
        self,
        turn_id: str,
        judge_entry: str,
        *,
        instructions: str | None = None,
        answers: Sequence[str] | None = None,
        owner: int = 0,
    ) -> Rerun:
        """Start a fusion of the turn's answers by the judge ``provider[:model]``."""
        if self.table.draining:
            raise ShuttingDown("the gateway is shutting down; try again in a moment")
        judge, model = self.judge(judge_entry)
        turn = self.table.live(turn_id, owner)
        record: StoredTurn | None = None
        if turn is not None:
            blind = any(leg.label for leg in turn.legs.values())
            sources = sources_of_turn(turn)
            asked = turn.user_message_id
        else:
            record = await load_owned_turn(self.pool, turn_id, owner)
            blind = any(entry.get("label") for entry in record.row["providers"])
            sources = sources_of_record(record)
            asked = record.row["user_message_id"]
        if blind and await Q.turn_vote.fetchrow(self.pool, turn_id=turn_id, voter=owner) is None:
            raise Conflict("a blind turn can be fused only after its vote")
        choose_sources(sources, answers)  # for a clear answer now; again on the turn as claimed
        prompt = await Q.fusion_prompt.fetchval(self.pool, id=asked)
        if prompt is None:
            raise NotFound("turn")  # its conversation was deleted meanwhile
        if turn is not None and (ending := self.table.ending.get(turn_id)) is not None:
            await ending.wait()  # its end is being stored: reopen it once it is out
        if turn is not None and not turn.ended:
            async with self.claims.one_at_a_time(turn_id):
                if not turn.ended:  # (it may have ended while another request started a leg)
                    return await self._fuse_running(
                        turn, judge, model, answers, prompt, instructions
                    )
        if record is not None and record.running:
            # Its legs run on another process: that one runs the fusion too (over Redis).
            named = list(answers) if answers is not None else None
            ask = {"model": judge_entry, "instructions": instructions, "answers": named}
            return await self.claims.ask_owner(turn_id, [], False, owner, fuse=ask)

        def providers_of(current: Turn | StoredTurn) -> list[dict]:
            return entries(current) if isinstance(current, Turn) else list(current.row["providers"])

        async with self.claims.finished(turn_id, turn, owner, [FUSE], providers_of) as claimed:
            chosen = choose_sources(sources_of_turn(claimed), answers)
            await self._note(turn_id, judge, model, chosen)
            self.claims.reopened(claimed)
            return await self._launch(claimed, judge, model, chosen, prompt, instructions)

    async def _fuse_running(
        self,
        turn: Turn,
        judge: Provider,
        model: str,
        answers: Sequence[str] | None,
        prompt: str,
        instructions: str | None,
    ) -> Rerun:
        self._not_fusing(turn)
        chosen = choose_sources(sources_of_turn(turn), answers)
        # Its leg is there at once: a second fusion asked meanwhile finds it (409), and the turn
        # does not end before it starts.
        previous = turn.legs.get(FUSE)
        turn.legs[FUSE] = fusion_state(judge, model, chosen)
        try:
            await self.claims.claim(turn.id, entries(turn), [FUSE], None, ours=True)
            await self._note(turn.id, judge, model, chosen)
            return await self._launch(turn, judge, model, chosen, prompt, instructions)
        except BaseException:
            if previous is None:
                del turn.legs[FUSE]
            else:
                turn.legs[FUSE] = previous
            await self.endings.end_if_finished(turn)
            raise

    def judge(self, entry: str) -> tuple[Provider, str]:
        """The judge ``provider[:model]``: an enabled provider and a model it may use (422)."""
        name, _, model = entry.partition(":")
        provider = self.providers.get(name.strip())
        if provider is None:
            known = ", ".join(self.providers)
            raise InvalidChoice(
                f"model: unknown provider {name.strip()!r} (known: {known})",
                unknown_provider=True,
            )
        return provider, pinned(provider, model.strip(), "model")

    async def _note(self, turn_id: str, judge: Provider, model: str, chosen: list[Source]) -> None:
        """Name the fusion on the claimed turn's row (what its ``start`` says) until it is
        stored: should this process die mid-fusion with no Redis stream to take it over from,
        the next one stores it from there (``interrupt_expired_turns``), its checkpoint having
        only its text."""
        fusion = fusion_state(judge, model, chosen).start_data()
        await Q.note_fusion.execute(self.pool, id=turn_id, fusion=fusion)

    def _not_fusing(self, turn: Turn) -> None:
        fusion = turn.legs.get(FUSE)
        if fusion is not None and not fusion.finished:
            raise Conflict("this turn is being fused already; wait for its done")

    async def _launch(
        self,
        turn: Turn,
        judge: Provider,
        model: str,
        chosen: list[Source],
        prompt: str,
        instructions: str | None,
    ) -> Rerun:
        after = turn.log.last_id
        state = turn.legs.get(FUSE)
        if not isinstance(state, FuseState) or state.finished:  # else: reserved by fuse()
            state = turn.legs[FUSE] = fusion_state(judge, model, chosen)
        thread = [Message("user", judge_prompt(prompt, chosen, instructions))]
        leg = Leg(state, judge, thread)
        self.table.running_legs.setdefault(turn.id, {})[FUSE] = leg
        leg.task = asyncio.create_task(self._run(turn, leg), name=f"fuse-{turn.id}-{state.run}")
        if not turn.log.listeners:
            # As a turn started by POST /turns: the caller opens the stream to follow it.
            self.grace.start(turn.id, self.settings.first_listener_timeout)
        return Rerun(turn.id, turn.conversation_id, after, [FUSE])

    async def _run(self, turn: Turn, leg: Leg) -> None:
        """The fusion's task: the judge answers, the answer is stored, then announced."""
        result = await run_leg(leg, turn.log)
        state = leg.state
        assert isinstance(state, FuseState)
        answer = answer_of(turn, state, result)
        answer.run = state.run
        answer.cost_usd = answer_cost(self.endings.prices, leg, result)
        if leg.cancel_reason is not None and answer.status == "cancelled":
            answer.error_type, answer.error_message = leg.cancel_reason
        try:
            stored = await Q.store_fusion.fetchrow(
                self.pool,
                conversation_id=turn.conversation_id,
                turn_id=turn.id,
                model=answer.model,
                judge=state.judge,
                fused_from=list(state.fused_from),
                status=answer.status,
                content=answer.content,
                finish_reason=answer.finish_reason,
                error_type=answer.error_type,
                error_message=answer.error_message,
                error_status_code=answer.error_status_code,
                ttft_ms=answer.ttft_ms,
                latency_ms=answer.latency_ms,
                input_tokens=answer.input_tokens,
                output_tokens=answer.output_tokens,
                citations=answer.citations,
                cost_usd=answer.cost_usd,
                thinking=answer.thinking,
                reasoning_tokens=answer.reasoning_tokens,
                settings_ignored=answer.settings_ignored,
            )
            if stored is not None:
                state.message_id, state.run = stored["id"], stored["run"]
        except Exception:
            log.exception("could not store the fusion of turn %s", turn.id)
        if state.message_id is None and answer.status == "complete":
            # A client that sees "complete" relies on the row being there.
            answer.status, answer.error_type = "failed", "not_stored"
            answer.error_message = "the fused answer could not be stored"
        row = asdict(answer) | {"judge_provider": state.judge, "fused_from": state.fused_from}
        state.status, state.cost_usd = answer.status, answer.cost_usd
        turn.cost_usd = sum_costs((turn.cost_usd, answer.cost_usd))
        if (observer := self.endings.observer) is not None:
            observer.leg_finished(turn, leg, result, answer)
        leg.provider.record(result.status)
        said = result.error
        retryable = said is not None and said.type == row["error_type"] and said.retryable
        state.done = fuse_done(row, state.message_id, answer_error(row, retryable=retryable))
        state.done_event_id = turn.log.publish("done", state.done)
        await self.endings.end_if_finished(turn)


def fusion_state(judge: Provider, model: str, chosen: list[Source]) -> FuseState:
    """A new fusion's leg (its run is numbered when it is stored)."""
    return FuseState(
        FUSE,
        model,
        judge.config.simulated,
        judge=judge.config.name,
        fused_from=tuple(s.message_id for s in chosen if s.message_id is not None),
    )


def entries(turn: Turn) -> list[dict]:
    """The turn's providers as its row lists them (its fusion is not one)."""
    return [leg.entry() for leg in providers_only(turn.legs).values()]
