"""The bus as the rest of the gateway sees it: one object per process, made of the publisher
(the owner's side), the control channel, the mirrors (everyone else's side) and the
heartbeat (who is alive, and taking over from who is not)."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

import asyncpg

from gateway.bus.connection import SOCKET_TIMEOUT, block_seconds, connect
from gateway.bus.control import Control
from gateway.bus.heartbeat import HEARTBEAT_TTL, Heartbeat
from gateway.bus.mirror import Mirror, Mirrors
from gateway.bus.publisher import Publisher
from gateway.bus.takeover import take_over
from gateway.turns.log import UNBOUNDED, BufferBudget

log = logging.getLogger("multichat.bus")

TAKEOVERS_AT_ONCE = 8  # a dead owner's turns are finished this many at a time


class EventBus:
    def __init__(
        self,
        url: str,
        *,
        retention: float,
        listener_limit: int,
        grace: float,
        listener_budget: BufferBudget = UNBOUNDED,
        on_cancel: Callable[[str, list[str] | None], None],
        on_reveal: Callable[[str], None] | None = None,
        on_rerun: Callable[[dict], Awaitable[dict | None]] | None = None,
        on_fenced: Callable[[list[str]], None] | None = None,
        pool: asyncpg.Pool | None = None,
        heartbeat: float = HEARTBEAT_TTL,
        socket_timeout: float = SOCKET_TIMEOUT,
    ) -> None:
        self.redis = connect(url, socket_timeout)
        self.worker = secrets.token_hex(8)
        self.pool = pool  # where a dead owner's turns are finished; None: not by this process
        self.retention = retention
        self.heartbeat = Heartbeat(
            url, self.worker, heartbeat, self._owner_died, socket_timeout=socket_timeout
        )
        wait = block_seconds(socket_timeout)
        self.publisher = Publisher(self.redis, self.worker, retention, on_fenced)
        self.control = Control(
            self.redis,
            wait_seconds=wait,
            on_cancel=on_cancel,
            on_reveal=on_reveal,
            on_rerun=on_rerun,
            warn=self._warn,
        )
        self.mirrors = Mirrors(
            self.redis,
            self.worker,
            listener_limit=listener_limit,
            listener_budget=listener_budget,
            grace=grace,
            block_ms=int(wait * 1000),
            warn=self._warn,
        )
        self._warned = 0.0
        # The owner's side, as the registry calls it.
        self.sink = self.publisher.sink
        self.ended = self.publisher.ended
        self.reopened = self.publisher.reopened
        self.publish_late = self.publisher.publish_late
        # Asking the owner, from any process.
        self.request_cancel = self.control.request_cancel
        self.request_reveal = self.control.request_reveal
        self.request_rerun = self.control.request_rerun
        # Everyone else's side.
        self.watched = self.mirrors.watched
        self.forget = self.mirrors.forget

    async def start(self) -> None:
        await self.redis.ping()
        self.control.start()
        self.heartbeat.start()

    async def stop(self) -> None:
        await self.heartbeat.stop()
        await self.publisher.stop()
        self.control.stop()
        self.mirrors.stop()
        await self.redis.aclose()

    async def _owner_died(self, worker: str, turn_ids: list[str]) -> None:
        """Another process stopped beating: finish its running turns (heartbeat.py)."""
        if self.pool is None:
            return
        pool = self.pool
        started = time.monotonic()
        at_once = asyncio.Semaphore(TAKEOVERS_AT_ONCE)

        async def one(turn_id: str) -> bool:
            async with at_once:
                try:
                    return await take_over(
                        self.redis, pool, turn_id, by=self.worker, retention=self.retention
                    )
                except Exception:  # one turn's trouble costs no other
                    log.exception("could not take over turn %s", turn_id)
                    return False

        done = await asyncio.gather(*(one(turn_id) for turn_id in turn_ids))
        log.warning(
            "took over %d turn(s) of gateway process %s in %.0f ms",
            sum(done),
            worker,
            (time.monotonic() - started) * 1000,
        )

    async def mirror(
        self,
        turn_id: str,
        *,
        last_id: int = 0,
        running: bool = False,
        goes_on: Callable[[int], Awaitable[bool]] | None = None,
    ) -> Mirror | None:
        return await self.mirrors.mirror(turn_id, last_id=last_id, running=running, goes_on=goes_on)

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._warned > 10:
            self._warned = now
            log.warning("%s", message)
