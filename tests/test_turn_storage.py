"""Storing answers: through a database outage in the middle of a turn, and a turn left running
by a crash, which the next gateway marks interrupted and replays."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time

import httpx
import orjson

from providers.simulators.text import expected_answer
from tests.support.sse_client import Stream, check_invariants, iter_events
from tests.support.turn_helpers import (
    API,
    answers,
    create_turn,
    eventually,
    flavour,
    read_events,
    rows,
    sent_thread,
    turn_state,
)


def unavailable_warnings(caplog) -> int:
    return sum(
        1
        for r in caplog.records
        if r.name == "multichat.writer" and r.getMessage().startswith("database unavailable")
    )


async def test_database_outage_in_the_middle_of_a_turn(gateways, private_postgres, sim, caplog):
    embedded, dsn = private_postgres
    caplog.set_level(logging.WARNING, logger="multichat.writer")
    server = gateways.start(database_url=dsn, db_command_timeout=3, disconnect_grace=10)
    prompt = "survive the outage"
    lengths = {"claude": 12, "chatgpt": 20, "gemini": 3}
    body = {
        "prompt": prompt,
        "models": [
            "claude:m+tokens=12,gap=40",
            "chatgpt:m+tokens=20,gap=40",
            "gemini:m+tokens=3,gap=5",  # done before the outage
        ],
    }
    providers = list(lengths)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        turn = await create_turn(client, body)
        arrivals: dict[str, float] = {}
        stream = Stream()
        gemini_done = asyncio.Event()

        async def read() -> None:
            async with client.stream("GET", turn["events_url"]) as response:
                async for event in iter_events(response, stream):
                    if event.name == "done":
                        arrivals[event.data["provider"]] = time.monotonic()
                        if event.data["provider"] == "gemini":
                            gemini_done.set()

        reader = asyncio.create_task(read())
        await asyncio.wait_for(gemini_done.wait(), 30)
        await asyncio.to_thread(embedded.stop_server)
        try:
            # While the database is away: new turns are refused with 503, never a hang or 500;
            # the running turn still answers from memory.
            refused = await client.post(f"{API}/turns", json={"prompt": "later"})
            assert refused.status_code == 503, refused.text
            assert refused.json()["error"]["type"] == "database_unavailable"
            assert (await turn_state(client, turn["turn_id"]))["status"] == "running"
            # Both slow legs end upstream while the database is down ...
            await eventually(
                lambda: all(
                    sim.stats()[flavour(p)]["completed"] == 1 for p in ("claude", "chatgpt")
                ),
            )
            # ... and the writer has tried, and failed, to store them (again, if it was already
            # waiting out the outage with an earlier batch).
            failed = unavailable_warnings(caplog)
            await eventually(lambda: unavailable_warnings(caplog) > failed)
            assert "claude" not in arrivals and "chatgpt" not in arrivals, (
                "a done means the answer is committed: none can arrive while PostgreSQL is down"
            )
        finally:
            back = time.monotonic()
            await asyncio.to_thread(embedded.start_server)
        await asyncio.wait_for(reader, 60)

        check_invariants(stream, providers)
        for provider in providers:
            done = stream.done(provider)
            assert done["status"] == "complete"
            assert done["content"] == expected_answer(flavour(provider), prompt, lengths[provider])
            assert isinstance(done["message_id"], int)
        assert arrivals["claude"] >= back and arrivals["chatgpt"] >= back
        assert (await turn_state(client, turn["turn_id"]))["status"] == "finished"

    counts = await rows(
        dsn,
        "SELECT provider, count(*) AS n, min(id) AS id FROM messages"
        " WHERE turn_id = $1 AND role = 'assistant' GROUP BY provider",
        turn["turn_id"],
    )
    assert {r["provider"]: r["n"] for r in counts} == dict.fromkeys(providers, 1)
    assert {r["provider"]: r["id"] for r in counts} == {
        p: stream.done(p)["message_id"] for p in providers
    }
    (turn_row,) = await rows(dsn, "SELECT * FROM turns WHERE id = $1", turn["turn_id"])
    assert turn_row["status"] == "finished"
    assert turn_row["end_event_id"] == stream.events[-1].id


async def insert_crashed_turn(database_url: str, *, lease: str) -> tuple[str, int]:
    """A turn as a killed gateway leaves it: running, claude's answer stored, chatgpt's not."""
    turn_id = secrets.token_urlsafe(16)
    providers = [
        {"provider": "claude", "model": "claude-sonnet-5", "simulated": True},
        {"provider": "chatgpt", "model": "gpt-5.5", "simulated": True},
    ]
    (conversation,) = await rows(
        database_url, "INSERT INTO conversations (title) VALUES ('crashed') RETURNING id"
    )
    cid = conversation["id"]
    (user,) = await rows(
        database_url,
        "INSERT INTO messages (conversation_id, role, content)"
        " VALUES ($1, 'user', 'before the crash') RETURNING id",
        cid,
    )
    await rows(
        database_url,
        "INSERT INTO turns (id, conversation_id, user_message_id, providers, lease_until)"
        f" VALUES ($1, $2, $3, $4::text::jsonb, now() + interval '{lease}')",
        turn_id,
        cid,
        user["id"],
        orjson.dumps(providers).decode(),
    )
    await rows(database_url, "UPDATE messages SET turn_id = $1 WHERE id = $2", turn_id, user["id"])
    await rows(
        database_url,
        "INSERT INTO messages (conversation_id, turn_id, role, provider, model, status, content)"
        " VALUES ($1, $2, 'assistant', 'claude', 'claude-sonnet-5', 'complete', 'stored answer')",
        cid,
        turn_id,
    )
    return turn_id, cid


async def test_a_turn_left_running_by_a_crash_is_interrupted_at_the_next_start(
    gateways, database_url, sim
):
    crashed, conversation_id = await insert_crashed_turn(database_url, lease="-1 minute")
    elsewhere, _ = await insert_crashed_turn(database_url, lease="1 minute")  # still owned
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        # Start-up already ran the maintenance: no wait, no polling.
        state = await turn_state(client, crashed)
        assert state["status"] == "interrupted"
        assert {p["provider"]: p["status"] for p in state["providers"]} == {
            "claude": "complete",
            "chatgpt": "failed",
        }
        stored = await answers(database_url, crashed)
        assert (stored["chatgpt"]["status"], stored["chatgpt"]["error_type"]) == (
            "failed",
            "interrupted",
        )
        assert stored["claude"]["content"] == "stored answer"

        url = f"{API}/turns/{crashed}/events"
        status, replay = await read_events(client, url)
        assert status == 200
        assert [e.name for e in replay.events] == ["turn", "done", "done", "end"]
        ids = [e.id for e in replay.events]
        assert ids == sorted(set(ids)), ids
        assert replay.done("claude")["content"] == "stored answer"
        assert replay.done("chatgpt")["error"]["type"] == "interrupted"
        assert replay.events[-1].data["statuses"] == {"claude": "complete", "chatgpt": "failed"}
        # A client that saw part of the live stream (any id it could have had) gets the dones
        # and the end, with the same ids every time; one that saw the end is told to stop.
        for live_id in (1, 57, 5000):
            status, rest = await read_events(client, url, after=live_id)
            assert status == 200
            assert [(e.id, e.name) for e in rest.events] == [
                (e.id, e.name) for e in replay.events[1:]
            ]
        status, _ = await read_events(client, url, after=replay.events[-1].id)
        assert status == 204, "an EventSource that saw the end must not get it all over again"

        # A turn whose lease is still valid belongs to a live gateway: left alone.
        assert (await turn_state(client, elsewhere))["status"] == "running"
        status, only_turn = await read_events(client, f"{API}/turns/{elsewhere}/events")
        assert status == 200 and [e.name for e in only_turn.events] == ["turn"]

        # The conversation goes on; chatgpt's interrupted answer is not part of its context.
        response = await client.post(
            f"{API}/chat/",
            json={
                "prompt": "after",
                "conversation_id": conversation_id,
                "models": ["claude", "chatgpt"],
            },
        )
        assert response.status_code == 200, response.text
    claude_thread = sim.requests("anthropic")[-1]["body"]["messages"]
    assert [(m["role"], m["content"]) for m in claude_thread] == [
        ("user", "before the crash"),
        ("assistant", "stored answer"),
        ("user", "after"),
    ]
    assert sent_thread(sim.requests("openai")[-1]["body"]) == [("user", "after")]
