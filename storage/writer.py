"""Group commit: one writer task stores the answers of many legs in one transaction.

Legs hand their finished answer to ``Writer.store_answer`` and wait for its id, which exists
only once the row is committed. The queue is bounded, so when PostgreSQL falls behind the legs
wait at the door instead of memory growing. When the database is unreachable the writer keeps
the batch and retries until it is back; the insert is idempotent, so a batch whose commit
succeeded but whose reply was lost is not stored twice.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import asyncpg
import orjson

from storage.database import is_unavailable
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


@dataclass(slots=True)
class TurnEnd:
    turn_id: str
    conversation_id: int
    done_event_ids: dict[str, int]
    end_event_id: int


_Item = tuple[Answer | TurnEnd, asyncio.Future]


class Writer:
    def __init__(
        self,
        pool: asyncpg.Pool,
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
            results = await self._commit_until_stored(batch)
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():
                    future.set_result(result)
                self.queue.task_done()

    async def _commit_until_stored(self, batch: list[_Item]) -> list[Any]:
        delay = self.retry_delay
        while True:
            try:
                return await self._commit(batch)
            except Exception as error:
                if not is_unavailable(error):
                    log.exception("storing %d item(s) failed; failing them", len(batch))
                    for _, future in batch:
                        if not future.done():
                            future.set_exception(error)
                    return [None] * len(batch)
                log.warning(
                    "database unavailable (%s); retrying in %.1f s", type(error).__name__, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _commit(self, batch: list[_Item]) -> list[Any]:
        answers = [item for item, _ in batch if isinstance(item, Answer)]
        ends = [item for item, _ in batch if isinstance(item, TurnEnd)]
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
            ended_turn_ids=[e.turn_id for e in ends],
            done_event_ids=[json_text(e.done_event_ids) for e in ends],
            end_event_ids=[e.end_event_id for e in ends],
            touched_ids=sorted({item.conversation_id for item, _ in batch}),
        )
        self.batches += 1
        ids = {(row["turn_id"], row["provider"]): row["id"] for row in rows}
        return [
            ids.get((item.turn_id, item.provider)) if isinstance(item, Answer) else None
            for item, _ in batch
        ]


def json_text(value: object) -> str | None:
    # jsonb arrays go in as text[]: asyncpg's array encoder would take a list value for a sub-array.
    return None if value is None else orjson.dumps(value).decode()
