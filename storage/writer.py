"""Group commit: one writer task stores the answers of many legs in one transaction.

Legs hand their finished answer to ``Writer.store_answer`` and wait for its id, which exists
only once the row is committed. The queue is bounded, so when PostgreSQL falls behind the legs
wait at the door instead of memory growing. When the database is unreachable the writer keeps
the batch and retries until it is back; the insert is idempotent, so a batch whose commit
succeeded but whose reply was lost is not stored twice.

One bad row never costs another: a batch that PostgreSQL refuses for what is in it (not for
being away) is split in halves and each half retried, down to the one guilty row, which is
stored as a ``failed`` answer whose error says why. Running answers are checkpointed through
the same queue (``checkpoint``), never waited for, so that a crash keeps their text.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from storage.database import Pool, is_unavailable
from storage.sql import Q

log = logging.getLogger("multichat.writer")


@dataclass(slots=True)
class Answer:
    conversation_id: int
    turn_id: str
    provider: str
    model: str
    status: str
    content: str
    finish_reason: str | None = None
    error_type: str | None = None
    error_message: str | None = None
    error_status_code: int | None = None
    ttft_ms: float | None = None
    latency_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    citations: list[str] | None = None
    cost_usd: float | None = None
    run: int = 0  # 0: the turn's first answer of this provider; a retry's is the next number
    thinking: str | None = None  # the reasoning, apart from the answer; None: none came
    reasoning_tokens: int | None = None  # part of output_tokens
    echo: dict | None = None  # what the provider's API wants back with it (opaque)
    settings_ignored: dict[str, str] | None = None  # settings its model was not given, and why


@dataclass(slots=True)
class Checkpoint:
    """The text (and reasoning) of a running answer so far; the last one of each leg wins."""

    turn_id: str
    provider: str
    model: str
    content: str
    thinking: str | None = None


@dataclass(slots=True)
class TurnEnd:
    turn_id: str
    conversation_id: int
    done_event_ids: dict[str, int]
    end_event_id: int


Item = Answer | TurnEnd | Checkpoint
_Item = tuple[Item, asyncio.Future | None]  # checkpoints have no future: nobody waits for them


class Writer:
    def __init__(
        self,
        pool: Pool,
        *,
        batch_size: int = 200,
        queue_size: int = 10_000,
        retry_delay: float = 0.5,
    ) -> None:
        self.pool = pool
        self.batch_size = batch_size
        self.retry_delay = retry_delay
        self.queue: asyncio.Queue[_Item] = asyncio.Queue(queue_size)
        self.batches = 0  # for tests and metrics: how many transactions were committed
        # Called after each transaction with its item count and seconds (the gateway's metrics).
        self.on_commit: Callable[[int, float], None] | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="answer-writer")

    async def stop(self) -> None:
        """Finish what is queued, then stop."""
        if self._task is None:
            return
        await self.queue.join()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def store_answer(self, answer: Answer) -> int | None:
        """The committed message id; None when the turn no longer exists (conversation deleted)."""
        return await self._submit(answer)

    async def end_turn(self, end: TurnEnd) -> None:
        await self._submit(end)

    def checkpoint(self, checkpoints: list[Checkpoint]) -> int:
        """Queue checkpoints without waiting; those that do not fit now are skipped (the next
        round carries newer text anyway). Returns how many were queued."""
        queued = 0
        for checkpoint in checkpoints:
            try:
                self.queue.put_nowait((checkpoint, None))
            except asyncio.QueueFull:
                break
            queued += 1
        return queued

    async def _submit(self, item: Answer | TurnEnd) -> Any:
        future = asyncio.get_running_loop().create_future()
        await self.queue.put((item, future))
        # A cancelled leg still gets its row stored: the writer owns the item now.
        return await asyncio.shield(future)

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            while len(batch) < self.batch_size and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            results = await self._store(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if future is not None and not future.done():
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                self.queue.task_done()

    async def _store(self, batch: list[_Item]) -> list[Any]:
        """Each item's result (an id, None, or the exception that item alone ran into)."""
        try:
            return await self._commit_until_stored(batch)
        except Exception as error:  # what is in the batch, not the database being away
            if len(batch) > 1:
                half = len(batch) // 2
                return [*await self._store(batch[:half]), *await self._store(batch[half:])]
            return [await self._store_guilty(batch[0][0], error)]

    async def _store_guilty(self, item: Item, error: Exception) -> Any:
        """The one row PostgreSQL refused: an answer is stored as failed, saying why."""
        # The reason may quote what could not be stored (a lone surrogate, say): make it safe.
        detail = str(error)[:200].encode("utf-8", "replace").decode().replace("\x00", "")
        reason = f"{type(error).__name__}: {detail}"
        if not isinstance(item, Answer):
            log.error(
                "could not store %s of turn %s: %s", type(item).__name__, item.turn_id, reason
            )
            return error
        log.error(
            "could not store the %s answer of turn %s: %s", item.provider, item.turn_id, reason
        )
        item.status = "failed"
        item.content = ""
        item.thinking = None
        item.finish_reason = None
        item.input_tokens = item.output_tokens = item.reasoning_tokens = None
        item.citations = item.echo = item.settings_ignored = None
        item.error_type = "unstorable"
        item.error_message = f"the answer could not be stored ({reason})"
        item.error_status_code = None
        try:
            (message_id,) = await self._commit_until_stored([(item, None)])
        except Exception as second:
            return second
        return message_id

    async def _commit_until_stored(self, batch: list[_Item]) -> list[Any]:
        """Commit the batch, waiting out an unavailable database; a data error is raised."""
        delay = self.retry_delay
        while True:
            try:
                started = time.perf_counter()
                results = await self._commit(batch)
                if self.on_commit is not None:
                    self.on_commit(len(batch), time.perf_counter() - started)
                return results
            except Exception as error:
                if not is_unavailable(error):
                    raise
                log.warning(
                    "database unavailable (%s); retrying in %.1f s", type(error).__name__, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _commit(self, batch: list[_Item]) -> list[Any]:
        checkpoints = {
            (item.turn_id, item.provider): item for item, _ in batch if isinstance(item, Checkpoint)
        }
        if checkpoints:
            await self._store_checkpoints(list(checkpoints.values()))
        answers = [item for item, _ in batch if isinstance(item, Answer)]
        ends = [item for item, _ in batch if isinstance(item, TurnEnd)]
        if not answers and not ends:
            return [None] * len(batch)
        rows = await Q.store_batch.fetch(
            self.pool,
            conversation_ids=[a.conversation_id for a in answers],
            turn_ids=[a.turn_id for a in answers],
            providers=[a.provider for a in answers],
            models=[a.model for a in answers],
            statuses=[a.status for a in answers],
            contents=[a.content for a in answers],
            finish_reasons=[a.finish_reason for a in answers],
            error_types=[a.error_type for a in answers],
            error_messages=[a.error_message for a in answers],
            error_status_codes=[a.error_status_code for a in answers],
            ttfts=[a.ttft_ms for a in answers],
            latencies=[a.latency_ms for a in answers],
            input_tokens=[a.input_tokens for a in answers],
            output_tokens=[a.output_tokens for a in answers],
            citations=[json_text(a.citations) for a in answers],
            costs=[a.cost_usd for a in answers],
            runs=[a.run for a in answers],
            thinkings=[a.thinking for a in answers],
            reasoning_tokens=[a.reasoning_tokens for a in answers],
            echoes=[json_text(a.echo) for a in answers],
            settings_ignored=[json_text(a.settings_ignored) for a in answers],
            ended_turn_ids=[e.turn_id for e in ends],
            done_event_ids=[json_text(e.done_event_ids) for e in ends],
            end_event_ids=[e.end_event_id for e in ends],
            touched_ids=sorted(
                {a.conversation_id for a in answers} | {e.conversation_id for e in ends}
            ),
        )
        self.batches += 1
        ids = {(row["turn_id"], row["provider"], row["run"]): row["id"] for row in rows}
        return [
            ids.get((item.turn_id, item.provider, item.run)) if isinstance(item, Answer) else None
            for item, _ in batch
        ]

    async def _store_checkpoints(self, checkpoints: list[Checkpoint]) -> None:
        await Q.store_checkpoints.execute(
            self.pool,
            turn_ids=[c.turn_id for c in checkpoints],
            providers=[c.provider for c in checkpoints],
            models=[c.model for c in checkpoints],
            contents=[c.content for c in checkpoints],
            thinkings=[c.thinking for c in checkpoints],
        )


def json_text(value: object) -> str | None:
    # jsonb arrays go in as text[]: asyncpg's array encoder would take a list value for a sub-array.
    return None if value is None else orjson.dumps(value).decode()
