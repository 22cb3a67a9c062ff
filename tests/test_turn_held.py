"""Legs start before their turn is stored; what they say until then comes out after `turn`."""

from __future__ import annotations

import orjson

from gateway.turns import EventLog, LegState


def parsed(chunk: bytes) -> list[tuple[int, str, dict]]:
    events = []
    for block in chunk.decode().strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        events.append((int(fields["id"]), fields["event"], orjson.loads(fields["data"])))
    return events


def test_held_events_follow_the_turn_event_in_order():
    claude, gemini = LegState("claude", "m", True), LegState("gemini", "g", True)
    turn = EventLog(held=True)
    turn.publish("start", {"provider": "gemini", "model": "g"})
    turn.publish_delta(gemini, "Hel")
    turn.publish("start", {"provider": "claude", "model": "m"})
    turn.publish_delta(claude, "Hi")
    turn.publish_delta(gemini, "lo")
    assert turn.events == [], "nothing is published before the turn is stored"

    turn.release({"turn_id": "t1", "conversation_id": 7})
    turn.publish_delta(claude, "!")  # live again: straight to the log

    events = parsed(b"".join(turn.events))
    assert [(i, name) for i, name, _ in events] == [
        (1, "turn"),
        (2, "start"),
        (3, "delta"),
        (4, "start"),
        (5, "delta"),
        (6, "delta"),
        (7, "delta"),
    ]
    texts = [(d["provider"], d["text"]) for _, name, d in events if name == "delta"]
    assert texts == [("gemini", "Hel"), ("claude", "Hi"), ("gemini", "lo"), ("claude", "!")]


def test_a_listener_joining_after_release_sees_everything_once():
    leg = LegState("grok", "x", True)
    turn = EventLog(held=True)
    turn.publish_delta(leg, "a")
    turn.release({"turn_id": "t2"})
    listener = turn.subscribe(0)
    turn.publish_delta(leg, "b")
    assert [name for _, name, _ in parsed(listener.take())] == ["turn", "delta", "delta"]
