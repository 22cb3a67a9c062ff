"""Fuse (POST /turns/{id}/fuse): a judge's one answer from a turn's answers, streamed on the
turn's own stream as provider "fuse" with ids going on, stored as a message of kind "fuse" with
the ids it drew on, replayed after a restart, shown by the turn, the conversation and the
export, and continued from under the "fused" context policy."""

from __future__ import annotations

import asyncio

import asyncpg
import httpx

from gateway.turns.fuse.sources import INSTRUCTIONS
from providers.simulators.text import expected_answer
from storage import Q
from tests.support.sse_client import Stream, iter_events
from tests.support.turn_helpers import (
    API,
    create_turn,
    eventually,
    flavour,
    read_events,
    rows,
    sent_thread,
    turn_state,
)

THREE = ["claude", "chatgpt", "gemini"]


async def finished_turn(client: httpx.AsyncClient, body: dict) -> tuple[dict, list]:
    turn = await create_turn(client, body)
    status, stream = await read_events(client, turn["events_url"])
    assert status == 200 and stream.events[-1].name == "end"
    return turn, stream.events


async def fuse(client: httpx.AsyncClient, turn_id: str, **body) -> httpx.Response:
    return await client.post(f"{API}/turns/{turn_id}/fuse", json=body)


async def test_fuse_a_finished_turn_streams_stores_and_replays(gateways, sim, database_url):
    server = gateways.start()
    prompt = "fuse us"
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        turn, first = await finished_turn(client, {"prompt": prompt, "models": THREE})
        end = first[-1]
        dones = {e.data["provider"]: e.data for e in first if e.name == "done"}

        response = await fuse(client, turn["turn_id"], model="claude", instructions="Be brief.")
        assert response.status_code == 202, response.text
        started = response.json()
        assert started["providers"] == ["fuse"] and started["last_event_id"] == end.id
        assert f"?last_event_id={end.id}&token=" in started["events_url"]

        status, run = await read_events(client, started["events_url"])
        assert status == 200
        assert run.events[0].id == end.id + 1, "ids go on from the turn's end"
        names = [e.name for e in run.events]
        assert names[-2:] == ["done", "end"] and "start" in names and "delta" in names
        assert all(e.data["provider"] == "fuse" for e in run.events if e.name != "end")
        start = next(e.data for e in run.events if e.name == "start")
        assert start["judge"] == "claude" and start["model"]
        done = run.done("fuse")
        assert done["status"] == "complete" and done["judge"] == "claude"
        assert done["model"] == start["model"]
        assert done["fused_from"] == [dones[p]["message_id"] for p in THREE]
        assert done["usage"]["output_tokens"] > 0 and done["latency_ms"] is not None
        assert "cost_usd" in done
        assert done["content"] == run.text("fuse")
        assert run.events[-1].data["statuses"] == {p: "complete" for p in [*THREE, "fuse"]}

        # The judge was asked the prompt and every answer, each marked with its source.
        asked = sent_thread(sim.requests("anthropic")[-1]["body"])
        assert len(asked) == 1 and asked[0][0] == "user"
        judge_prompt = asked[0][1]
        assert judge_prompt.startswith(INSTRUCTIONS.format(count=3)[:40])
        assert "Be brief." in judge_prompt and f"<prompt>\n{prompt}\n</prompt>" in judge_prompt
        for provider, shown in (("claude", "Claude"), ("chatgpt", "ChatGPT"), ("gemini", "Gemini")):
            assert f'<answer source="{shown} (' in judge_prompt
            assert dones[provider]["content"] in judge_prompt
        assert done["content"] == expected_answer("anthropic", judge_prompt, 12)

        stored = await rows(
            database_url,
            "SELECT id, kind, provider, judge_provider, fused_from, status, content, run "
            "FROM messages WHERE turn_id = $1 AND kind = 'fuse'",
            turn["turn_id"],
        )
        assert len(stored) == 1 and stored[0]["id"] == done["message_id"]
        assert stored[0]["judge_provider"] == "claude" and stored[0]["provider"] == "fuse"
        assert list(stored[0]["fused_from"]) == done["fused_from"]
        assert stored[0]["content"] == done["content"] and stored[0]["run"] == 0

        state = await turn_state(client, turn["turn_id"])
        assert [p["provider"] for p in state["providers"]] == THREE
        assert state["fusion"]["message_id"] == done["message_id"]
        assert state["fusion"]["judge"] == "claude"
        assert state["fusion"]["content"] == done["content"]
        cid = turn["conversation_id"]
        conversation = (await client.get(f"{API}/conversations/{cid}")).json()
        fused = [m for m in conversation["messages"] if m["kind"] == "fuse"]
        assert len(fused) == 1 and fused[0]["fused_from"] == done["fused_from"]
        assert fused[0]["judge"] == "claude" and fused[0]["provider"] == "fuse"
        markdown = (await client.get(f"{API}/conversations/{cid}/export")).text
        assert "### Fused by Claude" in markdown
        exported = (await client.get(f"{API}/conversations/{cid}/export?format=json")).json()
        assert exported["turns"][0]["answers"][-1]["kind"] == "fuse"
    server.stop()

    # Another process, after a restart: the replay has the fusion's done, with its id; a
    # second fusion (with a pinned model, of two answers) reopens the turn from the record.
    second = gateways.start()
    async with httpx.AsyncClient(base_url=second.url, timeout=30) as client:
        status, replay = await read_events(client, f"{API}/turns/{turn['turn_id']}/events")
        assert status == 200
        assert [e.name for e in replay.events] == ["turn", "done", "done", "done", "done", "end"]
        assert replay.events[0].data["providers"] == [
            {"provider": p, "model": dones[p]["model"], "simulated": True} for p in THREE
        ]
        assert replay.events[-2].data == done and replay.events[-2].id == run.events[-2].id
        assert replay.events[-1].id == run.events[-1].id

        again = await fuse(
            client, turn["turn_id"], model="chatgpt:gpt-5.5", answers=["gemini", "claude"]
        )
        assert again.status_code == 202, again.text
        status, rerun = await read_events(client, again.json()["events_url"])
        assert rerun.events[0].id == run.events[-1].id + 1
        later = rerun.done("fuse")
        assert later["judge"] == "chatgpt" and later["model"] == "gpt-5.5"
        assert later["fused_from"] == [dones["claude"]["message_id"], dones["gemini"]["message_id"]]
        state = await turn_state(client, turn["turn_id"])
        assert state["fusion"]["message_id"] == later["message_id"]  # the latest is the one used
        runs = await rows(
            database_url,
            "SELECT run FROM messages WHERE turn_id = $1 AND kind = 'fuse' ORDER BY id",
            turn["turn_id"],
        )
        assert [r["run"] for r in runs] == [0, 1]


async def test_fuse_refuses_what_it_cannot_do(gateways, sim, monkeypatch):
    monkeypatch.setenv("CHATGPT_MAX_ATTEMPTS", "1")
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        failing = "chatgpt:gpt-5.5+fault=status,status=400"
        turn, _ = await finished_turn(client, {"prompt": "refuse", "models": ["claude", failing]})
        turn_id = turn["turn_id"]
        missing = await fuse(client, "AAAAAAAAAAAAAAAAAAAAAA", model="claude")
        assert missing.status_code == 404
        for body in (
            {"model": "nobody"},
            {"model": "claude:bad model"},
            {"model": "claude", "answers": ["grok"]},
            {"model": "claude", "answers": []},
            {"model": "claude", "answers": ["claude", "claude"]},
            {},
            {"model": "claude", "extra": 1},
            {"model": "claude", "instructions": 5},
        ):
            refused = await fuse(client, turn_id, **body)
            assert refused.status_code == 422, (body, refused.text)
        failed = await fuse(client, turn_id, model="claude", answers=["chatgpt"])
        assert failed.status_code == 409 and "chatgpt" in failed.json()["error"]["message"]

        # One fusion at a time: a second while the first streams is refused.
        slow = await fuse(client, turn_id, model="claude:claude-sonnet-5+tokens=200,gap=20")
        assert slow.status_code == 202, slow.text
        busy = await fuse(client, turn_id, model="claude")
        assert busy.status_code == 409 and busy.json()["error"]["type"] == "conflict"
        _, run = await read_events(client, slow.json()["events_url"])
        assert len(run.done("fuse")["fused_from"]) == 1  # only the complete answer
        assert [e.name for e in run.events].count("end") == 1

        # No complete answer at all: nothing to fuse.
        nothing, _ = await finished_turn(client, {"prompt": "none", "models": [failing]})
        empty = await fuse(client, nothing["turn_id"], model="claude")
        assert empty.status_code == 409


async def test_a_blind_turn_is_fused_only_after_its_vote(gateways, sim):
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        made = await client.post(f"{API}/conversations/", json={"title": "b", "blind": True})
        cid = made.json()["id"]
        turn, first = await finished_turn(
            client, {"prompt": "blind", "conversation_id": cid, "models": ["claude", "gemini"]}
        )
        early = await fuse(client, turn["turn_id"], model="claude")
        assert early.status_code == 409 and "vote" in early.json()["error"]["message"]
        vote = await client.post(f"{API}/turns/{turn['turn_id']}/vote", json={"winner": "A"})
        assert vote.status_code == 201, vote.text
        by_label = await fuse(client, turn["turn_id"], model="claude", answers=["A", "B"])
        assert by_label.status_code == 202, by_label.text
        _, run = await read_events(client, by_label.json()["events_url"])
        assert run.done("fuse")["status"] == "complete"
        judge_prompt = sent_thread(sim.requests("anthropic")[-1]["body"])[0][1]
        assert '<answer source="Answer A">' in judge_prompt  # the judge is kept blind too
        assert '<answer source="Answer B">' in judge_prompt


async def test_fused_policy_continues_from_the_fused_answer(gateways, sim):
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        made = await client.post(
            f"{API}/conversations/", json={"title": "f", "context_policy": "fused"}
        )
        assert made.status_code == 201 and made.json()["context_policy"] == "fused"
        cid = made.json()["id"]
        both = ["claude", "chatgpt"]
        one, _ = await finished_turn(
            client, {"prompt": "one", "conversation_id": cid, "models": both}
        )
        started = await fuse(client, one["turn_id"], model="gemini")
        assert started.status_code == 202
        _, run = await read_events(client, started.json()["events_url"])
        fused = run.done("fuse")["content"]
        two, _ = await finished_turn(
            client, {"prompt": "two", "conversation_id": cid, "models": both}
        )
        for provider in both:
            thread = sent_thread(sim.requests(flavour(provider))[-1]["body"])
            assert thread == [("user", "one"), ("assistant", fused), ("user", "two")], provider
        # A turn never fused: each provider's own answer, as under isolated.
        await finished_turn(client, {"prompt": "three", "conversation_id": cid, "models": both})
        thread = sent_thread(sim.requests("anthropic")[-1]["body"])
        assert thread[2:] == [
            ("user", "two"),
            ("assistant", expected_answer("anthropic", "two", 12)),
            ("user", "three"),
        ]
        assert two["turn_id"]


async def test_fuse_while_the_turn_runs_comes_before_its_one_end(gateways, sim):
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        slow = "claude:claude-sonnet-5+tokens=150,gap=20"
        turn = await create_turn(client, {"prompt": "while", "models": [slow, "chatgpt"]})
        replies: list[httpx.Response] = []
        events = []
        async with client.stream("GET", turn["events_url"]) as response:
            stream = Stream()
            async for event in iter_events(response, stream):
                events.append(event)
                if event.name == "done" and event.data["provider"] == "chatgpt" and not replies:
                    replies.append(await fuse(client, turn["turn_id"], model="gemini"))
                    replies.append(await fuse(client, turn["turn_id"], model="gemini"))
        accepted, busy = replies
        assert accepted.status_code == 202, accepted.text
        assert busy.status_code == 409, busy.text
        names = [e.name for e in events]
        assert names.count("end") == 1 and names[-1] == "end"
        done = stream.done("fuse")
        assert done["status"] == "complete" and done["judge"] == "gemini"
        chatgpt = stream.done("chatgpt")["message_id"]
        assert done["fused_from"] == [chatgpt]  # claude was still answering
        assert events[-1].data["statuses"] == {
            "claude": "complete",
            "chatgpt": "complete",
            "fuse": "complete",
        }


async def test_the_blocking_chat_answers_only_the_asked_providers(gateways, sim, database_url):
    """POST /chat/ is one entry per asked provider: a fusion asked while it waits is not one.
    Claude never answers by itself (its first token would come in an hour), so the fusion is
    done while /chat/ still waits, whatever the machine's pace; a cancel then lets it return."""
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as client:
        body = {"prompt": "block", "models": ["claude:claude-sonnet-5+ttft=3600000", "chatgpt"]}
        blocking = asyncio.create_task(client.post(f"{API}/chat/", json=body))
        running = await eventually(
            lambda: rows(database_url, "SELECT id FROM turns WHERE status = 'running'")
        )
        turn_id = running[0]["id"]
        stream = Stream()
        async with client.stream("GET", f"{API}/turns/{turn_id}/events") as response:
            async for event in iter_events(response, stream):
                if event.name != "done":
                    continue
                if event.data["provider"] == "chatgpt":
                    started = await fuse(client, turn_id, model="gemini")
                    assert started.status_code == 202, started.text
                elif event.data["provider"] == "fuse":
                    assert not blocking.done()
                    cancel = {"providers": ["claude"]}
                    cancelled = await client.post(f"{API}/turns/{turn_id}/cancel", json=cancel)
                    assert cancelled.status_code == 200, cancelled.text
        assert stream.done("fuse")["status"] == "complete"
        reply = await blocking
    assert reply.status_code == 200, reply.text
    answered = {item["provider"]: item["status"] for item in reply.json()["responses"]}
    assert answered == {"claude": "cancelled", "chatgpt": "complete"}


async def test_a_takeover_keeps_a_fusion_stored_before_its_done_was_sent(gateways, database_url):
    """The owner stored the fusion and died before its done reached the stream: the process
    that takes the turn over sees a fusion's start with no done, and must not add a failed row
    that would hide the complete one. (The turn is made running again by SQL: the few
    milliseconds between the row and the done cannot be hit with a real kill.)"""
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        turn, _ = await finished_turn(client, {"prompt": "fused, then died", "models": ["claude"]})
        started = (await fuse(client, turn["turn_id"], model="gemini")).json()
        status, run = await read_events(client, started["events_url"])
    assert status == 200 and run.done("fuse")["status"] == "complete"
    done = run.done("fuse")
    connection = await asyncpg.connect(database_url)
    try:
        turn_id = turn["turn_id"]
        await connection.execute("UPDATE turns SET status = 'running' WHERE id = $1", turn_id)
        await Q.take_over_turn.fetch(
            connection,
            id=turn_id,
            providers=[],
            contents=[],
            thinkings=[],
            done_event_ids="{}",
            end_event_id=run.events[-1].id + 1,
            fusion_judge="gemini",
            fusion_model=done["model"],
            fused_from=done["fused_from"],
            fusion_content=run.text("fuse")[:5],
            fusion_thinking=None,
        )
        fusions = await connection.fetch(
            "SELECT run, status FROM messages WHERE turn_id = $1 AND provider = 'fuse'", turn_id
        )
    finally:
        await connection.close()
    assert [(row["run"], row["status"]) for row in fusions] == [(0, "complete")]
