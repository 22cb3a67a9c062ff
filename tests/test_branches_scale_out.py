"""Branches and runs over several gateway processes (Redis bus, one database): an edit, a
switch and a picked run made on one process are what every other one shows and uses."""

from __future__ import annotations

import httpx
import pytest

from tests.support.turn_helpers import API, read_events, sent_thread

pytestmark = pytest.mark.cluster

MODEL = "claude:claude-sonnet-5+tokens=6"


async def test_branches_and_runs_made_anywhere_hold_everywhere(cluster, sim):
    one, two, three = cluster.gateways
    async with httpx.AsyncClient(timeout=30) as client:

        async def ask(gateway, prompt: str, cid: int | None = None) -> dict:
            body = {"prompt": prompt, "conversation_id": cid, "models": [MODEL]}
            response = await client.post(f"{gateway.url}{API}/chat/", json=body)
            assert response.status_code == 200, response.text
            return response.json()

        first = await ask(one, "first")
        cid = first["conversation_id"]
        second = await ask(one, "second", cid)

        # Edited on another process, streamed from a third.
        edited = await client.post(
            f"{two.url}{API}/turns/{second['turn_id']}/edit", json={"prompt": "second, edited"}
        )
        assert edited.status_code == 201, edited.text
        new_id = edited.json()["turn_id"]
        status, stream = await read_events(client, f"{three.url}{edited.json()['events_url']}")
        assert status == 200 and stream.done("claude")["status"] == "complete"

        path = await client.get(f"{three.url}{API}/conversations/{cid}")
        assert [e["turn_id"] for e in path.json()["path"]] == [first["turn_id"], new_id]

        # Retried on one process (the turn is in its memory), picked on another.
        retry = await client.post(
            f"{two.url}{API}/turns/{first['turn_id']}/retry",
            json={"providers": ["claude:claude-sonnet-5+tokens=9"]},
        )
        assert retry.status_code == 202, retry.text
        await read_events(client, f"{one.url}{retry.json()['events_url']}")
        picked = await client.put(
            f"{three.url}{API}/turns/{first['turn_id']}/answers/claude/run", json={"run": 0}
        )
        assert picked.status_code == 200, picked.text
        state = await client.get(f"{one.url}{API}/turns/{first['turn_id']}")
        assert state.json()["providers"][0]["run"] == 0

        # Switched on one process; a new turn on another continues the switched path with
        # the picked run.
        switched = await client.put(
            f"{two.url}{API}/conversations/{cid}/current", json={"turn_id": second["turn_id"]}
        )
        assert switched.status_code == 200, switched.text
        await ask(three, "third", cid)
        thread = sent_thread(sim.requests("anthropic")[-1]["body"])
        assert thread == [
            ("user", "first"),
            ("assistant", first["responses"][0]["content"]),
            ("user", "second"),
            ("assistant", second["responses"][0]["content"]),
            ("user", "third"),
        ]
