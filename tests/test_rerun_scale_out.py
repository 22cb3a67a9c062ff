"""Retry across gateway processes (Redis bus): a finished turn reopened by any process streams
its new run to listeners on every process, those holding the old run's end in memory too."""

from __future__ import annotations

import httpx
import pytest

from tests.support.sse_client import Stream, iter_events, read_turn_stream
from tests.support.turn_helpers import API

pytestmark = pytest.mark.cluster


async def test_a_retry_on_another_process_reaches_listeners_everywhere(cluster):
    owner, other, third = cluster.gateways
    async with httpx.AsyncClient(timeout=30) as client:
        body = {"prompt": "retry elsewhere", "models": ["claude:claude-sonnet-5+tokens=20,gap=5"]}
        created = (await client.post(f"{owner.url}{API}/turns", json=body)).json()
        path = f"{API}/turns/{created['turn_id']}/events"
        _, first = await read_turn_stream(client, f"{owner.url}{path}")
        end = first.events[-1].id
        _, mirrored = await read_turn_stream(
            client, f"{other.url}{path}"
        )  # other now holds a mirror
        assert mirrored.events[-1].id == end

        retry = await client.post(
            f"{third.url}{API}/turns/{created['turn_id']}/retry", json={"providers": ["claude"]}
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
            f"{owner.url}{API}/turns/{created['turn_id']}/retry", json={"providers": ["claude"]}
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
