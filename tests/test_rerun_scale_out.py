"""Retry across gateway processes (Redis bus): a finished turn reopened by any process streams
its new run to listeners on every process, those holding the old run's end in memory too, and
those of a turn whose stream had expired before the retry."""

from __future__ import annotations

import asyncio

import httpx
import pytest
import redis.asyncio as aioredis

from tests.support.cluster import expire_stream, mirrored_finished_turn
from tests.support.sse_client import Stream, iter_events, read_turn_stream
from tests.support.turn_helpers import API

pytestmark = pytest.mark.cluster


async def test_a_retry_after_the_stream_expired_is_followed_live_from_another_process(
    gateway_pair, redis_server
):
    """The retried turn's stream had expired (deleted here, as its retention would), so the
    owner's new events alone would start it again; a mirror needs it from the turn's first
    event. The listener on the other process must get the retry live: the retry would run for
    a minute, and it ends only because that listener saw a delta and cancelled it."""
    owner, other = gateway_pair
    async with httpx.AsyncClient(timeout=60) as client:
        body = {"prompt": "retry after the stream expired", "models": ["claude", "chatgpt"]}
        created = (await client.post(f"{owner.url}{API}/turns", json=body)).json()
        turn_id = created["turn_id"]
        path = f"{API}/turns/{turn_id}/events"
        _, first = await read_turn_stream(client, f"{owner.url}{path}")
        end = first.events[-1].id
        redis = aioredis.from_url(redis_server.url)
        try:
            await expire_stream(redis, turn_id, end)
        finally:
            await redis.aclose()
        slow = "claude:claude-sonnet-5+tokens=2000,gap=25"
        retried = await client.post(
            f"{owner.url}{API}/turns/{turn_id}/retry", json={"providers": [slow]}
        )
        assert retried.status_code == 202, retried.text
        assert retried.json()["last_event_id"] == end

        # The owner's own listener, to compare with: from now, so that it reads the run live
        # too (a finished turn's log lets its deltas go after the reconnect window).
        owners_reading = asyncio.create_task(
            read_turn_stream(client, f"{owner.url}{path}", after=end)
        )
        stream = Stream()
        cancelled: list[httpx.Response] = []
        async with client.stream("GET", f"{other.url}{path}?last_event_id={end}") as response:
            assert response.status_code == 200
            source = response.headers["x-multichat-source"]
            async for event in iter_events(response, stream):
                if event.name == "delta" and not cancelled:
                    cancel = f"{owner.url}{API}/turns/{turn_id}/cancel"
                    cancelled.append(await client.post(cancel, json={"providers": ["claude"]}))
        _, owners = await owners_reading
    assert source == "mirror"
    assert cancelled and cancelled[0].status_code == 200, cancelled
    ids = [e.id for e in stream.events]
    assert ids == list(range(end + 1, end + 1 + len(ids))), "in order, no gap, no duplicate"
    names = [e.name for e in stream.events]
    assert names[-2:] == ["done", "end"] and names.count("done") == 1, names
    assert names.index("start") < names.index("delta"), names  # seen live, before the done
    done = stream.done("claude")
    assert done["status"] == "cancelled" and done["content"] == stream.text("claude")
    assert [(e.id, e.name, e.data) for e in stream.events] == [
        (e.id, e.name, e.data) for e in owners.events
    ], "every event the owner's listener got"


async def test_a_retry_on_another_process_reaches_listeners_everywhere(cluster):
    owner, other, third = cluster.gateways
    async with httpx.AsyncClient(timeout=30) as client:
        body = {"prompt": "retry elsewhere", "models": ["claude:claude-sonnet-5+tokens=20,gap=5"]}
        turn_id, path, end = await mirrored_finished_turn(client, owner, other, body)

        retry = await client.post(
            f"{third.url}{API}/turns/{turn_id}/retry", json={"providers": ["claude"]}
        )
        assert retry.status_code == 202, retry.text
        assert retry.json()["last_event_id"] == end

        # The process with the old mirror, and the owner with the old run in memory, both
        # stream the new run (live or, once it ended, from the stream or the database).
        for gateway in (other, owner):
            status, run = await read_turn_stream(client, f"{gateway.url}{path}", after=end)
            assert status == 200
            assert run.events[0].id > end
            assert run.events[-1].name == "end"
            assert run.done("claude")["status"] == "complete"
            second_end = run.events[-1].id

        # The owner's memory is behind the record now: a retry there goes on from the record.
        again = await client.post(
            f"{owner.url}{API}/turns/{turn_id}/retry", json={"providers": ["claude"]}
        )
        assert again.status_code == 202, again.text
        assert again.json()["last_event_id"] == second_end
        status, run = await read_turn_stream(client, f"{other.url}{path}", after=second_end)
        assert status == 200 and run.events[0].id == second_end + 1
        assert run.done("claude")["status"] == "complete"


async def test_a_retry_of_a_running_turn_reaches_the_process_that_runs_it(cluster):
    owner, other, _ = cluster.gateways
    async with httpx.AsyncClient(timeout=30) as client:
        body = {
            "prompt": "retry while it runs",
            "models": [
                "claude:claude-sonnet-5+tokens=150,gap=20",
                "chatgpt:gpt-5.5+fault=status,status=400,fail_times=1",  # fails once, at once
            ],
        }
        created = (await client.post(f"{owner.url}{API}/turns", json=body)).json()
        url = f"{owner.url}{API}/turns/{created['turn_id']}/events"
        stream = Stream()
        replies = []
        async with client.stream("GET", url) as response:
            async for event in iter_events(response, stream):
                if event.name == "done" and event.data["provider"] == "chatgpt" and not replies:
                    retry = f"{other.url}{API}/turns/{created['turn_id']}/retry"
                    busy = await client.post(retry, json={"providers": ["claude"]})
                    replies.append(busy)
                    replies.append(await client.post(retry, json={"providers": ["chatgpt"]}))
        busy, accepted = replies
        assert busy.status_code == 409, busy.text  # the owner's answer: claude still streams
        assert accepted.status_code == 202, accepted.text
        assert accepted.json()["providers"] == ["chatgpt"]
    chatgpt = [e.data for e in stream.named("done") if e.data["provider"] == "chatgpt"]
    assert [d["status"] for d in chatgpt] == ["failed", "complete"]
    assert [e.name for e in stream.events].count("end") == 1
    assert stream.events[-1].data["statuses"] == {"claude": "complete", "chatgpt": "complete"}
