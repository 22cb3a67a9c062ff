"""Reconnecting with Last-Event-ID (header or query) at every point of a turn, also after a
restart: exactly the events after that id, no gap, no duplicate, and no second upstream call."""

from __future__ import annotations

import httpx
import pytest

from providers.simulators.text import expected_answer
from tests.support.sse_client import Stream, check_invariants
from tests.support.turn_helpers import (
    API,
    answers,
    create_turn,
    deltas_of,
    eventually,
    flavour,
    read_events,
    stitch,
    turn_state,
)

PROMPT = "resume me"
BODY = {
    "prompt": PROMPT,
    "models": [
        "claude:claude-sonnet-5+tokens=30,gap=10",
        "grok:grok-4.3+tokens=20,gap=15",
    ],
}
LENGTHS = {"claude": 30, "grok": 20}
PROVIDERS = list(LENGTHS)


def full_answer(provider: str) -> str:
    return expected_answer(flavour(provider), PROMPT, LENGTHS[provider])


def assert_called_once_each(sim) -> None:
    stats = sim.stats()
    assert {p: stats[flavour(p)]["requests"] for p in PROVIDERS} == dict.fromkeys(PROVIDERS, 1)


def milestones(stream: Stream) -> dict[str, int]:
    """The ids of the events a replay from the database must reproduce: turn, dones, end."""
    return {
        ("done:" + e.data["provider"] if e.name == "done" else e.name): e.id
        for e in stream.events
        if e.name in ("turn", "done", "end")
    }


@pytest.mark.parametrize("via", ["header", "query"])
async def test_resume_live_before_the_first_delta_mid_stream_and_after_the_end(gateways, sim, via):
    server = gateways.start(disconnect_grace=5)
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        turn = await create_turn(client, BODY)
        url = turn["events_url"]

        # 1. Only the turn event, then the connection drops.
        status, first = await read_events(client, url, stop=lambda e, s: e.name == "turn")
        assert status == 200 and [e.id for e in first.events] == [1]
        # 2. Resume after it; drop again in the middle of claude's answer.
        status, second = await read_events(
            client, url, after=first.events[-1].id, via=via, stop=deltas_of("claude", 5)
        )
        assert status == 200
        # 3. Resume after that and read to the end.
        status, third = await read_events(client, url, after=second.events[-1].id, via=via)
        assert status == 200
        whole = stitch(first, second, third)
        check_invariants(whole, PROVIDERS)
        for provider in PROVIDERS:
            assert whole.done(provider)["status"] == "complete"
            assert whole.text(provider) == full_answer(provider)

        # 4. After the end there is nothing left: 204 tells an EventSource to stop.
        status, _ = await read_events(client, url, after=whole.events[-1].id, via=via)
        assert status == 204
        # ... and a resume from any earlier point gets exactly the rest, from memory.
        middle = second.events[len(second.events) // 2].id
        status, rest = await read_events(client, url, after=middle, via=via)
        assert [e.id for e in rest.events] == [e.id for e in whole.events if e.id > middle]
        assert [e.data for e in rest.events] == [e.data for e in whole.events if e.id > middle]
        # From the start again: the same stream, byte for byte in content.
        status, again = await read_events(client, url, after=0, via=via)
        assert [(e.id, e.name, e.data) for e in again.events] == [
            (e.id, e.name, e.data) for e in whole.events
        ]
    assert_called_once_each(sim)


async def test_resume_after_a_restart_replays_from_postgres_with_the_same_ids(
    gateways, database_url, sim
):
    first_server = gateways.start(disconnect_grace=5)
    async with httpx.AsyncClient(base_url=first_server.url, timeout=15) as client:
        turn = await create_turn(client, BODY)
        url, turn_id = turn["events_url"], turn["turn_id"]
        # One client reads part of the stream and goes away; another reads all of it.
        _, partial = await read_events(client, url, stop=deltas_of("grok", 3))
        _, live = await read_events(client, url)
    check_invariants(live, PROVIDERS)
    first_server.stop()

    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        # From the start: turn, one done per provider, end, with the ids they had live.
        status, replay = await read_events(client, url)
        assert status == 200
        assert [e.name for e in replay.events] == ["turn", "done", "done", "end"]
        assert milestones(replay) == milestones(live)
        assert replay.events[0].data == live.events[0].data
        for provider in PROVIDERS:
            stored, streamed = replay.done(provider), live.done(provider)
            assert stored["content"] == streamed["content"] == full_answer(provider)
            assert stored["message_id"] == streamed["message_id"]
            assert stored["status"] == "complete"
        assert replay.events[-1].data == live.events[-1].data

        # The client that left mid-stream resumes: only events after its last id, no duplicate,
        # and what it had plus what it gets is every answer in full.
        for via in ("header", "query"):
            status, rest = await read_events(client, url, after=partial.events[-1].id, via=via)
            assert status == 200
            assert all(e.id > partial.events[-1].id for e in rest.events)
            assert [e.name for e in rest.events][-1] == "end"
            ids = [e.id for e in partial.events + rest.events]
            assert ids == sorted(set(ids)), ids
            for provider in PROVIDERS:
                seen = partial.text(provider)
                done = [
                    e for e in rest.events if e.name == "done" and e.data["provider"] == provider
                ]
                if done:
                    assert done[0].data["content"].startswith(seen)
                    assert done[0].data["content"] == full_answer(provider)
                else:  # its done was already in the part it had read
                    assert partial.done(provider)["content"] == full_answer(provider)

        # After the end: 204, by header and by query.
        end_id = live.events[-1].id
        for via in ("header", "query"):
            status, _ = await read_events(client, url, after=end_id, via=via)
            assert status == 204
        # Between two dones: the later done and the end only.
        first_done = min(e.id for e in replay.named("done"))
        _, tail = await read_events(client, url, after=first_done)
        assert [e.id for e in tail.events] == [e.id for e in replay.events if e.id > first_done]
        assert (await turn_state(client, turn_id))["status"] == "finished"
    assert_called_once_each(sim)


async def test_a_restart_in_the_middle_of_a_turn_stores_it_cancelled_and_replays_it(
    gateways, database_url, sim
):
    first_server = gateways.start(disconnect_grace=30)
    body = {
        "prompt": PROMPT,
        "models": ["claude:claude-sonnet-5+tokens=400,gap=20", "grok:grok-4.3+ttft=30000"],
    }
    async with httpx.AsyncClient(base_url=first_server.url, timeout=15) as client:
        turn = await create_turn(client, body)
        url, turn_id = turn["events_url"], turn["turn_id"]
        _, seen = await read_events(client, url, stop=deltas_of("claude", 4))
    first_server.stop()  # the turn was still running: its legs are stopped and stored

    stored = await answers(database_url, turn_id)
    assert {p: r["status"] for p, r in stored.items()} == {
        "claude": "cancelled",
        "grok": "cancelled",
    }
    assert stored["claude"]["content"].startswith(seen.text("claude"))
    assert stored["grok"]["content"] == ""
    await eventually(lambda: sim.stats()["anthropic"]["open"] == 0 == sim.stats()["xai"]["open"])

    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        assert (await turn_state(client, turn_id))["status"] == "finished"
        status, rest = await read_events(client, url, after=seen.events[-1].id)
        assert status == 200
        assert [e.name for e in rest.events] == ["done", "done", "end"]
        ids = [e.id for e in seen.events + rest.events]
        assert ids == sorted(set(ids)), ids
        assert rest.done("claude")["content"] == stored["claude"]["content"]
        assert rest.events[-1].data["statuses"] == {"claude": "cancelled", "grok": "cancelled"}
    assert_called_once_each(sim)


async def test_unknown_turn_is_404_and_a_garbage_last_event_id_is_422(gateways, sim):
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        unknown = await client.get(f"{API}/turns/no-such-turn/events")
        assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found"
        assert (await client.get(f"{API}/turns/no-such-turn")).status_code == 404

        turn = await create_turn(client, {"prompt": "garbage", "models": ["claude"]})
        url = turn["events_url"]
        bad_values = ["abc", "-1", "1.5", "0x10", "1e3", "²", "٣", "9" * 5000]
        for value in bad_values:
            by_query = await client.get(url, params={"last_event_id": value})
            assert by_query.status_code == 422, (value, by_query.status_code)
            assert by_query.json()["error"]["type"] == "invalid"
        for raw in [b"abc", b"-1", b"\xb2", b"\xd9\xa3", b"9" * 5000]:
            by_header = await client.get(url, headers=[(b"Last-Event-ID", raw)])
            assert by_header.status_code == 422, (raw, by_header.status_code)
        # Unknown turn with a garbage id: either answer is honest, but never a 500.
        response = await client.get(
            f"{API}/turns/no-such-turn/events", headers={"Last-Event-ID": "x"}
        )
        assert response.status_code in (404, 422)
        # The turn itself still streams fine.
        status, stream = await read_events(client, url)
        assert status == 200
        check_invariants(stream, ["claude"])


async def test_past_the_reconnect_window_a_finished_turn_keeps_only_what_the_database_gives(
    gateways, sim
):
    # The window in which a dropped client gets the exact log (the disconnect grace, or two
    # EventSource retries) is over almost as soon as the turn ends; from then on memory holds
    # the turn, the dones and the end only.
    server = gateways.start(disconnect_grace=0, retry_ms=50)
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        turn = await create_turn(client, BODY)
        url = turn["events_url"]
        status, whole = await read_events(client, url)
        assert status == 200
        check_invariants(whole, PROVIDERS)
        middle = [e.id for e in whole.events if e.name == "delta"][10]

        async def compacted() -> bool:
            _, rest = await read_events(client, url, after=middle)
            return all(e.name != "delta" for e in rest.events)

        await eventually(compacted, within=10)
        status, rest = await read_events(client, url, after=middle)
        assert status == 200
        assert [(e.id, e.name, e.data) for e in rest.events] == [
            (e.id, e.name, e.data) for e in whole.events if e.id > middle and e.name != "delta"
        ]
        # The milestones keep their ids, as the database's replay does.
        status, again = await read_events(client, url, after=0)
        assert milestones(again) == milestones(whole)
        status, _ = await read_events(client, url, after=whole.events[-1].id)
        assert status == 204
