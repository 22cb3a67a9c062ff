"""The live event bus across workers: each running turn's events, also in a Redis Stream.

PostgreSQL stays the record; Redis is a cache of live events, so that any gateway process can
serve any turn's stream, whichever process runs it:

* The **owner** (the process whose legs run the turn) appends every event it publishes to the
  turn's stream, entry id = SSE id (``{id}-0``), so ``Last-Event-ID`` maps straight onto
  ``XREAD``. Events ready in one loop iteration go in one pipelined round trip, never one per
  token; a finished turn's stream expires after ``REDIS_STREAM_RETENTION``.
* Any **other** process that gets a listener for the turn builds one ``Mirror`` of it: an
  ``EventLog`` filled from the stream (``XRANGE``, then a blocking ``XREAD``), which its
  listeners read exactly like a local turn's, with the same no-gap, no-duplicate resume. One
  Redis connection per mirrored turn and process, however many listeners.
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


def stream_key(turn_id: str) -> str:
    return f"multichat:turn:{turn_id}:events"


def watchers_key(turn_id: str) -> str:
    return f"multichat:turn:{turn_id}:watchers"


class EventBus:
    def __init__(
        self,
        url: str,
        *,
        retention: float,
        listener_limit: int,
        grace: float,
        on_cancel: Callable[[str, list[str] | None], None],
        on_rerun: Callable[[dict], Awaitable[dict | None]] | None = None,
    ) -> None:
        self.redis = aioredis.from_url(url, socket_connect_timeout=5)
        self.retention = retention
        self.listener_limit = listener_limit
        self.grace = grace  # how long a listener that left still counts (DISCONNECT_GRACE)
        self.on_cancel = on_cancel
        self.on_rerun = on_rerun  # a retry or add of a turn that may be ours (registry.rerun)
        self._replies: set[asyncio.Task] = set()
        self.worker = secrets.token_hex(8)
        self.mirrors: dict[str, Mirror] = {}
        self._pending: list[tuple[str, int, bytes]] = []
        self._ended: list[str] = []
        self._reopened: list[str] = []  # a retry: the stream keeps its ids and takes more
        self._flushing: asyncio.Task | None = None
        self._control: asyncio.Task | None = None
        self._warned = 0.0

    async def start(self) -> None:
        await self.redis.ping()
        self._control = asyncio.create_task(self._listen_for_control(), name="bus-control")

    async def stop(self) -> None:
        if self._flushing is not None:
            await asyncio.gather(self._flushing, return_exceptions=True)
        for task in [self._control, *(m.task for m in self.mirrors.values())]:
            if task is not None:
                task.cancel()
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
        """Everything published since the last round trip, in one pipeline; again while more
        arrived meanwhile."""
        try:
            while self._pending or self._ended:
                events, self._pending = self._pending, []
                ended, self._ended = self._ended, []
                pipe = self.redis.pipeline(transaction=False)
                first_of_turn = set()
                for turn_id, id, chunk in events:
                    pipe.xadd(stream_key(turn_id), {b"e": chunk}, id=f"{id}-0")
                    if id == 1:
                        first_of_turn.add(turn_id)
                first_of_turn.update(self._reopened)
                self._reopened.clear()
                for turn_id in first_of_turn:
                    pipe.expire(stream_key(turn_id), UNFINISHED_TTL)
                for turn_id in ended:
                    pipe.expire(stream_key(turn_id), max(int(self.retention), 1))
                try:
                    await pipe.execute(raise_on_error=False)
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
        seen = {done_provider(fields.get(b"e", b"")) for _, fields in existing}
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

    async def _listen_for_control(self) -> None:
        while True:
            try:
                async with self.redis.pubsub() as pubsub:
                    await pubsub.subscribe(CONTROL)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            request = orjson.loads(message["data"])
                            if "rerun" in request:
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
        An ended mirror is read afresh when the turn runs again or its last id is beyond the
        mirror's (a retry reopened it since)."""
        mirror = self.mirrors.get(turn_id)
        if mirror is not None and mirror.log.ended and (running or mirror.log.last_id < last_id):
            if mirror.task is not None:
                mirror.task.cancel()
            mirror = None
        if mirror is None or mirror.broken:
            mirror = Mirror(self, turn_id)
            if not await mirror.fill():
                return None
            if running and mirror.log.ended:
                # Reopened by a retry whose first events are not in the stream yet: follow on.
                mirror.log.ended = False
            self.mirrors[turn_id] = mirror
            mirror.task = asyncio.create_task(mirror.follow(), name=f"mirror-{turn_id}")
        return mirror


class Mirror:
    """A turn of another process, as an EventLog fed from its Redis Stream."""

    def __init__(self, bus: EventBus, turn_id: str) -> None:
        self.bus = bus
        self.turn_id = turn_id
        self.log = EventLog(
            bus.listener_limit, on_listener=self._watching, on_abandoned=self._unwatched
        )
        self.broken = False
        self.task: asyncio.Task | None = None
        self._refresh: asyncio.Task | None = None

    async def fill(self) -> bool:
        """Everything the stream has; False when it has nothing, or not from the start."""
        try:
            entries = await self.bus.redis.xrange(stream_key(self.turn_id))
        except (RedisError, OSError):
            return False
        return bool(entries) and self._append(entries) and self.log.last_id >= 1

    def _append(self, entries) -> bool:
        for entry_id, fields in entries:
            id = int(entry_id.split(b"-")[0])
            chunk = fields[b"e"]
            if id != self.log.last_id + 1 and not (id > self.log.last_id and is_late(id)):
                self._break()
                return False
            if self.log.ended:
                self.log.ended = False  # a retry reopened the turn after that end
            self.log.append_encoded(id, chunk, delta=b"\nevent: delta\n" in chunk[:40])
            if b"\nevent: end\n" in chunk[:40]:
                self.log.close_ended()
        return True

    async def follow(self) -> None:
        redis, key = self.bus.redis, stream_key(self.turn_id)
        try:
            while not self.log.ended:
                last = f"{self.log.last_id}-0"
                reply = await redis.xread({key: last}, count=READ_COUNT, block=READ_BLOCK_MS)
                for _, entries in reply or ():
                    if not self._append(entries):
                        return
            await asyncio.sleep(MIRROR_KEEP)  # for listeners reconnecting to the ended turn
        except (RedisError, OSError) as error:
            self.bus._warn(f"lost the stream of turn {self.turn_id}: {error}")
            self._break()
        finally:
            if self.bus.mirrors.get(self.turn_id) is self:
                del self.bus.mirrors[self.turn_id]

    def _break(self) -> None:
        """A gap or a lost connection: the listeners' streams end; they reconnect elsewhere."""
        self.broken = True
        self.log.close_broken()

    # presence: the owner must not cancel a turn that is read here
    def _watching(self, _log: EventLog) -> None:
        if self._refresh is None or self._refresh.done():
            self._refresh = asyncio.get_running_loop().create_task(self._keep_watching())

    def _unwatched(self, _log: EventLog) -> None:
        if self._refresh is not None:
            self._refresh.cancel()
        asyncio.get_running_loop().create_task(self._stop_watching())

    async def _keep_watching(self) -> None:
        key = watchers_key(self.turn_id)
        while True:
            with contextlib.suppress(RedisError, OSError):
                pipe = self.bus.redis.pipeline(transaction=False)
                pipe.zadd(key, {self.bus.worker: time.time() + WATCH_SECONDS})
                pipe.expire(key, int(WATCH_SECONDS * 3))
                await pipe.execute()
            await asyncio.sleep(WATCH_SECONDS / 3)

    async def _stop_watching(self) -> None:
        # Left, as a local listener leaves: it counts for the grace period, in which it may
        # come back here or anywhere else.
        with contextlib.suppress(RedisError, OSError):
            until = time.time() + self.bus.grace
            await self.bus.redis.zadd(watchers_key(self.turn_id), {self.bus.worker: until})


def is_late(id: int) -> bool:
    """The ids a replay gives the dones and end of a turn whose owner died (replay.py)."""
    return id > 10**9


def done_provider(chunk: bytes) -> str | None:
    if b"\nevent: done\n" not in chunk[:40]:
        return None
    data = chunk.split(b"\ndata: ", 1)[1]
    return orjson.loads(data)["provider"]
