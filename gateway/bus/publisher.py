"""The owner's side: every event a turn publishes also goes to the turn's Redis Stream.

What a turn publishes within ``PUBLISH_LINGER`` goes in ONE entry (wire.py), and all turns'
entries of such a burst go to Redis in one call (a small Lua script), never one per token:
measured with redis-py 8 and hiredis, a round trip costs about 110 µs of the client's CPU and
each command in it 16 µs more, which per token would be more than the whole rest of the relay.
Local listeners are not delayed: they read memory. A finished turn's stream expires after the
retention.

The same call keeps the worker's list of running turns (for whoever takes over should this
process die) and refuses to write to a turn that was taken over: a process declared dead that
comes back publishes nothing more there, and is told which turns it lost.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.bus.wire import (
    bursts,
    done_provider,
    entry_events,
    stream_key,
    taken_key,
    worker_turns_key,
)

log = logging.getLogger("multichat.bus")

UNFINISHED_TTL = 24 * 3600  # a stream whose end never came (every gateway died) still expires
# How long the owner gathers events before it sends them: what a remote listener may wait at
# most, and what turns a token's own round trip into a share of one.
PUBLISH_LINGER = 0.005

# KEYS: the worker's set of running turns, then per turn its stream and its "taken" marker.
# ARGV per turn: the entry id ('' for none), the entry, the expiry in seconds ('0' for none),
# the turn id, '+' (running: in the worker's set) or '-' (ended: out of it), and for a turn
# just reopened its history's id ('' for none) and its history (the events before the reopen).
# The history is written only where the stream is gone (it expired before the retry): a mirror
# needs the stream from the turn's first event, and checked here, in the one call that writes
# the reopened run's first events, no mirror can find those without it.
# pcall: one refused entry (an id not above the last, after a restart) costs no other.
# Returns the turns that were taken over (nothing was written to them).
PUBLISH_SCRIPT = """
local fenced = {}
local running = KEYS[1]
for i = 1, (#KEYS - 1) / 2 do
  local stream, taken, at = KEYS[2 * i], KEYS[2 * i + 1], 7 * i - 6
  if redis.call('EXISTS', taken) == 1 then
    fenced[#fenced + 1] = ARGV[at + 3]
  else
    if ARGV[at + 5] ~= '' and redis.call('EXISTS', stream) == 0 then
      redis.pcall('XADD', stream, ARGV[at + 5], 'e', ARGV[at + 6])
    end
    if ARGV[at] ~= '' then redis.pcall('XADD', stream, ARGV[at], 'e', ARGV[at + 1]) end
    if ARGV[at + 2] ~= '0' then redis.pcall('EXPIRE', stream, ARGV[at + 2]) end
    if ARGV[at + 4] == '+' then redis.call('SADD', running, ARGV[at + 3])
    else redis.call('SREM', running, ARGV[at + 3]) end
  end
end
redis.call('EXPIRE', running, UNFINISHED_TTL)
return fenced
""".replace("UNFINISHED_TTL", str(UNFINISHED_TTL))


def publish_arguments(
    worker: str,
    events: list[tuple[str, int, bytes]],
    ended: list[str],
    reopened: dict[str, tuple[int, bytes]],
    retention: int,
) -> tuple[list[str], list[bytes | str | int]]:
    """The publishing script's KEYS and ARGV for these events, and for the turns that ended
    (their stream expires after the retention) or were reopened by a retry (it must not; and
    if it is gone, it starts again with the history ``reopened`` holds: (last id, events))."""
    expiries = dict.fromkeys(reopened, UNFINISHED_TTL) | dict.fromkeys(ended, max(retention, 1))
    finished = set(ended)
    keys: list[str] = [worker_turns_key(worker)]
    args: list[bytes | str | int] = []

    def history(turn_id: str) -> tuple[str, bytes]:
        last, chunks = reopened.get(turn_id, (0, b""))
        return (f"{last}-0", chunks) if last else ("", b"")

    for turn_id, (first, last, chunks) in bursts(events).items():
        keys += (stream_key(turn_id), taken_key(turn_id))
        expiry = expiries.pop(turn_id, UNFINISHED_TTL if first == 1 else 0)
        state = "-" if turn_id in finished else "+"
        args += (f"{last}-0", b"".join(chunks), expiry, turn_id, state, *history(turn_id))
    for turn_id, expiry in expiries.items():
        keys += (stream_key(turn_id), taken_key(turn_id))
        state = "-" if turn_id in finished else "+"
        args += ("", b"", expiry, turn_id, state, *history(turn_id))
    return keys, args


class Publisher:
    def __init__(
        self,
        redis: aioredis.Redis,
        worker: str,
        retention: float,
        on_fenced: Callable[[list[str]], None] | None = None,
    ) -> None:
        self.redis = redis
        self.worker = worker
        self.retention = retention
        self.on_fenced = on_fenced  # turns another process took over from us (declared dead)
        self._script = redis.register_script(PUBLISH_SCRIPT)
        self._pending: list[tuple[str, int, bytes]] = []
        self._ended: list[str] = []
        # A retry: the stream keeps its ids and takes more (by turn: its history, in case the
        # stream expired meanwhile).
        self._reopened: dict[str, tuple[int, bytes]] = {}
        self.flushing: asyncio.Task | None = None
        self._warned = 0.0

    def sink(self, turn_id: str) -> Callable[[int, bytes], None]:
        """What a turn's EventLog calls for each event it publishes (synchronous, cheap)."""

        def publish(id: int, chunk: bytes) -> None:
            self._pending.append((turn_id, id, chunk))
            if self.flushing is None:
                self.flushing = asyncio.get_running_loop().create_task(self._flush())

        return publish

    def ended(self, turn_id: str) -> None:
        self._ended.append(turn_id)
        if self.flushing is None:
            self.flushing = asyncio.get_running_loop().create_task(self._flush())

    def reopened(self, turn_id: str, history: tuple[int, bytes] = (0, b"")) -> None:
        """A finished turn runs again (retry, add, fuse): its stream must outlive the
        retention. ``history``: its events so far (the last one's id, and their bytes back to
        back, as an entry holds them), which start the stream again if it expired: a mirror
        elsewhere follows a stream only from the turn's first event."""
        self._reopened[turn_id] = history

    async def stop(self) -> None:
        if self.flushing is not None:
            await asyncio.gather(self.flushing, return_exceptions=True)

    async def _flush(self) -> None:
        """What was published in the last ``PUBLISH_LINGER``, in one call; again while more
        comes."""
        try:
            while True:
                await asyncio.sleep(PUBLISH_LINGER)
                if not (self._pending or self._ended):
                    return
                events, self._pending = self._pending, []
                ended, self._ended = self._ended, []
                reopened, self._reopened = self._reopened, {}
                keys, args = publish_arguments(
                    self.worker, events, ended, reopened, int(self.retention)
                )
                try:
                    fenced = await self._script(keys=keys, args=args)
                except (RedisError, OSError) as error:
                    self.warn(f"could not publish {len(events)} event(s) to Redis: {error}")
                    continue
                if fenced and self.on_fenced is not None:
                    self.on_fenced([turn_id.decode() for turn_id in fenced])
        finally:
            self.flushing = None

    def warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._warned > 10:
            self._warned = now
            log.warning("%s (the owner's own listeners go on)", message)

    async def publish_late(self, turn_id: str, chunks: list[tuple[int, bytes]]) -> None:
        """For a turn whose owner died: append its stored dones and end, so remote listeners
        finish. Events at or below the stream's last id, and dones of providers whose done is
        already in the stream, are not sent twice."""
        key = stream_key(turn_id)
        existing = entry_events(await self.redis.xrange(key))
        seen = {done_provider(chunk) for _, chunk in existing} - {None}
        last = existing[-1][0] if existing else 0
        pipe = self.redis.pipeline(transaction=False)
        for id, chunk in chunks:
            provider = done_provider(chunk)
            if id <= last or (provider is not None and provider in seen):
                continue
            pipe.xadd(key, {b"e": chunk}, id=f"{id}-0")
        pipe.expire(key, max(int(self.retention), 1))
        await pipe.execute(raise_on_error=False)
