"""The turn engine: one prompt, one leg per provider, one merged and resumable event stream.

A turn runs on the server, not inside an HTTP connection: legs are tasks that relay their
provider's text into the turn's log as it arrives, and store their answer once, when they end.
Listeners come and go; when the last one leaves, the turn waits ``disconnect_grace`` seconds for
a reconnect before it cancels what is still running (and stores it as ``cancelled``).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import asyncpg

from gateway.context import build_threads
from gateway.errors import ApiError, not_found
from gateway.models import ChatRequest
from gateway.runtime import Provider
from gateway.settings import Settings
from gateway.sse import event_bytes
from gateway.turns import LegInfo, Turn
from providers.base import Citations, Finish, Message, ProviderError, Started, Usage
from storage.sql import Q
from storage.writer import Answer, TurnEnd, Writer

log = logging.getLogger("multichat.engine")

LEASE_SECONDS = 30.0
INTERRUPTED_IDS = 1_000_000_000  # a crashed turn's replay numbers its dones and end from here
FIRST_LISTENER_WINDOW = 15.0  # how long a turn created by POST /turns waits for its EventSource
MAX_TITLE = 60


@dataclass(slots=True)
class LegTask:
    info: LegInfo
    provider: Provider
    thread: list[Message]
    task: asyncio.Task | None = None
    cancel_requested: bool = False
    entered: bool = False  # a task cancelled before it runs never enters its body
    storing: bool = False


class Engine:
    def __init__(
        self, settings: Settings, pool: asyncpg.Pool, providers: dict[str, Provider]
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.providers = providers
        self.writer = Writer(
            pool, batch_size=settings.writer_batch, queue_size=settings.writer_queue
        )
        self.turns: dict[str, Turn] = {}  # live turns, and ended ones for the retention window
        self.legs: dict[str, dict[str, LegTask]] = {}  # running legs by turn
        self._grace: dict[str, asyncio.TimerHandle] = {}
        self._maintenance: asyncio.Task | None = None
        self._starting = 0  # turns past the limit check whose prompt is still being stored

    @property
    def running(self) -> int:
        return len(self.legs) + self._starting

    # -- life cycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        self.writer.start()
        # A turn left running by a crash is closed before the first request is served, so its
        # replay is complete from the start instead of after the first maintenance period.
        await self._maintain_once()
        self._maintenance = asyncio.create_task(self._maintain(), name="turn-leases")

    async def stop(self) -> None:
        """Cancel what still runs, store it, and let the writer drain."""
        if self._maintenance is not None:
            self._maintenance.cancel()
        for turn_id in list(self.legs):
            self.cancel(turn_id)
        tasks = [leg.task for legs in self.legs.values() for leg in legs.values() if leg.task]
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.writer.stop()
        for handle in self._grace.values():
            handle.cancel()

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(LEASE_SECONDS / 3)
            await self._maintain_once()

    async def _maintain_once(self) -> None:
        """Renew the leases of our running turns; close turns whose owner died."""
        try:
            if self.legs:
                await Q.renew_leases.execute(
                    self.pool, ids=list(self.legs), lease_seconds=LEASE_SECONDS
                )
            interrupted = await Q.interrupt_expired_turns.fetchval(self.pool)
            if interrupted:
                log.warning(
                    "marked %d turn(s) left running by a stopped gateway as interrupted",
                    interrupted,
                )
        except Exception as error:  # the database may be away; try again next round
            log.warning("turn maintenance failed: %s", type(error).__name__)

    # -- creating a turn --------------------------------------------------------------------------

    def choose_providers(self, models: Sequence[str] | None) -> list[tuple[Provider, str]]:
        if models is None:
            return [(p, p.config.model) for p in self.providers.values()]
        if not models:
            raise ApiError(422, "models: choose at least one provider, or send null for all")
        if len(models) > len(self.providers):
            raise ApiError(422, f"models: at most {len(self.providers)} providers per turn")
        chosen: list[tuple[Provider, str]] = []
        for entry in models:
            name, _, model = entry.partition(":")
            provider = self.providers.get(name.strip())
            if provider is None:
                known = ", ".join(self.providers)
                raise ApiError(
                    422,
                    f"models: unknown provider {name!r} (known: {known})",
                    type="unknown_provider",
                )
            if any(p is provider for p, _ in chosen):
                raise ApiError(422, f"models: {name!r} is listed twice")
            chosen.append((provider, model.strip() or provider.config.model))
        return chosen

    async def create_turn(self, request: ChatRequest, *, wait_for_listener: bool) -> Turn:
        if len(request.prompt) > self.settings.max_prompt_chars:
            raise ApiError(
                413,
                f"the prompt is longer than {self.settings.max_prompt_chars} characters",
                type="prompt_too_large",
            )
        chosen = self.choose_providers(request.models)
        if self.running >= self.settings.max_concurrent_turns:
            raise ApiError(
                429,
                "too many turns are running; try again in a moment",
                headers={"Retry-After": "1"},
            )
        names = [p.config.name for p, _ in chosen]
        legs = {
            p.config.name: LegInfo(p.config.name, model, p.config.simulated) for p, model in chosen
        }
        turn_id = secrets.token_urlsafe(16)  # 128 random bits
        # The slot is taken before the first await, or turns created at the same moment would
        # all pass the check above.
        self._starting += 1
        try:
            rows = await self._thread_rows(request.conversation_id, names)
            threads = build_threads(rows, names, request.prompt, self.settings.context_budget_chars)
            turn = Turn(
                turn_id,
                request.conversation_id or 0,
                0,
                legs,
                listener_limit=self.settings.listener_buffer_bytes,
                on_abandoned=self._abandoned,
                on_listener=self._listener_joined,
                held=[],
            )
            turn.stored = asyncio.get_running_loop().create_future()
            # The providers are called now, while the prompt is stored: storing it is then off
            # the time to first token. What they say before the turn is stored is held.
            self.legs[turn_id] = {
                name: LegTask(legs[name], provider, threads[name])
                for name, (provider, _) in zip(names, chosen, strict=True)
            }
        finally:
            self._starting -= 1
        for leg in self.legs[turn_id].values():
            leg.task = asyncio.create_task(
                self._run_leg(turn, leg), name=f"leg-{turn_id}-{leg.info.provider}"
            )
        try:
            turn.conversation_id, turn.user_message_id = await self._store_prompt(
                request, turn_id, legs
            )
        except BaseException:
            self._discard(turn)
            raise
        self.turns[turn_id] = turn
        turn.release(turn_payload(turn))
        turn.stored.set_result(True)
        if wait_for_listener:
            self._start_grace(turn, max(self.settings.disconnect_grace, FIRST_LISTENER_WINDOW))
        return turn

    def _discard(self, turn: Turn) -> None:
        """The prompt could not be stored: stop the legs; they store and send nothing."""
        self.cancel(turn.id)
        self.legs.pop(turn.id, None)
        turn.stored.set_result(False)

    async def _thread_rows(self, conversation_id: int | None, providers: list[str]) -> list:
        if conversation_id is None:
            return []
        if not 1 <= conversation_id < 2**63:
            raise not_found("conversation")
        rows = await Q.thread_rows.fetch(
            self.pool, conversation_id=conversation_id, providers=providers
        )
        if not rows:
            raise not_found("conversation")  # before any provider is called
        return rows

    async def _store_prompt(
        self, request: ChatRequest, turn_id: str, legs: dict[str, LegInfo]
    ) -> tuple[int, int]:
        """Store the prompt and the turn, in one statement; return the two ids."""
        stored = await Q.start_turn.fetchrow(
            self.pool,
            conversation_id=request.conversation_id,
            title=title_from(request.prompt),
            turn_id=turn_id,
            content=request.prompt,
            providers=[
                {"provider": leg.provider, "model": leg.model, "simulated": leg.simulated}
                for leg in legs.values()
            ],
            lease_seconds=LEASE_SECONDS,
        )
        if stored is None:
            raise not_found("conversation")  # deleted since its thread was read
        return stored["conversation_id"], stored["user_message_id"]

    # -- one provider's leg: the per-token path -------------------------------------------------

    async def _run_leg(self, turn: Turn, leg: LegTask) -> None:
        leg.entered = True
        info, provider = leg.info, leg.provider
        # perf_counter, not loop.time(): uvloop's clock ticks in whole milliseconds.
        clock = time.perf_counter
        started = clock()
        parts: list[str] = []
        append, publish_delta = parts.append, turn.publish_delta
        ttft_ms = None
        finish: Finish | None = None
        usage: Usage | None = None
        citations: list[str] | None = None
        error: ProviderError | None = None
        status = "cancelled" if leg.cancel_requested else "complete"
        try:
            if not leg.cancel_requested:  # else it was cancelled before this task first ran
                async for event in provider.adapter.stream(leg.thread, info.model):
                    if type(event) is str:
                        if ttft_ms is None:
                            ttft_ms = (clock() - started) * 1000.0
                            info.status = "streaming"
                        append(event)
                        publish_delta(info, event)
                    elif type(event) is Started:
                        info.status = "streaming"
                        turn.publish("start", {"provider": info.provider, "model": info.model})
                    elif type(event) is Finish:
                        finish = event
                    elif type(event) is Usage:
                        usage = event
                    elif type(event) is Citations:
                        citations = list(event.urls)
        except ProviderError as failure:
            status, error = "failed", failure
        except asyncio.CancelledError:
            if not leg.cancel_requested:
                raise
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
            status = "cancelled"
        except Exception:  # a bug in an adapter must end its own leg, not the turn
            log.exception("%s adapter failed unexpectedly", info.provider)
            status = "failed"
            error = ProviderError(
                "internal_error", f"{info.provider}: the gateway failed to read the answer"
            )

        leg.storing = True  # from here on a cancel cannot interrupt the leg
        if not await turn.stored:
            return  # the prompt was never stored: this leg is discarded
        answer = Answer(
            conversation_id=turn.conversation_id,
            turn_id=turn.id,
            provider=info.provider,
            model=info.model,
            status=status,
            content="".join(parts),
            finish_reason=finish.reason if finish else None,
            error_type=error.type if error else None,
            error_message=error.message if error else None,
            error_status_code=error.status_code if error else None,
            ttft_ms=round(ttft_ms, 3) if ttft_ms is not None else None,
            latency_ms=round((clock() - started) * 1000.0, 3),
            input_tokens=usage.input_tokens if usage else None,
            output_tokens=usage.output_tokens if usage else None,
            citations=citations,
        )
        try:
            info.message_id = await self.writer.store_answer(answer)
        except Exception:
            log.exception("could not store the %s answer of turn %s", info.provider, turn.id)
        info.status = status
        provider.record(status == "complete")
        info.done = done_payload(
            asdict(answer), info.message_id, error.as_dict() if error else None
        )
        info.done_event_id = turn.publish("done", info.done)
        await self._leg_finished(turn)

    async def _leg_finished(self, turn: Turn) -> None:
        if not all(leg.finished for leg in turn.legs.values()):
            return
        # Every leg is done: nothing else can publish, so the end's id is known before it is sent.
        end_id = turn.last_id + 1
        done_ids = {name: leg.done_event_id for name, leg in turn.legs.items()}
        try:
            await self.writer.end_turn(TurnEnd(turn.id, turn.conversation_id, done_ids, end_id))  # type: ignore[arg-type]
        except Exception:
            log.exception("could not mark turn %s finished", turn.id)
        turn.end({name: leg.status for name, leg in turn.legs.items()})
        self.legs.pop(turn.id, None)
        self._cancel_grace(turn.id)
        loop = asyncio.get_running_loop()
        loop.call_later(self.settings.replay_retention, self.turns.pop, turn.id, None)

    # -- listeners, grace and cancel ----------------------------------------------------------

    def _listener_joined(self, turn: Turn) -> None:
        self._cancel_grace(turn.id)

    def _abandoned(self, turn: Turn) -> None:
        self._start_grace(turn, self.settings.disconnect_grace)

    def _start_grace(self, turn: Turn, seconds: float) -> None:
        self._cancel_grace(turn.id)
        loop = asyncio.get_running_loop()
        self._grace[turn.id] = loop.call_later(seconds, self._grace_over, turn.id)

    def _cancel_grace(self, turn_id: str) -> None:
        handle = self._grace.pop(turn_id, None)
        if handle is not None:
            handle.cancel()

    def _grace_over(self, turn_id: str) -> None:
        self._grace.pop(turn_id, None)
        turn = self.turns.get(turn_id)
        if turn is not None and not turn.listeners:
            log.info("turn %s has no listener; cancelling its running legs", turn_id)
            self.cancel(turn_id)

    def cancel(self, turn_id: str, providers: Sequence[str] | None = None) -> list[str]:
        """Cancel running legs now; return the providers that were cancelled."""
        cancelled = []
        for name, leg in self.legs.get(turn_id, {}).items():
            if providers is not None and name not in providers:
                continue
            if leg.storing or leg.cancel_requested or leg.task is None:
                continue
            leg.cancel_requested = True
            if leg.entered:
                leg.task.cancel()
            cancelled.append(name)
        return cancelled

    async def cancel_conversation(self, conversation_id: int) -> None:
        turn_ids = [
            t.id
            for t in self.turns.values()
            if t.conversation_id == conversation_id and t.id in self.legs
        ]
        for turn_id in turn_ids:
            self.cancel(turn_id)
        tasks = [leg.task for t in turn_ids for leg in self.legs.get(t, {}).values() if leg.task]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait(self, turn: Turn) -> None:
        """Until the turn has ended (for the blocking POST /chat/)."""
        tasks = [leg.task for leg in self.legs.get(turn.id, {}).values() if leg.task]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # -- replay from the database --------------------------------------------------------------

    async def stored_events(self, turn_id: str, after: int) -> tuple[list[bytes], bool] | None:
        """A turn's events rebuilt from PostgreSQL: (events after ``after``, ended?).

        A finished turn replays with the ids its events had on the wire; deltas are not stored,
        but each done carries the whole text. None when there is no such turn.
        """
        row = await Q.get_turn.fetchrow(self.pool, id=turn_id)
        if row is None:
            return None
        turn_event = event_bytes(
            1,
            "turn",
            {
                "turn_id": row["id"],
                "conversation_id": row["conversation_id"],
                "user_message_id": row["user_message_id"],
                "providers": row["providers"],
            },
        )
        if row["status"] == "running":
            # Running in another process (or its owner just died): only the turn event is safe;
            # the client's EventSource comes back after `retry` ms and finds more.
            return ([turn_event] if after < 1 else []), False
        answers = {a["provider"]: a for a in await Q.turn_answers.fetch(self.pool, turn_id=turn_id)}
        done_ids = row["done_event_ids"] or {}
        events: list[tuple[int, bytes]] = [(1, turn_event)]
        for index, entry in enumerate(row["providers"], start=1):
            answer = answers.get(entry["provider"])
            if answer is None:
                continue
            # Interrupted: the ids the live stream had died with its gateway. Number the rest
            # above any id a live stream reaches, and the same on every replay, so that a
            # client that saw the end gets 204 next time instead of the dones all over again.
            id = done_ids.get(entry["provider"], INTERRUPTED_IDS + index)
            events.append((id, event_bytes(id, "done", stored_done_payload(answer))))
        end_id = row["end_event_id"] or max(id for id, _ in events) + 1
        statuses = {
            entry["provider"]: answers[entry["provider"]]["status"]
            for entry in row["providers"]
            if entry["provider"] in answers
        }
        events.append(
            (end_id, event_bytes(end_id, "end", {"turn_id": turn_id, "statuses": statuses}))
        )
        return [chunk for id, chunk in sorted(events, key=lambda e: e[0]) if id > after], True


def title_from(prompt: str) -> str:
    title = " ".join(prompt.split())
    return title if len(title) <= MAX_TITLE else title[: MAX_TITLE - 1].rstrip() + "…"


def turn_payload(turn: Turn) -> dict:
    return {
        "turn_id": turn.id,
        "conversation_id": turn.conversation_id,
        "user_message_id": turn.user_message_id,
        "providers": [
            {"provider": leg.provider, "model": leg.model, "simulated": leg.simulated}
            for leg in turn.legs.values()
        ],
    }


def usage_dict(input_tokens: int | None, output_tokens: int | None) -> dict | None:
    if input_tokens is None and output_tokens is None:
        return None
    return {"input_tokens": input_tokens, "output_tokens": output_tokens}


def done_payload(answer: Mapping, message_id: int | None, error: dict | None) -> dict:
    """A done event's data, from a finished leg's answer or from its stored row."""
    return {
        "provider": answer["provider"],
        "status": answer["status"],
        "message_id": message_id,
        "model": answer["model"],
        "content": answer["content"],
        "finish_reason": answer["finish_reason"],
        "usage": usage_dict(answer["input_tokens"], answer["output_tokens"]),
        "ttft_ms": answer["ttft_ms"],
        "latency_ms": answer["latency_ms"],
        "error": error,
        "citations": answer["citations"],
    }


def stored_done_payload(row: asyncpg.Record) -> dict:
    error = None
    if row["error_type"]:
        error = {
            "type": row["error_type"],
            "message": row["error_message"],
            "status_code": row["error_status_code"],
            "retryable": False,
        }
    return done_payload(row, row["id"], error)
    return {
        "provider": row["provider"],
        "status": row["status"],
        "message_id": row["id"],
        "model": row["model"],
        "content": row["content"],
        "finish_reason": row["finish_reason"],
        "usage": usage_dict(row["input_tokens"], row["output_tokens"]),
        "ttft_ms": row["ttft_ms"],
        "latency_ms": row["latency_ms"],
        "error": error,
        "citations": row["citations"],
    }
