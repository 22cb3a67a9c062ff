"""A listener hears only what its client has not seen, and all listeners of a process share a
budget (issue #23 points 3 and 4), on EventLog and Listener themselves; test_memory_bounds.py
shows the budget on a real process."""

from __future__ import annotations

import asyncio

from gateway.turns.log import BufferBudget, EventLog, LegState


def ids_in(raw: bytes) -> list[int]:
    return [int(line[4:]) for line in raw.split(b"\n") if line.startswith(b"id: ")]


async def test_a_client_ahead_of_the_log_gets_nothing_at_or_below_its_id():
    log = EventLog()
    leg = LegState("claude", "m", True)
    log.publish("turn", {"turn_id": "t"})
    log.publish_delta(leg, "two")
    listener = log.subscribe(after=5)  # the client says it has 5; the log is at 2
    for n in range(3, 9):
        log.publish_delta(leg, f"word {n}")
    assert ids_in(listener.take()) == [6, 7, 8]


async def test_a_client_ahead_of_an_ended_turn_gets_nothing_and_its_stream_ends():
    log = EventLog()
    log.publish("turn", {"turn_id": "t"})
    reading = asyncio.create_task(read(log.stream(after=60)))
    await asyncio.sleep(0)
    for n in range(2, 10):
        log.publish_delta(LegState("claude", "m", True), f"word {n}")
    log.end("t", {"claude": "complete"})
    assert await asyncio.wait_for(reading, 5) == b""
    assert not log.listeners


async def test_a_client_behind_and_one_ahead_on_the_same_log():
    log = EventLog()
    leg = LegState("claude", "m", True)
    log.publish("turn", {"turn_id": "t"})
    behind, ahead = log.subscribe(after=0), log.subscribe(after=3)
    for n in range(2, 6):
        log.publish_delta(leg, f"word {n}")
    assert ids_in(behind.take()) == [1, 2, 3, 4, 5]
    assert ids_in(ahead.take()) == [4, 5]


def test_the_process_budget_drops_slow_listeners_before_it_is_exceeded_much():
    budget = BufferBudget(1_000_000)
    leg = LegState("claude", "m", True)
    logs = [EventLog(4_000_000, budget=budget) for _ in range(10)]
    listeners = [log.subscribe() for log in logs]
    fast = logs[0].subscribe()
    for _ in range(2_000):
        for log in logs:
            log.publish_delta(leg, "x" * 100)
        fast.take()  # a reader that keeps up
        fast.sent()
    kept = [listener for listener in listeners if not listener.overflowed]
    assert len(kept) < len(listeners), "slow readers go when the process's budget is spent"
    # 10 x 260 KB were sent; what is still held fits the budget (each alone fits its limit).
    assert sum(listener.size for listener in kept) <= budget.total
    assert not fast.overflowed, "one that keeps up stays"
    assert budget.used <= budget.total + BufferBudget.SLOW_BYTES + 200
    for log, listener in zip(logs, listeners, strict=True):
        log.unsubscribe(listener)
    logs[0].unsubscribe(fast)
    assert budget.used == 0, "every byte counted is given back"


def test_bytes_being_written_still_count_until_written():
    budget = BufferBudget(10_000_000)
    log = EventLog(4_000_000, budget=budget)
    listener = log.subscribe()
    log.publish_delta(LegState("claude", "m", True), "x" * 1000)
    size = budget.used
    assert size > 1000
    listener.take()
    assert budget.used == size, "taken, on its way to the socket"
    listener.sent()
    assert budget.used == 0


async def read(source) -> bytes:
    return b"".join([chunk async for chunk in source])


async def test_resuming_ahead_of_a_running_turn_waits_for_newer_events(stream_client):
    from tests.support.turn_helpers import create_turn, read_events

    body = {"prompt": "ahead", "models": ["claude:claude-sonnet-5+tokens=40,gap=20"]}
    turn = await create_turn(stream_client, body)
    # The turn is at id 1 or 2 now; this client says it has 30 (a stale or foreign id).
    status, stream = await read_events(stream_client, turn["events_url"], after=30)
    assert status == 200
    ids = [e.id for e in stream.events]
    assert ids and min(ids) == 31, ids[:5]
    assert stream.events[-1].name == "end"
