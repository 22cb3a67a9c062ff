"""The turn's event log and its listeners, at unit level: real sockets absorb megabytes before a
stuck reader shows, so the bounded buffer is tested here, on EventLog and Listener themselves."""

from __future__ import annotations

import asyncio

import orjson

from gateway.turns import EventLog, LegState, Turn
from tests.support.sse_client import Event, Stream, check_invariants

PROVIDERS = ["claude", "chatgpt"]


def make_turn(limit: int = 4096, **callbacks) -> tuple[EventLog, dict[str, LegState]]:
    """A turn's event log, its turn event published: the log is what these tests exercise."""
    legs = {name: LegState(name, "model", True) for name in PROVIDERS}
    log = EventLog(limit, **callbacks)
    log.publish("turn", Turn("turn-1", 1, 1, legs, log).turn_event_data())
    return log, legs


async def drain(source) -> bytes:
    return b"".join([chunk async for chunk in source])


def finish(turn: EventLog, legs: dict[str, LegState]) -> None:
    """One done per leg (its content is the text its deltas carried), then the end."""
    sent = parse(b"".join(turn.events))
    for leg in legs.values():
        leg.status = "complete"
        content = sent.text(leg.provider)
        turn.publish("done", {"provider": leg.provider, "status": "complete", "content": content})
    turn.end("turn-1", {name: "complete" for name in legs})


def parse(raw: bytes) -> Stream:
    """The SSE bytes as events (the log's own format: one data line per event)."""
    stream = Stream()
    for block in raw.decode().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if line)
        if "data" in fields:
            stream.events.append(
                Event(int(fields["id"]), fields["event"], orjson.loads(fields["data"]))
            )
    return stream


async def test_a_listener_that_stops_reading_is_dropped_alone():
    abandoned: list[EventLog] = []
    turn, legs = make_turn(limit=16_384, on_abandoned=abandoned.append)
    stuck = turn.stream(0)
    assert b"event: turn" in await anext(stuck)  # it read the first event, then stops reading
    (stuck_listener,) = turn.listeners
    reader = asyncio.create_task(drain(turn.stream(0)))
    await asyncio.sleep(0)
    assert len(turn.listeners) == 2

    for i in range(800):  # about 56 KB: more than three times the stuck listener's buffer
        turn.publish_delta(legs["claude" if i % 2 else "chatgpt"], f"token {i:04d} " * 4)
        if i % 10 == 0:
            await asyncio.sleep(0)  # the healthy reader keeps up
    assert stuck_listener.overflowed and stuck_listener.closed
    assert stuck_listener.pending == [], "its buffered events were let go"
    assert not turn.ended and abandoned == [], "the turn goes on for the other listener"

    finish(turn, legs)
    received = await asyncio.wait_for(reader, 10)
    assert received == b"".join(turn.events), "the healthy listener got every event, in order"
    check_invariants(parse(received), PROVIDERS)  # ids 1..n, turn first, end last

    # The stuck client's stream ends (it is not fed forever), and it leaves the turn.
    assert [chunk async for chunk in stuck] == []
    assert stuck_listener not in turn.listeners
    # It reconnects with the id it last saw and gets exactly the rest.
    assert await drain(turn.stream(1)) == b"".join(turn.events[1:])


async def test_a_reader_that_keeps_up_survives_dones_larger_than_its_buffer():
    """Each done carries its whole answer, and dones stored in one batch are published back to
    back: that burst must not look like a reader that stopped reading."""
    turn, legs = make_turn(limit=1024)
    reader = asyncio.create_task(drain(turn.stream(0)))
    await asyncio.sleep(0)
    for i in range(300):  # about 9 KB per answer, read as it comes
        turn.publish_delta(legs["claude" if i % 2 else "chatgpt"], f"word {i:03d} " * 3)
        await asyncio.sleep(0)
    (listener,) = turn.listeners
    finish(turn, legs)  # two dones of about 9 KB each, then the end, in one go
    assert not listener.overflowed
    received = await asyncio.wait_for(reader, 10)
    assert received == b"".join(turn.events)
    check_invariants(parse(received), PROVIDERS)


async def test_publishing_never_waits_for_a_listener():
    turn, legs = make_turn(limit=1024)
    never_read = [turn.subscribe(0) for _ in range(3)]
    for i in range(1000):
        turn.publish_delta(legs["claude"], f"{i} ")  # synchronous: a slow reader cannot block it
    assert all(listener.overflowed for listener in never_read)
    assert turn.last_id == 1001


async def test_two_listeners_of_one_turn_get_identical_event_sequences():
    turn, legs = make_turn(limit=1_000_000)
    first = asyncio.create_task(drain(turn.stream(0)))
    await asyncio.sleep(0)
    for i in range(50):
        turn.publish_delta(legs["claude"], f"c{i} ")
        if i == 10:  # a second listener joins mid-stream, resuming from id 0
            second = asyncio.create_task(drain(turn.stream(0)))
        if i % 3 == 0:
            await asyncio.sleep(0)
        turn.publish_delta(legs["chatgpt"], f"g{i} ")
    finish(turn, legs)
    one, two = await asyncio.wait_for(asyncio.gather(first, second), 10)
    assert one == two == b"".join(turn.events)
    stream = parse(one)
    check_invariants(stream, PROVIDERS)
    assert [e.id for e in stream.events] == list(range(1, turn.last_id + 1))


async def test_a_listener_joining_at_any_point_gets_no_gap_and_no_duplicate():
    turn, legs = make_turn(limit=1_000_000)
    tasks = []
    for i in range(30):
        turn.publish_delta(legs["claude"], f"{i} ")
        after = turn.last_id - (i % 4)  # some have seen everything so far, some lag behind
        tasks.append((after, asyncio.create_task(drain(turn.stream(after)))))
        if i % 2:
            await asyncio.sleep(0)
    finish(turn, legs)
    for after, task in tasks:
        assert await asyncio.wait_for(task, 10) == b"".join(turn.events[after:])


async def test_the_last_listener_leaving_reports_the_turn_abandoned_once():
    abandoned: list[EventLog] = []
    joined: list[EventLog] = []
    turn, legs = make_turn(on_abandoned=abandoned.append, on_listener=joined.append)
    one, two = turn.stream(0), turn.stream(0)
    await anext(one)
    await anext(two)
    assert len(joined) == 2
    await one.aclose()
    assert abandoned == []
    await two.aclose()
    assert abandoned == [turn]
    finish(turn, legs)
    await drain(turn.stream(0))  # a listener of an ended turn never reports it abandoned
    assert abandoned == [turn]


async def test_compacting_an_ended_log_keeps_its_milestones_and_spares_its_listeners():
    turn, legs = make_turn()
    connected = turn.subscribe(0)  # connected while the turn ran: holds every event
    for i in range(20):
        turn.publish_delta(legs["claude"], f"t{i} ")
    finish(turn, legs)
    whole = parse(b"".join(turn.events))
    milestones = [e.id for e in whole.events if e.name != "delta"]

    turn.compact(set(milestones))

    assert parse(connected.take()).events == whole.events
    assert turn.last_id == whole.events[-1].id
    rest = parse(await drain(turn.stream(5)))
    assert [e.id for e in rest.events] == [id for id in milestones if id > 5]
    assert parse(await drain(turn.stream(0))).events == [
        e for e in whole.events if e.name != "delta"
    ]
