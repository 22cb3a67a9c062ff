"""The Redis event bus between two "workers" (two EventBus objects), on a real Redis server.

The cluster tests (test_scale_out.py) show the whole behaviour through nginx; these pin down
two details that timing alone would rarely show: a burst of events is one stream entry that a
mirror splits back exactly, and a mirror of a running turn whose stream has no entry yet waits
for it instead of giving up.
"""

from __future__ import annotations

import asyncio
import os

import pytest

from gateway.bus import EventBus, stream_key
from gateway.bus.control import CONTROL
from gateway.turns.events import event_bytes
from gateway.turns.log import EventLog
from tests.support.cluster import RedisServer
from tests.support.turn_helpers import eventually

pytestmark = pytest.mark.cluster


@pytest.fixture
def redis_url(tmp_path):
    server = RedisServer(tmp_path).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def two_buses(redis_url):
    buses = [
        EventBus(redis_url, retention=60, listener_limit=1_000_000, grace=1, on_cancel=noop)
        for _ in range(2)
    ]
    for bus in buses:
        await bus.start()
    try:
        yield buses
    finally:
        for bus in buses:
            await bus.stop()


def noop(*_args) -> None:
    pass


def owner_log(bus: EventBus, turn_id: str) -> EventLog:
    log = EventLog()
    log.sink = bus.sink(turn_id)
    return log


async def flushed(bus: EventBus) -> None:
    if bus.publisher.flushing is not None:
        await bus.publisher.flushing


async def read_all(log: EventLog) -> list[bytes]:
    chunks = []
    async with asyncio.timeout(10):
        async for chunk in log.stream(0):
            chunks.append(chunk)
    return chunks


async def test_a_burst_is_one_entry_that_a_mirror_splits_back_exactly(two_buses):
    owner, other = two_buses
    log = owner_log(owner, "burst")
    log.publish("turn", {"turn_id": "burst", "providers": []})
    for n in range(30):
        log.publish("delta", {"provider": "claude", "text": f"word {n}\n\n"})  # JSON-escaped
    await flushed(owner)
    assert await owner.redis.xlen(stream_key("burst")) == 1  # not one entry per event

    log.publish("delta", {"provider": "claude", "text": "later"})
    log.end("burst", {"claude": "complete"})
    await flushed(owner)
    assert await owner.redis.xlen(stream_key("burst")) == 2

    mirror = await other.mirror("burst")
    assert mirror is not None
    assert mirror.log.ids == list(range(1, 34))
    assert mirror.log.events == log.events
    assert b"".join(await read_all(mirror.log)) == b"".join(log.events)


async def test_a_mirror_of_a_running_turn_waits_for_its_first_entry(two_buses):
    owner, other = two_buses
    assert await other.mirror("early") is None  # not running, nothing stored: no mirror

    mirror = await other.mirror("early", running=True)
    assert mirror is not None
    reading = asyncio.create_task(read_all(mirror.log))
    await eventually(lambda: mirror.log.listeners)  # the listener now waits on an empty mirror
    assert not reading.done()

    log = owner_log(owner, "early")
    log.publish("turn", {"turn_id": "early", "providers": []})
    log.publish("delta", {"provider": "claude", "text": "hello"})
    log.end("early", {"claude": "complete"})
    assert b"".join(await reading) == b"".join(log.events)


async def test_a_gap_breaks_the_mirror_rather_than_skipping_events(two_buses):
    owner, other = two_buses
    chunk = event_bytes(5, "delta", {"provider": "claude", "text": "after a loss"})
    await owner.redis.xadd(stream_key("gap"), {b"e": chunk}, id="5-0")
    assert await other.mirror("gap", running=True) is None  # not from the start


# -- the record and the stream are read one after the other: the turn may change in between --


async def test_a_mirror_of_a_turn_that_ended_since_the_record_said_running_ends(two_buses):
    # The listener's process read the record while the turn ran; the turn ended (its end stored,
    # then sent) before the stream was read. The mirror must end with it: following it would
    # keep the client's stream open for good, every event sent but never closed (the timeouts
    # of `multichat bench --scenario scale` through two gateways).
    owner, other = two_buses
    log = owner_log(owner, "ended")
    log.publish("turn", {"turn_id": "ended", "providers": []})
    log.publish("delta", {"provider": "claude", "text": "all of it"})
    log.end("ended", {"claude": "complete"})
    await flushed(owner)

    mirror = await other.mirror("ended", running=True)
    assert mirror is not None and mirror.log.ended
    assert b"".join(await read_all(mirror.log)) == b"".join(log.events)

    other.forget(mirror)
    asked: list[int] = []

    async def record_says_ended(last: int) -> bool:  # read again: finished, at this end
        asked.append(last)
        return False

    mirror = await other.mirror("ended", running=True, goes_on=record_says_ended)
    assert mirror is not None and mirror.log.ended
    assert asked == [3]
    assert b"".join(await read_all(mirror.log)) == b"".join(log.events)


async def test_a_mirror_of_a_turn_reopened_before_its_retry_is_in_the_stream_follows_on(
    two_buses,
):
    owner, other = two_buses
    log = owner_log(owner, "again")
    log.publish("turn", {"turn_id": "again", "providers": []})
    first_end = log.end("again", {"claude": "failed"})
    await flushed(owner)
    log.reopen()  # a retry: the record says running, the stream still ends at the first end

    async def record_says_running(_last: int) -> bool:
        return True

    mirror = await other.mirror("again", running=True, goes_on=record_says_running)
    assert mirror is not None and not mirror.log.ended
    reading = asyncio.create_task(read_all(mirror.log))
    await eventually(lambda: mirror.log.listeners)
    owner.reopened("again")
    log.publish("delta", {"provider": "claude", "text": "the retry"})
    log.end("again", {"claude": "complete"})
    assert b"".join(await reading) == b"".join(log.events)
    assert mirror.log.last_id > first_end


async def test_requests_that_build_a_turns_mirror_at_once_share_one(two_buses):
    # Two clients of one turn reach this process together: both find no mirror and read the
    # stream. The reader follows the mirrors it holds, so a second mirror put in the first's
    # place would leave the first one's listeners waiting for good.
    owner, other = two_buses
    log = owner_log(owner, "twice")
    log.publish("turn", {"turn_id": "twice", "providers": []})
    await flushed(owner)
    first, second = await asyncio.gather(
        other.mirror("twice", running=True), other.mirror("twice", running=True)
    )
    assert first is not None and first is second
    readings = [asyncio.create_task(read_all(m.log)) for m in (first, second)]
    await eventually(lambda: len(first.log.listeners) == 2)
    log.publish("delta", {"provider": "claude", "text": "for both"})
    log.end("twice", {"claude": "complete"})
    for reading in readings:
        assert b"".join(await reading) == b"".join(log.events)


async def test_a_listener_that_leaves_and_comes_back_at_once_still_counts(redis_url):
    # The owner cancels a turn whose listeners all left, unless another process still counts
    # as watching it. A client that drops and comes back to the same process at once must be
    # counted when the grace is over; when it finally leaves, it counts for the grace only.
    owner, other = (
        EventBus(redis_url, retention=60, listener_limit=1_000_000, grace=0.3, on_cancel=noop)
        for _ in range(2)
    )
    for bus in (owner, other):
        await bus.start()
    try:
        log = owner_log(owner, "back")
        log.publish("turn", {"turn_id": "back", "providers": []})
        await flushed(owner)
        mirror = await other.mirror("back", running=True)
        assert mirror is not None
        first = mirror.log.subscribe()
        await eventually(lambda: owner.watched("back"))
        mirror.log.unsubscribe(first)
        again = mirror.log.subscribe()  # back in the same loop iteration
        # Not a wait for something to happen: the claim is that nothing does, for longer
        # than the grace.
        await asyncio.sleep(0.8)  # past the grace
        assert await owner.watched("back")
        mirror.log.unsubscribe(again)

        async def unwatched() -> bool:
            return not await owner.watched("back")

        await eventually(unwatched)  # for the grace only
    finally:
        for bus in (owner, other):
            await bus.stop()


# -- the bus is input too: a bad control message is skipped, the listener lives on (#20) ----------

TURN = "T" * 22  # the shape of a turn id (secrets.token_urlsafe(16))


async def test_bad_control_messages_are_skipped_and_a_valid_cancel_still_works(redis_url, caplog):
    cancelled: asyncio.Queue = asyncio.Queue()
    bus = EventBus(
        redis_url,
        retention=60,
        listener_limit=1_000_000,
        grace=1,
        on_cancel=lambda turn_id, providers: cancelled.put_nowait((turn_id, providers)),
    )
    await bus.start()
    try:
        await asyncio.wait_for(bus.control.subscribed.wait(), 10)
        garbage = [
            b'{"x":1}',
            b"not json at all",
            b"\xff\xfe",
            b"[1, 2]",
            b'{"cancel": "short"}',
            b'{"cancel": 42}',
            b'{"cancel": "%s", "reveal": "%s"}' % (TURN.encode(), TURN.encode()),
            b'{"rerun": "%s", "providers": ["claude"], "add": false, "owner": 0,'
            b' "reply": "multichat:control"}' % TURN.encode(),
        ]
        for message in garbage:
            await bus.redis.publish(CONTROL, message)
        await bus.redis.publish(
            CONTROL, b'{"cancel": "%s", "providers": ["claude"]}' % TURN.encode()
        )
        assert await asyncio.wait_for(cancelled.get(), 10) == (TURN, ["claude"])
        assert cancelled.empty()
    finally:
        await bus.stop()
    skipped = [
        r.getMessage() for r in caplog.records if "skipped a control message" in r.getMessage()
    ]
    assert len(skipped) == len(garbage), skipped
    assert any("not JSON" in line for line in skipped)
    assert any("reply" in line for line in skipped), "a reply channel that is not ours"


# -- quiet periods and lost connections (#23 point 1) -------------------------------------------------
# With a 1 s socket timeout, the blocking reads of a default bus scaled down: silences three
# times as long as the socket timeout must cost nothing. (test_scale_out.py has the default
# settings through 15 s of silence; test_redis_versions.py runs these with the oldest redis-py.)

QUIET_TIMEOUT = 1.0


@pytest.fixture
async def quiet_buses(redis_url):
    buses = [
        EventBus(
            redis_url,
            retention=60,
            listener_limit=1_000_000,
            grace=1,
            on_cancel=noop,
            socket_timeout=QUIET_TIMEOUT,
        )
        for _ in range(2)
    ]
    for bus in buses:
        await bus.start()
    try:
        yield buses
    finally:
        for bus in buses:
            await bus.stop()


async def test_a_remote_listener_outlasts_a_quiet_period(quiet_buses):
    owner, other = quiet_buses
    log = owner_log(owner, "quiet")
    log.publish("turn", {"turn_id": "quiet", "providers": []})
    await flushed(owner)
    mirror = await other.mirror("quiet", running=True)
    assert mirror is not None
    reading = asyncio.create_task(read_all(mirror.log))
    await asyncio.sleep(QUIET_TIMEOUT * 3)  # the silence under test
    assert not mirror.broken and not reading.done()
    log.publish("delta", {"provider": "claude", "text": "after the silence"})
    log.end("quiet", {"claude": "complete"})
    assert b"".join(await reading) == b"".join(log.events)


async def test_control_messages_arrive_after_a_quiet_period(redis_url):
    cancelled: asyncio.Queue = asyncio.Queue()
    bus = EventBus(
        redis_url,
        retention=60,
        listener_limit=1_000_000,
        grace=1,
        on_cancel=lambda turn_id, providers: cancelled.put_nowait(turn_id),
        socket_timeout=QUIET_TIMEOUT,
    )
    await bus.start()
    try:
        await asyncio.wait_for(bus.control.subscribed.wait(), 10)
        await asyncio.sleep(QUIET_TIMEOUT * 3)  # the silence under test
        await bus.redis.publish(CONTROL, b'{"cancel": "%s"}' % TURN.encode())
        assert await asyncio.wait_for(cancelled.get(), 5) == TURN
    finally:
        await bus.stop()


async def test_a_lost_reader_connection_resumes_without_cutting_listeners(quiet_buses):
    owner, other = quiet_buses
    log = owner_log(owner, "cut")
    log.publish("turn", {"turn_id": "cut", "providers": []})
    log.publish("delta", {"provider": "claude", "text": "before"})
    await flushed(owner)
    mirror = await other.mirror("cut", running=True)
    assert mirror is not None
    reading = asyncio.create_task(read_all(mirror.log))
    killed = await kill_connections(owner.redis, command="xread")
    assert killed == 1, "the reader's one connection"
    log.publish("delta", {"provider": "claude", "text": "while it reconnects"})
    await flushed(owner)
    assert (await kill_connections(owner.redis, command="xread")) == 1  # again, once back
    log.publish("delta", {"provider": "claude", "text": "after"})
    log.end("cut", {"claude": "complete"})
    assert b"".join(await reading) == b"".join(log.events)
    assert not mirror.broken


async def kill_connections(redis, *, command: str) -> int:
    """Close, from Redis's side, the connections blocked in ``command`` (once there is one)."""

    async def blocked() -> list:
        return [c["id"] for c in await redis.client_list() if c.get("cmd") == command]

    ids = await eventually(blocked, within=10)
    for id in ids:
        await redis.client_kill_filter(_id=id)
    return len(ids)


def test_the_redis_py_under_test_is_the_one_asked_for():
    # test_redis_versions.py runs this file with another redis-py first on the path.
    import redis
    from packaging.version import Version

    wanted = os.environ.get("MULTICHAT_TEST_REDIS_VERSION")
    if wanted is not None:
        assert Version(redis.__version__) == Version(wanted)
