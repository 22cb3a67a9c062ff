"""Who is alive: every process beats a heartbeat into Redis, and takes over from the dead.

Each process writes its heartbeat every ``ttl / 4`` seconds: its entry in one sorted set,
scored with the time (Redis's own clock) it runs out. The same call claims every entry that
ran out, atomically, so exactly one living process takes over from each dead one; it is told
the dead worker's running turns (the publisher keeps that list) and finishes them.

The beat runs on a thread of its own, not on the event loop: it says the *process* is alive,
so a loop busy for a second under load is never taken for dead. (A loop stuck for good is
still found out: its turns' leases run out in PostgreSQL.) With the default ``ttl`` of 2 s, a
killed process's turns are taken over 2 to 2.5 s after it died.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Coroutine
from typing import Any

import redis
from redis.exceptions import RedisError

from gateway.bus.wire import WORKERS, worker_turns_key

log = logging.getLogger("multichat.bus")

HEARTBEAT_TTL = 2.0  # seconds without a beat, and a process is taken for dead

# KEYS: the workers' set. ARGV: this worker, its ttl in seconds. Beats, then claims (removes)
# every worker whose heartbeat ran out, and returns them.
BEAT_SCRIPT = """
local now = redis.call('TIME')
local t = tonumber(now[1]) + tonumber(now[2]) / 1000000
redis.call('ZADD', KEYS[1], t + tonumber(ARGV[2]), ARGV[1])
local claimed = {}
for _, worker in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', t)) do
  if redis.call('ZREM', KEYS[1], worker) == 1 then claimed[#claimed + 1] = worker end
end
return claimed
"""

# KEYS: a dead worker's set of running turns. Returns them, and forgets the set.
CLAIM_TURNS_SCRIPT = """
local turns = redis.call('SMEMBERS', KEYS[1])
redis.call('DEL', KEYS[1])
return turns
"""


class Heartbeat:
    def __init__(
        self,
        url: str,
        worker: str,
        ttl: float,
        on_dead: Callable[[str, list[str]], Coroutine[Any, Any, None]],
        *,
        socket_timeout: float,
    ) -> None:
        self.worker = worker
        self.ttl = ttl
        self.on_dead = on_dead  # (dead worker, its running turns): runs on the event loop
        self.redis = redis.Redis.from_url(
            url, socket_timeout=min(socket_timeout, ttl), socket_connect_timeout=ttl
        )
        self._beat = self.redis.register_script(BEAT_SCRIPT)
        self._claim = self.redis.register_script(CLAIM_TURNS_SCRIPT)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._warned = False

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="bus-heartbeat", daemon=True)
        self._thread.start()

    async def stop(self) -> None:
        """Stop beating and leave the set: a process that stops cleanly is not taken over."""
        self._stopping.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, self.ttl * 2)
        with contextlib.suppress(RedisError, OSError):
            await asyncio.to_thread(self.redis.zrem, WORKERS, self.worker)
        self.redis.close()

    def _run(self) -> None:
        interval = self.ttl / 4
        while not self._stopping.is_set():
            self.beat_once()
            self._stopping.wait(interval)

    def beat_once(self) -> None:
        try:
            dead = self._beat(keys=[WORKERS], args=[self.worker, self.ttl])
            for worker in dead:
                name = worker.decode()
                turns = [t.decode() for t in self._claim(keys=[worker_turns_key(name)])]
                log.warning(
                    "gateway process %s stopped beating; taking over its %d running turn(s)",
                    name,
                    len(turns),
                )
                if turns and self._loop is not None:
                    asyncio.run_coroutine_threadsafe(self.on_dead(name, turns), self._loop)
            self._warned = False
        except (RedisError, OSError) as error:
            if not self._warned:
                self._warned = True
                log.warning("the heartbeat could not reach Redis: %s", error)
