"""Grace timers: a turn whose last listener left waits ``disconnect_grace`` seconds for a
reconnect, and a turn started for a listener waits ``first_listener_timeout`` for the first;
then what still runs is cancelled (and stored as ``cancelled``). With the Redis bus, a listener
on another process counts too."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from gateway.settings import Settings
from gateway.turns.table import TurnTable

if TYPE_CHECKING:
    from gateway.bus import EventBus

log = logging.getLogger("multichat.turns")


class GraceTimers:
    def __init__(self, table: TurnTable, settings: Settings, bus: EventBus | None) -> None:
        self.table = table
        self.settings = settings
        self.bus = bus
        self._timers: dict[str, asyncio.TimerHandle] = {}

    def start(self, turn_id: str, seconds: float) -> None:
        self.cancel(turn_id)
        loop = asyncio.get_running_loop()
        self._timers[turn_id] = loop.call_later(seconds, self._over, turn_id)

    def cancel(self, turn_id: str) -> None:
        handle = self._timers.pop(turn_id, None)
        if handle is not None:
            handle.cancel()

    def stop(self) -> None:
        for handle in self._timers.values():
            handle.cancel()

    def _over(self, turn_id: str) -> None:
        self._timers.pop(turn_id, None)
        turn = self.table.turns.get(turn_id)
        if turn is None or turn.log.listeners:
            return
        if self.bus is None:
            self._abandon(turn_id)
        else:
            asyncio.get_running_loop().create_task(self._over_everywhere(turn_id))

    async def _over_everywhere(self, turn_id: str) -> None:
        """A listener on another worker counts: wait another grace period for it."""
        assert self.bus is not None
        if await self.bus.watched(turn_id):
            self.start(turn_id, max(self.settings.disconnect_grace, 0.5))
        elif (turn := self.table.turns.get(turn_id)) is not None and not turn.log.listeners:
            self._abandon(turn_id)

    def _abandon(self, turn_id: str) -> None:
        log.info("turn %s has no listener; cancelling its running legs", turn_id)
        self.table.cancel(turn_id)
