"""The live event bus across workers: each running turn's events, also in a Redis Stream.

PostgreSQL stays the record; Redis is a cache of live events, so that any gateway process can
serve any turn's stream, whichever process runs it:

* The **owner** (the process whose legs run the turn) appends every event it publishes to the
  turn's stream. What a turn publishes within ``PUBLISH_LINGER`` goes in ONE entry (its
  events' SSE bytes back to back), whose id is the SSE id of the last of them (``{id}-0``): so
  ``XREAD`` from a ``Last-Event-ID`` starts at the entry that holds the next event. All turns'
  entries of such a burst go to Redis in one call (a small Lua script of XADDs), never one per
  token: measured with redis-py 8 and hiredis, a round trip costs about 110 µs of the
  client's CPU and each command in it 16 µs more, which per token would be more than the whole
  rest of the relay. Local listeners are not delayed: they read memory. A finished turn's
  stream expires after ``REDIS_STREAM_RETENTION``.
* Any **other** process that gets a listener for the turn builds one ``Mirror`` of it: an
  ``EventLog`` filled from the stream (``XRANGE``), which its listeners read exactly like a
  local turn's, with the same no-gap, no-duplicate resume. One reader per process follows
  every mirror it has in one blocking ``XREAD`` over all their streams (and a wake-up stream
  of its own, so that a new mirror joins at once), so the cost of a read is shared by every
  turn with something new.
* While a mirror has listeners it keeps this process in the turn's *watchers* (a sorted set of
  expiry times), which the owner consults before cancelling a turn for want of listeners.
* ``cancel`` requests travel on one pub/sub channel; the process that owns the turn acts.

A gap (an id that does not follow, as after Redis lost data) breaks a mirror: its listeners'
streams end, and their reconnects fall back to PostgreSQL's replay. If Redis goes away, the
owner's own listeners go on from memory and nothing stored is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.turns.log import EventLog

log = logging.getLogger("multichat.bus")

CONTROL = b"multichat:control"
WATCH_SECONDS = 10.0  # a watcher entry lives this long unless refreshed (every third of it)
READ_BLOCK_MS = 5_000
READ_COUNT = 1_000
RERUN_REPLY_SECONDS = 5.0  # how long a retry waits for the process that runs its turn
MIRROR_KEEP = 60.0  # an ended mirror stays this long for reconnecting listeners
UNFINISHED_TTL = 24 * 3600  # a stream whose end never came (every gateway died) still expires
# How long the owner gathers events before it sends them: what a remote listener may wait at
# most, and what turns a token's own round trip into a share of one.
PUBLISH_LINGER = 0.005
# After a read that brought events, the reader waits this long (plus a little per mirror, as a
# read's cost grows with the streams it names) so that the next read brings more at once.
READ_PACE = 0.005
READ_PACE_PER_MIRROR = 10e-6

# One call appends every turn's burst and sets expiries: KEYS are the streams; ARGV holds, per
# stream, the entry id ('' for none), the entry, and the expiry in seconds ('0' for none).
# pcall: one refused entry (an id not above the last, after a restart) costs no other.
PUBLISH_SCRIPT = """
for i, key in ipairs(KEYS) do
  local at = 3 * i - 2
  if ARGV[at] ~= '' then redis.pcall('XADD', key, ARGV[at], 'e', ARGV[at + 1]) end
  if ARGV[at + 2] ~= '0' then redis.pcall('EXPIRE', key, ARGV[at + 2]) end
end
return #KEYS
"""


def stream_key(turn_id: str) -> str:
    return f"multichat:turn:{turn_id}:events"


def watchers_key(turn_id: str) -> str:
    return f"multichat:turn:{turn_id}:watchers"


def wake_key(worker: str) -> str:
    return f"multichat:worker:{worker}:wake"


class EventBus:
    def __init__(
        self,
        url: str,
        *,
        retention: float,
        listener_limit: int,
        grace: float,
        on_cancel: Callable[[str, list[str] | None], None],
        on_reveal: Callable[[str], None] | None = None,
        on_rerun: Callable[[dict], Awaitable[dict | None]] | None = None,
    ) -> None:
        self.redis = aioredis.from_url(url, socket_connect_timeout=5)
        self.retention = retention
        self.listener_limit = listener_limit
        self.grace = grace  # how long a listener that left still counts (DISCONNECT_GRACE)
        self.on_cancel = on_cancel
        self.on_reveal = on_reveal  # a blind turn of ours was voted on elsewhere
        self.on_rerun = on_rerun  # a retry or add of a turn that may be ours (registry.rerun)
        self._replies: set[asyncio.Task] = set()
        self.worker = secrets.token_hex(8)
        self.mirrors: dict[str, Mirror] = {}
        self._publish = self.redis.register_script(PUBLISH_SCRIPT)
        self._pending: list[tuple[str, int, bytes]] = []
        self._ended: list[str] = []
        self._reopened: list[str] = []  # a retry: the stream keeps its ids and takes more
        self._flushing: asyncio.Task | None = None
        self._control: asyncio.Task | None = None
        self._reader: asyncio.Task | None = None
        self._wake = wake_key(self.worker).encode()
        self._warned = 0.0

    async def start(self) -> None:
        await self.redis.ping()
        self._control = asyncio.create_task(self._listen_for_control(), name="bus-control")

    async def stop(self) -> None:
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        for task in (self._control, self._reader):
            if task is not None:
                task.cancel()
        for mirror in self.mirrors.values():
            mirror.close()
        await self.redis.aclose()

    # -- the owner's side -------------------------------------------------------------------------

    def sink(self, turn_id: str) -> Callable[[int, bytes], None]:
        """What a turn's EventLog calls for each event it publishes (synchronous, cheap)."""

        def publish(id: int, chunk: bytes) -> None:
            self._pending.append((turn_id, id, chunk))
            if self._flushing is None:
                self._flushing = asyncio.get_running_loop().create_task(self._flush())

        return publish

    def ended(self, turn_id: str) -> None:
        self._ended.append(turn_id)
        if self._flushing is None:
            self._flushing = asyncio.get_running_loop().create_task(self._flush())

    def reopened(self, turn_id: str) -> None:
        """A finished turn runs again (retry, add): its stream must outlive the retention."""
        self._reopened.append(turn_id)

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
                reopened, self._reopened = self._reopened, []
                keys, args = publish_arguments(events, ended, reopened, int(self.retention))
                try:
                    await self._publish(keys=keys, args=args)
                except (RedisError, OSError) as error:
                    self._warn(f"could not publish {len(events)} event(s) to Redis: {error}")
        finally:
            self._flushing = None

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._warned > 10:
            self._warned = now
            log.warning("%s (the owner's own listeners go on)", message)

    async def publish_late(self, turn_id: str, chunks: list[tuple[int, bytes]]) -> None:
        """For a turn whose owner died: append its stored dones and end, so remote listeners
        finish. Providers whose done is already in the stream are not sent twice."""
        key = stream_key(turn_id)
        existing = await self.redis.xrange(key)
        seen = {
            done_provider(chunk)
            for _, fields in existing
            for _, chunk in split_entry(fields.get(b"e", b""))
        }
        pipe = self.redis.pipeline(transaction=False)
        last = max((int(entry_id.split(b"-")[0]) for entry_id, _ in existing), default=0)
        for id, chunk in chunks:
            provider = done_provider(chunk)
            if id <= last or (provider is not None and provider in seen):
                continue
            pipe.xadd(key, {b"e": chunk}, id=f"{id}-0")
        pipe.expire(key, max(int(self.retention), 1))
        await pipe.execute(raise_on_error=False)

    # -- cancel, from any process -----------------------------------------------------------------

    async def request_cancel(self, turn_id: str, providers: list[str] | None) -> None:
        request = orjson.dumps({"cancel": turn_id, "providers": providers})
        try:
            await self.redis.publish(CONTROL, request)
        except (RedisError, OSError) as error:  # answered as 503, like a database away
            raise ConnectionError(f"the event bus is unavailable: {type(error).__name__}") from None

    async def request_reveal(self, turn_id: str) -> None:
        """A vote reached this process: the owner tells the turn's open stream who was who."""
        try:
            await self.redis.publish(CONTROL, orjson.dumps({"reveal": turn_id}))
        except (RedisError, OSError) as error:  # the vote is stored: only the event is lost
            self._warn(f"could not ask for the reveal of turn {turn_id}: {error}")

    async def _listen_for_control(self) -> None:
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CONTROL)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            request = orjson.loads(message["data"])
                            if "reveal" in request:
                                if self.on_reveal is not None:
                                    self.on_reveal(request["reveal"])
                            elif "rerun" in request:
                                self._answer_rerun(request)
                            else:
                                self.on_cancel(request["cancel"], request.get("providers"))
            except (RedisError, OSError, orjson.JSONDecodeError) as error:
                self._warn(f"the control channel failed: {error}")
                await asyncio.sleep(1.0)

    # -- retry and add, from any process ---------------------------------------------------------

    async def request_rerun(
        self, turn_id: str, providers: list[str], add: bool, owner: int
    ) -> dict | None:
        """Ask the process that runs a turn to retry or add providers; its reply (a Rerun's
        fields, or an error's), or None when no process answered in time."""
        reply_to = f"multichat:reply:{secrets.token_hex(8)}"
        request = {
            "rerun": turn_id,
            "providers": providers,
            "add": add,
            "owner": owner,
            "reply": reply_to,
        }
        try:
            async with self.redis.pubsub() as pubsub:
                await pubsub.subscribe(reply_to)
                await self.redis.publish(CONTROL, orjson.dumps(request))
                async with asyncio.timeout(RERUN_REPLY_SECONDS):
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            return orjson.loads(message["data"])
        except TimeoutError:
            return None
        except (RedisError, OSError) as error:  # answered as 503, like a database away
            raise ConnectionError(f"the event bus is unavailable: {type(error).__name__}") from None
        return None

    def _answer_rerun(self, request: dict) -> None:
        if self.on_rerun is None:
            return

        async def answer() -> None:
            reply = await self.on_rerun(request)  # type: ignore[misc]
            if reply is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self.redis.publish(request["reply"], orjson.dumps(reply))

        task = asyncio.get_running_loop().create_task(answer())
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)

    # -- listeners of other processes' turns ------------------------------------------------------

    async def watched(self, turn_id: str) -> bool:
        """Does a listener on another process still read this turn?"""
        try:
            return await self.redis.zcount(watchers_key(turn_id), time.time(), "+inf") > 0
        except (RedisError, OSError):
            return False

    async def mirror(
        self, turn_id: str, *, last_id: int = 0, running: bool = False
    ) -> Mirror | None:
        """This process's mirror of a turn run elsewhere, filled so far; None without one.

        ``running``: the database says the turn runs. Its stream may not have its first entry
        yet (a client can ask here before the owner's first round trip to Redis is done): the
        mirror then starts empty and waits for it, rather than sending the client a replay
        with nothing live in it. An ended mirror is read afresh when the turn runs again or
        its last id is beyond the mirror's (a retry reopened it since)."""
        mirror = self.mirrors.get(turn_id)
        if mirror is not None and mirror.log.ended and (running or mirror.log.last_id < last_id):
            self.forget(mirror)
            mirror = None
        if mirror is None or mirror.broken:
            mirror = Mirror(self, turn_id)
            if not await mirror.fill(running):
                return None
            if running and mirror.log.ended:
                # Reopened by a retry whose first events are not in the stream yet: follow on.
                mirror.log.ended = False
            self.mirrors[turn_id] = mirror
            if mirror.following:
                await self._follow()
        return mirror

    def forget(self, mirror: Mirror) -> None:
        if self.mirrors.get(mirror.turn_id) is mirror:
            del self.mirrors[mirror.turn_id]
        mirror.close()

    async def _follow(self) -> None:
        """Make sure the reader reads the mirror just added: start it, or wake its read."""
        if self._reader is None or self._reader.done():
            self._reader = asyncio.create_task(self._read(), name="bus-reader")
            return
        with contextlib.suppress(RedisError, OSError):  # the reader then sees it a read later
            pipe = self.redis.pipeline(transaction=False)
            pipe.xadd(self._wake, {b"w": b"1"}, maxlen=1, approximate=False)
            pipe.expire(self._wake, UNFINISHED_TTL)
            await pipe.execute()

    async def _read(self) -> None:
        """Every followed mirror's new entries, in one blocking read over all their streams."""
        wake_last = b"0-0"
        while self.mirrors:
            reading = {stream_key(t).encode(): m for t, m in self.mirrors.items() if m.following}
            streams = {self._wake: wake_last}
            streams.update((key, f"{m.log.last_id}-0") for key, m in reading.items())
            try:
                reply = await self.redis.xread(streams, count=READ_COUNT, block=READ_BLOCK_MS)
            except (RedisError, OSError) as error:
                self._warn(f"lost the streams of {len(reading)} mirrored turn(s): {error}")
                for mirror in reading.values():
                    mirror.break_off()
                await asyncio.sleep(1.0)
                continue
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


def publish_arguments(
    events: list[tuple[str, int, bytes]], ended: list[str], reopened: list[str], retention: int
) -> tuple[list[str], list[bytes | str | int]]:
    """The publishing script's KEYS and ARGV for these events, and for the turns that ended
    (their stream expires after the retention) or were reopened by a retry (it must not)."""
    expiries = dict.fromkeys(reopened, UNFINISHED_TTL) | dict.fromkeys(ended, max(retention, 1))
    keys: list[str] = []
    args: list[bytes | str | int] = []
    for turn_id, (first, last, chunks) in bursts(events).items():
        keys.append(stream_key(turn_id))
        expiry = expiries.pop(turn_id, UNFINISHED_TTL if first == 1 else 0)
        args += (f"{last}-0", b"".join(chunks), expiry)
    for turn_id, expiry in expiries.items():
        keys.append(stream_key(turn_id))
        args += ("", b"", expiry)
    return keys, args


class Mirror:
    """A turn of another process, as an EventLog fed from its Redis Stream."""

    def __init__(self, bus: EventBus, turn_id: str) -> None:
        self.bus = bus
        self.turn_id = turn_id
        self.log = EventLog(
            bus.listener_limit, on_listener=self._watching, on_abandoned=self._unwatched
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
            entries = await self.bus.redis.xrange(stream_key(self.turn_id))
        except (RedisError, OSError):
            return False
        if not entries:
            return running
        return self.append(entries) and self.log.last_id >= 1

    def append(self, entries) -> bool:
        log = self.log
        for _, fields in entries:
            for id, chunk in split_entry(fields[b"e"]):
                if id != log.last_id + 1 and not (id > log.last_id and is_late(id)):
                    self.break_off()
                    return False
                if log.ended:
                    log.ended = False  # a retry reopened the turn after that end
                log.append_encoded(id, chunk, delta=b"\nevent: delta\n" in chunk[:40])
                if b"\nevent: end\n" in chunk[:40]:
                    log.close_ended()
                    self.keep_for_reconnects()
        return True

    def keep_for_reconnects(self) -> None:
        asyncio.get_running_loop().call_later(MIRROR_KEEP, self._forget_if_ended)

    def _forget_if_ended(self) -> None:
        if self.log.ended:  # not when a retry reopened the turn since: it is read again
            self.bus.forget(self)

    def break_off(self) -> None:
        """A gap or a lost connection: the listeners' streams end; they reconnect elsewhere."""
        self.broken = True
        self.log.close_broken()
        self.bus.forget(self)

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
        while True:
            self._changed.clear()
            watched = bool(self.log.listeners)
            # Read here: counts while refreshed. Left: counts for the grace period, in which
            # the client may come back here or anywhere else.
            until = time.time() + (WATCH_SECONDS if watched else self.bus.grace)
            with contextlib.suppress(RedisError, OSError):
                pipe = self.bus.redis.pipeline(transaction=False)
                pipe.zadd(key, {self.bus.worker: until})
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


def bursts(events: list[tuple[str, int, bytes]]) -> dict[str, tuple[int, int, list[bytes]]]:
    """Events in publishing order, by turn: (first id, last id, their chunks in order)."""
    grouped: dict[str, tuple[int, int, list[bytes]]] = {}
    for turn_id, id, chunk in events:
        burst = grouped.get(turn_id)
        if burst is None:
            grouped[turn_id] = (id, id, [chunk])
        else:
            burst[2].append(chunk)
            grouped[turn_id] = (burst[0], id, burst[2])
    return grouped


def split_entry(packed: bytes) -> list[tuple[int, bytes]]:
    """An entry's events, each ``(id, its SSE bytes)``. Every event the log encodes starts
    with ``id: N`` and ends with the blank line; its data is one JSON line, which never holds
    a raw newline, so the first blank line after an event's start is its end."""
    events = []
    start, size = 0, len(packed)
    while start < size:
        stop = packed.index(b"\n\n", start) + 2
        events.append((int(packed[start + 4 : packed.index(b"\n", start)]), packed[start:stop]))
        start = stop
    return events


def is_late(id: int) -> bool:
    """The ids a replay gives the dones and end of a turn whose owner died (replay.py)."""
    return id > 10**9


def done_provider(chunk: bytes) -> str | None:
    if b"\nevent: done\n" not in chunk[:40]:
        return None
    data = chunk.split(b"\ndata: ", 1)[1]
    return orjson.loads(data)["provider"]
