"""Leases: how gateways sharing one database know whose turns are still running.

A running turn's row carries ``lease_until``; its owner renews the leases of all its running
turns every ``LEASE_SECONDS / 3``. A turn whose lease ran out belongs to a gateway that died:
any gateway then marks it interrupted, with a failed answer for each provider that had none,
so its replay still ends with one ``done`` per provider.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection

from storage import Pool, Q

log = logging.getLogger("multichat.turns")

LEASE_SECONDS = 30.0


class LeaseKeeper:
    def __init__(
        self,
        pool: Pool,
        running: Callable[[], Collection[str]],
        *,
        lease_seconds: float = LEASE_SECONDS,
        on_interrupted: Callable[[list[str]], Awaitable[None]] | None = None,
    ) -> None:
        self.pool = pool
        self.running = running  # the ids of this gateway's running turns
        self.lease_seconds = lease_seconds
        self.on_interrupted = on_interrupted  # told the turns it just marked interrupted
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        # A turn left running by a crash is closed before the first request is served, so its
        # replay is complete from the start instead of after the first maintenance period.
        await self.maintain_once()
        self._task = asyncio.create_task(self._maintain(), name="turn-leases")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(self.lease_seconds / 3)
            await self.maintain_once()

    async def maintain_once(self) -> None:
        """Renew the leases of our running turns; close turns whose owner died."""
        try:
            if ids := list(self.running()):
                await Q.renew_leases.execute(self.pool, ids=ids, lease_seconds=self.lease_seconds)
            interrupted = [row["id"] for row in await Q.interrupt_expired_turns.fetch(self.pool)]
            if interrupted:
                log.warning(
                    "marked %d turn(s) left running by a stopped gateway as interrupted",
                    len(interrupted),
                )
                if self.on_interrupted is not None:
                    await self.on_interrupted(interrupted)
        except Exception as error:  # the database may be away; try again next round
            log.warning("turn maintenance failed: %s", type(error).__name__)
