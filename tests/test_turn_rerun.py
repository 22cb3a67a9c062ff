"""Retry and add (POST /turns/{id}/retry and /add): new start, delta and done events on the
turn's own stream with ids still increasing, resumable; a new stored answer each; the latest
complete answer in the provider's history; on running, finished and restarted-gateway turns."""

from __future__ import annotations

import asyncio
import json

import httpx

from providers.simulators.text import expected_answer
from tests.support.turn_helpers import (
    API,
    create_turn,
    deltas_of,
    eventually,
    read_events,
    rows,
    sent_thread,
    stitch,
    turn_state,
)

FLAKY = "chatgpt:gpt-5.5+fault=status,status=503,fail_times=1"  # fails once, then answers


async def finished_turn(client: httpx.AsyncClient, body: dict) -> tuple[dict, list]:
    turn = await create_turn(client, body)
    status, stream = await read_events(client, turn["events_url"])
    assert status == 200 and stream.events[-1].name == "end"
    return turn, stream.events


async def answers_of(database_url: str, turn_id: str, provider: str) -> list:
    return await rows(
        database_url,
        "SELECT id, run, status, content, cost_usd FROM messages "
        "WHERE turn_id = $1 AND provider = $2 ORDER BY id",
        turn_id,
        provider,
    )


async def test_retry_a_failed_provider_of_a_finished_turn(gateways, sim, database_url, monkeypatch):
    monkeypatch.setenv("CHATGPT_MAX_ATTEMPTS", "1")
    server = gateways.start()
    prompt = "retry me"
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        turn, first = await finished_turn(client, {"prompt": prompt, "models": ["claude", FLAKY]})
        end = first[-1]
        assert end.data["statuses"] == {"claude": "complete", "chatgpt": "failed"}

        response = await client.post(
            f"{API}/turns/{turn['turn_id']}/retry", json={"providers": ["chatgpt"]}
        )
        assert response.status_code == 202, response.text
        rerun = response.json()
        assert rerun["providers"] == ["chatgpt"]
        assert rerun["last_event_id"] == end.id
        assert f"?last_event_id={end.id}&token=" in rerun["events_url"]  # every turn has a key

        # Follow the run, drop the connection after two deltas, resume by Last-Event-ID.
        _, part1 = await read_events(client, rerun["events_url"], stop=deltas_of("chatgpt", 2))
        _, part2 = await read_events(
            client, f"{API}/turns/{turn['turn_id']}/events", after=part1.events[-1].id
        )
        run = stitch(part1, part2)
        assert run.events[0].id == end.id + 1, "ids go on from the first run's end"
        names = [e.name for e in run.events]
        assert names[0] == "status" and names[-2:] == ["done", "end"]
        assert "start" in names and all(
            e.data["provider"] == "chatgpt" for e in run.events if e.name != "end"
        )
        done = run.done("chatgpt")
        assert done["status"] == "complete"
        assert done["content"] == run.text("chatgpt") == expected_answer("openai", prompt, 12)
        assert run.events[-1].data["statuses"] == {"claude": "complete", "chatgpt": "complete"}

        # Stored as a new answer; the old one stays.
        stored = await answers_of(database_url, turn["turn_id"], "chatgpt")
        assert [(r["run"], r["status"]) for r in stored] == [(0, "failed"), (1, "complete")]
        assert done["message_id"] == stored[1]["id"]
        state = await turn_state(client, turn["turn_id"])
        assert state["status"] == "finished"
        assert {p["provider"]: p["status"] for p in state["providers"]} == {
            "claude": "complete",
            "chatgpt": "complete",
        }

        # Everything after the second end: nothing more.
        status, _ = await read_events(
            client, f"{API}/turns/{turn['turn_id']}/events", after=run.events[-1].id
        )
        assert status == 204

        # The next turn's history has the retried answer.
        await finished_turn(
            client,
            {"prompt": "next", "conversation_id": turn["conversation_id"], "models": ["chatgpt"]},
        )
    assert sent_thread(sim.requests("openai")[-1]["body"]) == [
        ("user", prompt),
        ("assistant", done["content"]),
        ("user", "next"),
    ]


async def test_retry_while_the_turn_runs_comes_before_its_one_end(gateways, monkeypatch):
    monkeypatch.setenv("CHATGPT_MAX_ATTEMPTS", "1")
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        turn = await create_turn(
            client,
            {
                "prompt": "slow and flaky",
                "models": ["claude:claude-sonnet-5+tokens=200,gap=20", FLAKY],
            },
        )
        retried: dict = {}

        def stop(event, stream) -> bool:
            if event.name == "done" and event.data["provider"] == "chatgpt" and not retried:
                retried["at"] = event.id
                retried["task"] = asyncio.ensure_future(
                    client.post(
                        f"{API}/turns/{turn['turn_id']}/retry", json={"providers": ["chatgpt"]}
                    )
                )
            return False

        status, stream = await read_events(client, turn["events_url"], stop=stop)
        assert status == 200
        response = await retried["task"]
        assert response.status_code == 202, response.text
        assert response.json()["last_event_id"] >= retried["at"]
    assert [e.name for e in stream.events].count("end") == 1
    chatgpt_dones = [e.data for e in stream.named("done") if e.data["provider"] == "chatgpt"]
    assert [d["status"] for d in chatgpt_dones] == ["failed", "complete"]
    assert stream.events[-1].data["statuses"] == {"claude": "complete", "chatgpt": "complete"}
    ids = [e.id for e in stream.events]
    assert ids == sorted(set(ids))


async def test_add_a_provider_to_a_past_turn_after_a_restart(gateways, sim, database_url):
    first = gateways.start()
    prompt = "add gemini later"
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
        turn, events = await finished_turn(client, {"prompt": prompt, "models": ["claude"]})
    first.stop()
    end_id = events[-1].id

    second = gateways.start()  # a new process: the turn is only in PostgreSQL
    async with httpx.AsyncClient(base_url=second.url, timeout=30) as client:
        response = await client.post(
            f"{API}/turns/{turn['turn_id']}/add", json={"providers": ["gemini"]}
        )
        assert response.status_code == 202, response.text
        rerun = response.json()
        assert rerun["last_event_id"] == end_id
        status, run = await read_events(client, rerun["events_url"])
        assert status == 200
        assert run.events[0].id == end_id + 1
        assert run.done("gemini")["content"] == expected_answer("gemini", prompt, 12)
        assert run.events[-1].data["statuses"] == {"claude": "complete", "gemini": "complete"}

        state = await turn_state(client, turn["turn_id"])
        assert [p["provider"] for p in state["providers"]] == ["claude", "gemini"]
        conversation = (await client.get(f"{API}/conversations/{turn['conversation_id']}")).json()
        assert [m["provider"] for m in conversation["messages"]] == [None, "claude", "gemini"]
    second.stop()

    third = gateways.start()  # replayed from PostgreSQL: both dones, one end, the same ids
    async with httpx.AsyncClient(base_url=third.url, timeout=30) as client:
        status, replay = await read_events(client, f"{API}/turns/{turn['turn_id']}/events")
        assert status == 200
        assert [e.name for e in replay.events] == ["turn", "done", "done", "end"]
        assert [p["provider"] for p in replay.events[0].data["providers"]] == ["claude", "gemini"]
        assert replay.events[-1].id == run.events[-1].id
        gemini_done = [e for e in run.events if e.name == "done"][0]
        assert replay.events[2].id == gemini_done.id
        # A client that saw the first end resumes with the added answer.
        status, resumed = await read_events(
            client, f"{API}/turns/{turn['turn_id']}/events", after=end_id
        )
        assert [e.name for e in resumed.events] == ["done", "end"]
        assert resumed.events[0].data["provider"] == "gemini"


async def test_retry_and_add_refuse_what_they_cannot_do(gateways, monkeypatch):
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        turn = await create_turn(
            client, {"prompt": "long", "models": ["claude:claude-sonnet-5+tokens=400,gap=20"]}
        )
        url = f"{API}/turns/{turn['turn_id']}"
        # Wait until claude streams: its leg is running.
        await read_events(client, turn["events_url"], stop=deltas_of("claude", 1))
        busy = await client.post(f"{url}/retry", json={"providers": ["claude"]})
        assert busy.status_code == 409 and busy.json()["error"]["type"] == "conflict"
        for path, providers in (
            ("retry", ["gemini"]),  # not in the turn
            ("add", ["claude"]),  # already in it
            ("add", ["nobody"]),
            ("retry", []),
        ):
            refused = await client.post(f"{url}/{path}", json={"providers": providers})
            assert refused.status_code == 422, (path, providers, refused.text)
        missing = await client.post(
            f"{API}/turns/AAAAAAAAAAAAAAAAAAAAAA/retry", json={"providers": ["claude"]}
        )
        assert missing.status_code == 404
        await client.post(f"{url}/cancel")


async def test_history_uses_the_latest_complete_answer(gateways, sim, monkeypatch):
    """A retry that fails after a complete answer does not replace it in the history."""
    monkeypatch.setenv("CLAUDE_MAX_ATTEMPTS", "1")
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        turn, events = await finished_turn(client, {"prompt": "keep me", "models": ["claude"]})
        complete = [e for e in events if e.name == "done"][0].data["content"]
        # Retry with a pinned model that fails: the turn now shows a failed latest answer.
        response = await client.post(
            f"{API}/turns/{turn['turn_id']}/retry",
            json={"providers": ["claude:claude-sonnet-5+fault=status,status=500"]},
        )
        assert response.status_code == 202
        _, run = await read_events(client, response.json()["events_url"])
        assert run.done("claude")["status"] == "failed"
        await finished_turn(
            client,
            {"prompt": "then", "conversation_id": turn["conversation_id"], "models": ["claude"]},
        )
    thread = sim.requests("anthropic")[-1]["body"]["messages"]
    assert [(m["role"], m["content"]) for m in thread] == [
        ("user", "keep me"),
        ("assistant", complete),
        ("user", "then"),
    ]


async def test_retry_with_client_keys_other_keys_get_404_and_the_url_carries_a_token(
    gateways, database_url
):
    from tests.support.keys import make_keys

    keys = await make_keys(database_url, "alice", "bob")
    server = gateways.start(multichat_key=None)
    alice = {"Authorization": f"Bearer {keys['alice']}"}
    bob = {"Authorization": f"Bearer {keys['bob']}"}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        created = await client.post(
            f"{API}/turns", json={"prompt": "mine", "models": ["claude"]}, headers=alice
        )
        turn = created.json()
        status, _ = await read_events(client, turn["events_url"])  # its token opens it
        assert status == 200
        url = f"{API}/turns/{turn['turn_id']}"
        for path, providers in (("retry", ["claude"]), ("add", ["gemini"])):
            theirs = await client.post(f"{url}/{path}", json={"providers": providers}, headers=bob)
            assert theirs.status_code == 404, theirs.text
        anonymous = await client.post(f"{url}/retry", json={"providers": ["claude"]})
        assert anonymous.status_code == 401
        mine = await client.post(f"{url}/add", json={"providers": ["gemini"]}, headers=alice)
        assert mine.status_code == 202, mine.text
        events_url = mine.json()["events_url"]
        assert "token=" in events_url
        status, run = await read_events(client, events_url)  # no Authorization: the token
        assert status == 200 and run.done("gemini")["status"] == "complete"


async def test_a_retry_inside_the_reconnect_window_keeps_its_events_through_compaction(
    gateways, monkeypatch
):
    # The first end schedules its compaction (keep turn, dones, end) for when the reconnect
    # window closes. A retry that ran and ended before then must not be compacted away by it:
    # its done and second end stay, and resuming after the first end still gives them.
    monkeypatch.setenv("CHATGPT_MAX_ATTEMPTS", "1")
    server = gateways.start(disconnect_grace=0, retry_ms=1000)  # a 2 s window
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        turn, first = await finished_turn(client, {"prompt": "again", "models": ["claude", FLAKY]})
        url = f"{API}/turns/{turn['turn_id']}/events"
        response = await client.post(
            f"{API}/turns/{turn['turn_id']}/retry", json={"providers": ["chatgpt"]}
        )
        assert response.status_code == 202, response.text
        _, run = await read_events(client, response.json()["events_url"])
        assert run.events[-1].name == "end"

        async def compacted() -> bool:
            # Once the second end's window has closed (the first's closed before it), the
            # log keeps what a database replay would give: no delta from the start.
            _, whole = await read_events(client, url)
            return not whole.named("delta")

        await eventually(compacted, interval=0.2)
        status, again = await read_events(client, url, after=first[-1].id)
        assert status == 200
        names = [e.name for e in again.events]
        assert names[-2:] == ["done", "end"], names
        assert again.done("chatgpt")["status"] == "complete"
        assert again.events[-1].id == run.events[-1].id


async def test_two_retries_asked_at_once_on_a_running_turn_both_keep_their_runs(
    gateways, database_url
):
    """Two retries (of two providers, then of one twice) asked together while the turn still
    runs: each claim lists every leg's run as it will be (a crash stores a cut retry as its
    run), and a provider is retried once, the second asking getting 409."""
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        slow = "claude:claude-sonnet-5+tokens=400,gap=20"
        turn = await create_turn(
            client, {"prompt": "both at once", "models": [slow, "chatgpt", "gemini"]}
        )
        retry = f"{API}/turns/{turn['turn_id']}/retry"
        asked: dict = {}

        def stop(event, stream) -> bool:
            done = {e.data["provider"] for e in stream.named("done")}
            if {"chatgpt", "gemini"} <= done and not asked:
                asked["both"] = asyncio.gather(
                    client.post(retry, json={"providers": ["chatgpt"]}),
                    client.post(retry, json={"providers": ["gemini"]}),
                )
            return "both" in asked and asked["both"].done()

        status, _ = await read_events(client, turn["events_url"], stop=stop)
        assert [r.status_code for r in await asked["both"]] == [202, 202]
        [row] = await rows(
            database_url, "SELECT providers FROM turns WHERE id = $1", turn["turn_id"]
        )
        runs = {e["provider"]: e.get("run", 0) for e in json.loads(row["providers"])}
        assert runs == {"claude": 0, "chatgpt": 1, "gemini": 1}

        async def retried_chatgpt_stored() -> bool:
            found = await rows(
                database_url,
                "SELECT 1 FROM messages WHERE turn_id = $1 AND provider = 'chatgpt' AND run = 1",
                turn["turn_id"],
            )
            return bool(found)

        await eventually(retried_chatgpt_stored)  # its retry is over; claude still answers
        twice = await asyncio.gather(
            client.post(retry, json={"providers": ["chatgpt"]}),
            client.post(retry, json={"providers": ["chatgpt"]}),
        )
        assert sorted(r.status_code for r in twice) == [202, 409]
