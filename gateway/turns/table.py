"""The turns this process holds, shared by the registry's collaborators: live turns and lately
ended ones, the legs still running, the turns between their last done and their end, and
whether the process still starts new turns."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

from gateway.turns.leg import Leg
from gateway.turns.turn import Turn


@dataclass(eq=False)
class TurnTable:
    turns: dict[str, Turn] = field(default_factory=dict)  # live, and ended for the retention
    running_legs: dict[str, dict[str, Leg]] = field(default_factory=dict)  # by turn
    starting: int = 0  # turns past the limit check whose prompt is still being stored
    ending: dict[str, asyncio.Event] = field(default_factory=dict)  # last done stored, end not
    forget: dict[str, asyncio.TimerHandle] = field(default_factory=dict)  # leaving memory
    draining: bool = False  # shutting down: no new turn starts

    @property
    def running(self) -> int:
        return len(self.running_legs) + self.starting

    def live(self, turn_id: str, owner: int = 0) -> Turn | None:
        """The turn in memory, if it is ``owner``'s (another key's turn is as good as absent)."""
        turn = self.turns.get(turn_id)
        return turn if turn is not None and turn.owner == owner else None

    def tasks(self, turn_ids: Sequence[str]) -> list[asyncio.Task]:
        return [
            leg.task
            for turn_id in turn_ids
            for leg in self.running_legs.get(turn_id, {}).values()
            if leg.task is not None
        ]

    def stored_legs(self) -> list[tuple[str, Leg]]:
        """The running legs of turns whose prompt is stored (what a checkpoint may write)."""
        return [
            (turn_id, leg)
            for turn_id, legs in self.running_legs.items()
            if turn_id in self.turns
            for leg in legs.values()
        ]

    def cancel(self, turn_id: str, providers: Sequence[str] | None = None) -> list[str]:
        """Cancel running legs now; return the providers that were cancelled."""
        return [
            name
            for name, leg in self.running_legs.get(turn_id, {}).items()
            if (providers is None or name in providers) and leg.cancel()
        ]

    def forget_later(self, turn_id: str, seconds: float) -> None:
        """An ended turn leaves memory after ``seconds`` (unless it is reopened first)."""
        loop = asyncio.get_running_loop()
        self.forget[turn_id] = loop.call_later(seconds, self._forget, turn_id)

    def keep(self, turn_id: str) -> None:
        """A reopened turn stays in memory."""
        if (handle := self.forget.pop(turn_id, None)) is not None:
            handle.cancel()

    def _forget(self, turn_id: str) -> None:
        self.forget.pop(turn_id, None)
        self.turns.pop(turn_id, None)
