"""Checkpoints: the text (and reasoning) of running answers, stored every few seconds, so a
crash keeps it.

One timer for the whole gateway, not one per leg or per token: every ``interval`` seconds the
text of each leg that grew since its last checkpoint is handed to the group-commit writer,
which stores it without anyone waiting. A gateway killed mid-answer therefore loses at most
the last ``interval`` seconds of each answer (plus whatever the writer had not committed).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from gateway.turns.leg import Leg
from storage import Checkpoint, Writer


class Checkpointer:
    def __init__(
        self, writer: Writer, interval: float, running: Callable[[], Iterable[tuple[str, Leg]]]
    ) -> None:
        self.writer = writer
        self.interval = interval
        self.running = running  # (turn id, leg) of every leg of a stored, running turn
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self.interval > 0:
            self._task = asyncio.create_task(self._loop(), name="answer-checkpoints")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self.take()

    def take(self) -> int:
        """Queue a checkpoint of every leg whose text or reasoning grew; returns how many were
        queued."""
        due: list[tuple[Leg, tuple[int, int], Checkpoint]] = []
        for turn_id, leg in self.running():
            grown = (len(leg.parts), len(leg.thoughts))
            if grown != leg.checkpointed and not leg.storing:
                text = "".join(leg.parts)
                thinking = "".join(leg.thoughts) if leg.thoughts else None
                state = leg.state
                checkpoint = Checkpoint(turn_id, state.provider, state.model, text, thinking)
                due.append((leg, grown, checkpoint))
        queued = self.writer.checkpoint([checkpoint for _, _, checkpoint in due])
        for leg, grown, _ in due[:queued]:
            leg.checkpointed = grown
        return queued
