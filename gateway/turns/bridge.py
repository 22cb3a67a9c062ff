"""The bridge to other gateway processes (the Redis bus, with ``REDIS_URL``): what they ask of
the turns this process runs (cancel, reveal, rerun), the turns of a process that died, and
asking the process that runs a turn to cancel or reveal it."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from gateway.turns.errors import TurnError
from gateway.turns.replay import load_stored_turn
from gateway.turns.reruns.choice import Rerun, error_reply
from gateway.turns.table import TurnTable
from storage import Pool

if TYPE_CHECKING:
    from gateway.bus import EventBus

log = logging.getLogger("multichat.turns")

RerunCall = Callable[..., Awaitable[Rerun]]
FuseCall = Callable[..., Awaitable[Rerun]]


def event_bus() -> type[EventBus]:
    """The Redis bus, imported only when REDIS_URL asks for it: redis-py brings about 20 MB
    of modules (OpenTelemetry's SDK among them) that a single process never uses."""
    from gateway.bus import EventBus

    return EventBus


class ProcessBridge:
    def __init__(
        self, table: TurnTable, pool: Pool, rerun: RerunCall, fuse: FuseCall | None = None
    ) -> None:
        self.table = table
        self.pool = pool
        self.rerun = rerun
        self.fuse = fuse
        self.bus: EventBus | None = None  # set once the bus, which calls back here, is made

    # -- asked by another process -----------------------------------------------------------------

    async def rerun_from_elsewhere(self, request: dict) -> dict | None:
        """A retry, add or fusion that another process received for one of our running turns:
        the reply it answers its client with; None when the turn is not ours."""
        turn_id = request["rerun"]
        if turn_id not in self.table.running_legs:
            return None  # every worker hears the request; the owner answers
        fuse = request.get("fuse")
        try:
            if fuse is not None and self.fuse is not None:
                started = await self.fuse(
                    turn_id,
                    fuse["model"],
                    instructions=fuse["instructions"],
                    answers=fuse["answers"],
                    owner=request["owner"],
                )
            else:
                started = await self.rerun(
                    turn_id, request["providers"], add=request["add"], owner=request["owner"]
                )
        except TurnError as error:
            return error_reply(error)
        return started.as_dict()

    def cancel_from_elsewhere(self, turn_id: str, providers: list[str] | None) -> None:
        if turn_id in self.table.running_legs:  # ours; every worker hears the request
            self.table.cancel(turn_id, providers)

    def taken_from_us(self, turn_ids: list[str]) -> None:
        """This process was taken for dead and its turns finished elsewhere: stop them here."""
        log.warning("%d turn(s) of this process were taken over by another one", len(turn_ids))
        for turn_id in turn_ids:
            self.table.cancel(turn_id)

    def reveal_from_elsewhere(self, turn_id: str) -> None:
        turn = self.table.turns.get(turn_id)
        if turn_id in self.table.running_legs and turn is not None:
            turn.reveal()

    async def interrupted(self, turn_ids: list[str]) -> None:
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

    # -- asking the process that runs a turn ------------------------------------------------------

    async def cancel_elsewhere(self, turn_id: str, providers: list[str] | None) -> None:
        """A running turn this process does not hold: its owner cancels (if there is a bus)."""
        if self.bus is not None:
            await self.bus.request_cancel(turn_id, providers)

    async def reveal_elsewhere(self, turn_id: str) -> None:
        if self.bus is not None:
            await self.bus.request_reveal(turn_id)
