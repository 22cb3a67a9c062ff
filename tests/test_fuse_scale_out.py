"""Fuse across gateway processes (Redis bus): a finished turn fused on another process than
the one that ran it streams the fusion to listeners on every process; a turn still running on
another process is fused by that process, asked over Redis as a retry is."""

from __future__ import annotations

import httpx
import pytest

from tests.support.cluster import mirrored_finished_turn
from tests.support.sse_client import Stream, iter_events, read_turn_stream
from tests.support.turn_helpers import API

pytestmark = pytest.mark.cluster


async def test_a_fusion_on_another_process_reaches_listeners_everywhere(cluster):
    owner, other, third = cluster.gateways
    async with httpx.AsyncClient(timeout=30) as client:
        body = {"prompt": "fuse elsewhere", "models": ["claude", "chatgpt"]}
        turn_id, path, end = await mirrored_finished_turn(client, owner, other, body)

        fused = await client.post(
            f"{third.url}{API}/turns/{turn_id}/fuse", json={"model": "gemini"}
        )
        assert fused.status_code == 202, fused.text
        assert fused.json()["last_event_id"] == end

        for gateway in (other, owner, third):
            status, run = await read_turn_stream(client, f"{gateway.url}{path}", after=end)
            assert status == 200
            assert run.events[0].id == end + 1
            assert run.events[-1].name == "end"
            done = run.done("fuse")
            assert done["status"] == "complete" and done["judge"] == "gemini"
            second_end = run.events[-1].id

        # The owner's memory is behind the record now: fusing there goes on from the record.
        again = await client.post(
            f"{owner.url}{API}/turns/{turn_id}/fuse", json={"model": "claude"}
        )
        assert again.status_code == 202, again.text
        assert again.json()["last_event_id"] == second_end
        status, run = await read_turn_stream(client, f"{other.url}{path}", after=second_end)
        assert status == 200 and run.events[0].id == second_end + 1
        assert run.done("fuse")["judge"] == "claude"
        state = (await client.get(f"{other.url}{API}/turns/{turn_id}")).json()
        assert state["fusion"]["message_id"] == run.done("fuse")["message_id"]


async def test_a_fusion_of_a_running_turn_reaches_the_process_that_runs_it(cluster):
    owner, other, _ = cluster.gateways
    async with httpx.AsyncClient(timeout=30) as client:
        body = {
            "prompt": "fuse while it runs",
            "models": ["claude:claude-sonnet-5+tokens=150,gap=20", "chatgpt"],
        }
        created = (await client.post(f"{owner.url}{API}/turns", json=body)).json()
        url = f"{owner.url}{API}/turns/{created['turn_id']}/events"
        stream = Stream()
        replies = []
        fuse = f"{other.url}{API}/turns/{created['turn_id']}/fuse"
        async with client.stream("GET", url) as response:
            async for event in iter_events(response, stream):
                if event.name == "done" and event.data["provider"] == "chatgpt" and not replies:
                    replies.append(await client.post(fuse, json={"model": "gemini"}))
                    replies.append(await client.post(fuse, json={"model": "gemini"}))
                    replies.append(await client.post(fuse, json={"model": "nobody"}))
        accepted, busy, unknown = replies
        assert accepted.status_code == 202, accepted.text  # run by the owner, asked over Redis
        assert accepted.json()["providers"] == ["fuse"]
        assert busy.status_code == 409, busy.text  # the owner's answer: one fusion at a time
        assert unknown.status_code == 422, unknown.text
    done = stream.done("fuse")
    assert done["judge"] == "gemini" and done["fused_from"] == [
        stream.done("chatgpt")["message_id"]
    ]
    assert [e.name for e in stream.events].count("end") == 1
    assert stream.events[-1].data["statuses"] == {
        "claude": "complete",
        "chatgpt": "complete",
        "fuse": "complete",
    }
