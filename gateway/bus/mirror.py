"""Listeners of other processes' turns: mirrors, the one reader that feeds them, presence.

Any process that gets a listener for a turn run elsewhere builds one ``Mirror`` of it: an
``EventLog`` filled from the turn's stream (``XRANGE``), which its listeners read exactly like
a local turn's, with the same no-gap, no-duplicate resume. One reader per process follows
every mirror it has in one blocking ``XREAD`` over all their streams (and a wake-up stream of
its own, so that a new mirror joins at once), so the cost of a read is shared by every turn
with something new.

The reader's connection may break (Redis restarted, a network blip): it reconnects and reads
on from the last event each mirror has, and the listeners notice nothing. Only a gap (an id
that does not follow, as after Redis lost data), or Redis away for ``PATIENCE`` seconds,
breaks a mirror: its listeners' streams end, and their reconnects fall back to PostgreSQL.

While a mirror has listeners it keeps this process in the turn's *watchers* (a sorted set of
expiry times), which the owner consults before cancelling a turn for want of listeners.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.bus.wire import (
    is_delta,
    is_end,
    is_late,
    split_entry,
    stream_key,
    wake_key,
    watchers_key,
)
from gateway.turns.log import BufferBudget, EventLog

log = logging.getLogger("multichat.bus")

WATCH_SECONDS = 10.0  # a watcher entry lives this long unless refreshed (every third of it)
READ_COUNT = 1_000
MIRROR_KEEP = 60.0  # an ended mirror stays this long for reconnecting listeners
WAKE_TTL = 24 * 3600
PATIENCE = 30.0  # Redis away this long: mirrors give up, their listeners reconnect elsewhere
RETRY_SECONDS = (0.1, 0.2, 0.5, 1.0)  # between attempts to read again after a failure
# After a read that brought events, the reader waits this long (plus a little per mirror, as a
# read's cost grows with the streams it names) so that the next read brings more at once.
READ_PACE = 0.005
READ_PACE_PER_MIRROR = 10e-6


class Mirrors:
    """This process's mirrors, and the one reader that follows them all."""

    def __init__(
        self,
        redis: aioredis.Redis,
        worker: str,
        *,
        listener_limit: int,
        listener_budget: BufferBudget,
        grace: float,
        block_ms: int,
        warn: Callable[[str], None],
    ) -> None:
        self.redis = redis
        self.worker = worker
        self.listener_limit = listener_limit
        self.listener_budget = listener_budget
        self.grace = grace  # how long a listener that left still counts (DISCONNECT_GRACE)
        self.block_ms = block_ms
        self.warn = warn
        self.by_turn: dict[str, Mirror] = {}
        self._reader: asyncio.Task | None = None
        self._wake = wake_key(worker).encode()

    def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        for mirror in self.by_turn.values():
            mirror.close()

    async def watched(self, turn_id: str) -> bool:
        """Does a listener on another process still read this turn?"""
        try:
            return await self.redis.zcount(watchers_key(turn_id), time.time(), "+inf") > 0
        except (RedisError, OSError):
            return False

    async def mirror(
        self,
        turn_id: str,
        *,
        last_id: int = 0,
        running: bool = False,
        goes_on: Callable[[int], Awaitable[bool]] | None = None,
    ) -> Mirror | None:
        """This process's mirror of a turn run elsewhere, filled so far; None without one.

        ``running``: the database said the turn runs. Its stream may not have its first entry
        yet (a client can ask here before the owner's first round trip to Redis is done): the
        mirror then starts empty and waits for it, rather than sending the client a replay
        with nothing live in it. An ended mirror is read afresh when the turn runs again or
        its last id is beyond the mirror's (a retry reopened it since).

        ``goes_on(last)``: the record read again now — does the turn go on past event
        ``last``? It is asked only when the stream holds an end although ``running`` said the
        turn runs, which is either of two things: a retry reopened the turn and its first
        events are not in the stream yet (follow on), or the turn ended between the read of
        the record and the read of the stream (the mirror has ended: following it would hold
        its listeners forever, since nothing more will come). An end is stored before it is
        sent, so the record read after the stream tells them apart. Without ``goes_on`` the
        end is taken as the end: a listener that was wrong to stop reconnects, one wrongly
        kept would wait for good."""
        mirror = self.by_turn.get(turn_id)
        if mirror is not None and mirror.log.ended and (running or mirror.log.last_id < last_id):
            self.forget(mirror)
            mirror = None
        if mirror is None or mirror.broken:
            mirror = Mirror(self, turn_id)
            if not await mirror.fill(running):
                return None
            if running and mirror.log.ended and goes_on is not None:
                # Reopened: its next events are on their way, follow on. Ended: stay ended.
                mirror.log.ended = not await goes_on(mirror.log.last_id)
            current = self.by_turn.get(turn_id)
            if current is not None and not current.broken:
                # Another request built one while this one waited for Redis. One mirror per
                # turn: the reader follows only those in ``by_turn``, so one replaced there
                # would hold its listeners for good.
                if current.following or not mirror.following:
                    mirror.close()
                    return current
                self.forget(current)  # ended, and this one follows the run that reopened it
            self.by_turn[turn_id] = mirror
            if mirror.following:
                await self._follow()
        return mirror

    def forget(self, mirror: Mirror) -> None:
        if self.by_turn.get(mirror.turn_id) is mirror:
            del self.by_turn[mirror.turn_id]
        mirror.close()

    async def _follow(self) -> None:
        """Make sure the reader reads the mirror just added: start it, or wake its read."""
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="bus-reader")
            return
        with contextlib.suppress(RedisError, OSError):  # the reader then sees it a read later
            pipe = self.redis.pipeline(transaction=False)
            pipe.xadd(self._wake, {b"w": b"1"}, maxlen=1, approximate=False)
            pipe.expire(self._wake, WAKE_TTL)
            await pipe.execute()

    async def _read(self) -> None:
        """Every followed mirror's new entries, in one blocking read over all their streams."""
        wake_last = b"0-0"
        failing_since: float | None = None
        failures = 0
        while self.by_turn:
            reading = {stream_key(t).encode(): m for t, m in self.by_turn.items() if m.following}
            streams: dict[Any, Any] = {self._wake: wake_last}  # redis-py's key and id types
            streams.update((key, f"{m.log.last_id}-0") for key, m in reading.items())
            try:
                reply: Any = await self.redis.xread(streams, count=READ_COUNT, block=self.block_ms)
            except (RedisError, OSError) as error:
                # Read again from where each mirror is, on a new connection; the listeners
                # wait (their pings go on) unless Redis stays away.
                now = time.monotonic()
                failing_since = failing_since or now
                if now - failing_since >= PATIENCE:
                    self.warn(f"lost the streams of {len(reading)} mirrored turn(s): {error}")
                    for lost in reading.values():
                        lost.break_off()
                    failing_since, failures = None, 0
                    continue
                self.warn(f"reading the mirrored turns failed, reading again: {error}")
                await asyncio.sleep(RETRY_SECONDS[min(failures, len(RETRY_SECONDS) - 1)])
                failures += 1
                continue
            failing_since, failures = None, 0
            brought = False
            for key, entries in reply or ():
                if key == self._wake:
                    wake_last = entries[-1][0]
                    continue
                mirror = reading.get(key)
                if mirror is not None and mirror.following:
                    mirror.append(entries)
                    brought = True
            if brought:
                await asyncio.sleep(READ_PACE + READ_PACE_PER_MIRROR * len(reading))


class Mirror:
    """A turn of another process, as an EventLog fed from its Redis Stream."""

    def __init__(self, mirrors: Mirrors, turn_id: str) -> None:
        self.mirrors = mirrors
        self.turn_id = turn_id
        self.log = EventLog(
            mirrors.listener_limit,
            budget=mirrors.listener_budget,
            on_listener=self._watching,
            on_abandoned=self._unwatched,
        )
        self.broken = False
        self._presence: asyncio.Task | None = None
        self._changed = asyncio.Event()

    @property
    def following(self) -> bool:
        """Still read from its stream: neither ended nor broken."""
        return not (self.log.ended or self.broken)

    async def fill(self, running: bool = False) -> bool:
        """Everything the stream has; False when it has nothing (unless ``running``), or not
        from the start."""
        try:
            entries = await self.mirrors.redis.xrange(stream_key(self.turn_id))
        except (RedisError, OSError):
            return False
        if not entries:
            return running
        return self.append(entries) and self.log.last_id >= 1

    def append(self, entries) -> bool:
        log = self.log
        for _, fields in entries:
            events = split_entry(fields[b"e"])
            # An entry that starts with the turn's first event may be a reopened turn's history,
            # written by its owner in one entry when the stream had expired (publisher.py): a
            # finished turn's log keeps only its turn, dones and end, so ids skip there. Redis
            # loses whole entries, never part of one: gaps between entries still break.
            history = bool(events) and events[0][0] == 1
            for id, chunk in events:
                if id <= log.last_id:
                    continue  # read again after a reconnect: already here
                if id != log.last_id + 1 and not is_late(id) and not history:
                    self.break_off()
                    return False
                if log.ended:
                    log.ended = False  # a retry reopened the turn after that end
                log.append_encoded(id, chunk, delta=is_delta(chunk))
                if is_end(chunk):
                    log.close_ended()
                    self.keep_for_reconnects()
        return True

    def keep_for_reconnects(self) -> None:
        asyncio.get_running_loop().call_later(MIRROR_KEEP, self._forget_if_ended)

    def _forget_if_ended(self) -> None:
        if self.log.ended:  # not when a retry reopened the turn since: it is read again
            self.mirrors.forget(self)

    def break_off(self) -> None:
        """A gap or Redis gone for good: the listeners' streams end; they reconnect."""
        self.broken = True
        self.log.close_broken()
        self.mirrors.forget(self)

    # presence: the owner must not cancel a turn that is read here. One task per mirror writes
    # it, so that the writes keep the order of what happened: with a task per change, a "left"
    # (until now + the grace) could land after the "came back" that followed it and stand for
    # ten seconds, while the next refresh was still seconds away.
    def _watching(self, _log: EventLog) -> None:
        self._presence_changed()

    def _unwatched(self, _log: EventLog) -> None:
        self._presence_changed()

    def _presence_changed(self) -> None:
        self._changed.set()
        if self._presence is None or self._presence.done():
            self._presence = asyncio.get_running_loop().create_task(self._keep_presence())

    async def _keep_presence(self) -> None:
        key = watchers_key(self.turn_id)
        redis = self.mirrors.redis
        while True:
            self._changed.clear()
            watched = bool(self.log.listeners)
            # Read here: counts while refreshed. Left: counts for the grace period, in which
            # the client may come back here or anywhere else.
            until = time.time() + (WATCH_SECONDS if watched else self.mirrors.grace)
            with contextlib.suppress(RedisError, OSError):
                pipe = redis.pipeline(transaction=False)
                pipe.zadd(key, {self.mirrors.worker: until})
                pipe.expire(key, int(WATCH_SECONDS * 3))
                await pipe.execute()
            if not watched:
                await self._changed.wait()  # nothing to refresh until a listener comes
                continue
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(WATCH_SECONDS / 3):
                    await self._changed.wait()

    def close(self) -> None:
        if self._presence is not None:
            self._presence.cancel()
