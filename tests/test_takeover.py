"""Two gateways with their default settings, sharing PostgreSQL and Redis (issue #23 points 1
and 2): a remote listener lives through a long silence, and when the process that runs a turn
is killed, the other one finishes it from what its listeners were sent.

(How fast the takeover is, under 100 running turns, is measured by ``multichat bench
takeover``: tests assert what happens, not how long it takes.)
"""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest
import redis.asyncio as aioredis

from gateway.bus.wire import stream_key
from tests.support.cluster import expire_stream
from tests.support.sse_client import Stream, check_invariants, iter_events
from tests.support.turn_helpers import API, answer_runs, answers, eventually, rows

PROVIDERS = ["claude", "gemini"]


async def read(client: httpx.AsyncClient, url: str, on_event=None) -> Stream:
    stream = Stream()
    async with client.stream("GET", url) as response:
        assert response.status_code == 200
        async for event in iter_events(response, stream):
            if on_event is not None:
                await on_event(event, stream)
    return stream


async def read_while_the_owner_dies(client: httpx.AsyncClient, owner, other, url: str) -> Stream:
    """Follow ``url`` on the other process and SIGKILL the owner at the 40th delta: what that
    listener gets, the other process having taken the turn over."""

    async def kill_after_40_deltas(event, stream: Stream) -> None:
        if event.name == "delta" and len(stream.named("delta")) == 40:
            owner.signal(signal.SIGKILL)

    try:
        return await asyncio.wait_for(read(client, f"{other.url}{url}", kill_after_40_deltas), 60)
    except (TimeoutError, httpx.HTTPError) as error:
        raise AssertionError(f"{error!r}\n{other.output()[-8000:]}") from None


async def reopened_turn(
    client: httpx.AsyncClient, owner, redis_url: str, action: str, body: dict, expired: bool
) -> tuple[str, Stream]:
    """A claude and chatgpt turn run to its end on the owner, its Redis stream deleted first if
    ``expired``, then reopened by ``POST …/{action}`` (retry, fuse) with ``body``, its stream
    holding the new run: (the turn's id, its first run as read)."""
    asked = {"prompt": f"{action}, then die", "models": ["claude", "chatgpt"]}
    turn_id = (await client.post(f"{owner.url}{API}/turns", json=asked)).json()["turn_id"]
    first = await read(client, f"{owner.url}{API}/turns/{turn_id}/events")
    redis = aioredis.from_url(redis_url)
    try:
        if expired:
            await expire_stream(redis, turn_id, first.events[-1].id)
        reopened = await client.post(f"{owner.url}{API}/turns/{turn_id}/{action}", json=body)
        assert reopened.status_code == 202, reopened.text
        # What the other process follows is the stream: once the new run is in it.
        await eventually(lambda: redis.exists(stream_key(turn_id)))
    finally:
        await redis.aclose()
    return turn_id, first


async def test_a_remote_listener_lives_through_fifteen_seconds_of_silence(gateway_pair):
    owner, other = gateway_pair
    async with httpx.AsyncClient(timeout=60) as client:
        # A first token after 15 s: nothing is published for longer than any socket timeout
        # redis-py ever had by default.
        body = {"prompt": "think first", "models": ["claude:claude-sonnet-5+tokens=20,ttft=15000"]}
        created = (await client.post(f"{owner.url}{API}/turns", json=body)).json()
        stream = await read(client, f"{other.url}{API}/turns/{created['turn_id']}/events")
    check_invariants(stream, ["claude"])
    assert stream.done("claude")["status"] == "complete"
    assert len(stream.named("delta")) >= 20, "every token, through the one connection"
    assert "lost the streams" not in other.output()


async def test_a_killed_owners_turn_is_finished_elsewhere_with_all_it_had_sent(
    gateway_pair, database_url
):
    owner, other = gateway_pair
    async with httpx.AsyncClient(timeout=60) as client:
        body = {
            "prompt": "die",
            "models": [f"{p}:{m}+tokens=400,gap=25" for p, m in
                       (("claude", "claude-sonnet-5"), ("gemini", "gemini-3.5-flash"))],
        }  # fmt: skip
        created = (await client.post(f"{owner.url}{API}/turns", json=body)).json()
        turn_id = created["turn_id"]

        url = f"{API}/turns/{turn_id}/events"
        stream = await read_while_the_owner_dies(client, owner, other, url)
    names = [e.name for e in stream.events]
    assert names.count("done") == 2 and names[-1] == "end", names[-5:]
    check_invariants(stream, PROVIDERS)
    stored = await answers(database_url, turn_id)
    for provider in PROVIDERS:
        done = stream.done(provider)
        assert done["error"]["type"] == "interrupted"
        assert "what its listeners were sent" in done["error"]["message"], "the fast path"
        # Nothing the listener was shown is lost: the stored text is all of it.
        assert done["content"] == stream.text(provider) == stored[provider]["content"]
    assert sum(len(stream.text(p)) for p in PROVIDERS) > 0
    assert "took over 1 turn(s)" in other.output()


async def test_reasoning_shown_before_the_owner_died_is_stored(gateway_pair, database_url):
    """Killed while its models still think: the reasoning its listeners were shown is what is
    stored, as the answer text is."""
    owner, other = gateway_pair
    async with httpx.AsyncClient(timeout=60) as client:
        body = {
            "prompt": "think, then die",
            "models": ["claude:claude-sonnet-5+tokens=50,thinking=200,gap=25"],
            "params": {"reasoning": "high"},
        }
        created = (await client.post(f"{owner.url}{API}/turns", json=body)).json()

        async def kill_while_thinking(event, stream: Stream) -> None:
            if event.name == "thinking" and len(stream.named("thinking")) == 30:
                owner.signal(signal.SIGKILL)

        url = f"{other.url}{API}/turns/{created['turn_id']}/events"
        try:
            stream = await asyncio.wait_for(read(client, url, kill_while_thinking), 60)
        except (TimeoutError, httpx.HTTPError) as error:
            raise AssertionError(f"{error!r}\n{other.output()[-8000:]}") from None
    shown = "".join(e.data["text"] for e in stream.named("thinking"))
    assert len(stream.named("thinking")) >= 30 and not stream.named("delta")
    done = stream.done("claude")
    assert done["error"]["type"] == "interrupted"
    stored = await rows(
        database_url,
        "SELECT thinking FROM messages WHERE turn_id = $1 AND role = 'assistant'",
        created["turn_id"],
    )
    assert done["thinking"] == shown == stored[0]["thinking"]


@pytest.mark.parametrize("stream_expired", [False, True], ids=["fresh", "expired"])
async def test_a_killed_owners_fusion_is_stored_with_all_it_had_sent(
    gateway_pair, database_url, redis_server, stream_expired
):
    """A fusion is a leg like a provider's: killed mid-stream, it is stored as the providers'
    answers are (failed, interrupted, with the text its listeners were shown), with its judge,
    model and sources, and a listener on the other process gets its done and the turn's end.

    ``expired``: the finished turn's stream was gone from Redis (its retention ran out) when it
    was fused: the owner starts it again with the turn's history, so the other process follows
    the fusion all the same, and the providers' dones keep their ids."""
    owner, other = gateway_pair
    async with httpx.AsyncClient(timeout=60) as client:
        judge = {"model": "gemini:gemini-3.5-flash+tokens=400,gap=25"}
        turn_id, first = await reopened_turn(
            client, owner, redis_server.url, "fuse", judge, stream_expired
        )
        end = first.events[-1].id

        resumed = f"{API}/turns/{turn_id}/events?last_event_id={end}"
        stream = await read_while_the_owner_dies(client, owner, other, resumed)
        replay = await read(client, f"{other.url}{API}/turns/{turn_id}/events")
    names = [e.name for e in stream.events]
    assert names[-2:] == ["done", "end"] and names.count("done") == 1, names[-5:]
    assert "start" in names and stream.events[0].id == end + 1
    done = stream.done("fuse")
    assert done["status"] == "failed" and done["error"]["type"] == "interrupted"
    assert "what its listeners were sent" in done["error"]["message"]
    assert done["judge"] == "gemini" and done["model"] == "gemini-3.5-flash+tokens=400,gap=25"
    sources = [first.done(p)["message_id"] for p in ("claude", "chatgpt")]
    assert done["fused_from"] == sources and len(done["content"]) > 0
    assert done["content"] == stream.text("fuse")
    assert stream.events[-1].data["statuses"] == {
        "claude": "complete",
        "chatgpt": "complete",
        "fuse": "failed",
    }
    stored = await rows(
        database_url,
        "SELECT id, kind, model, judge_provider, fused_from, status, content, error_type, "
        "error_message, run FROM messages WHERE turn_id = $1 AND provider = 'fuse'",
        turn_id,
    )
    assert len(stored) == 1
    row = stored[0]
    assert (row["kind"], row["status"], row["error_type"]) == ("fuse", "failed", "interrupted")
    assert row["judge_provider"] == "gemini" and row["model"] == done["model"]
    assert list(row["fused_from"]) == sources and row["run"] == 0
    assert row["content"] == done["content"] and row["id"] == done["message_id"]
    # The record replays every done and the end at the ids they had on the wire.
    dones = [e.id for e in replay.events if e.name == "done"]
    assert dones == [e.id for e in first.events if e.name == "done"] + [stream.events[-2].id]
    assert replay.events[-1].name == "end" and replay.events[-1].id == stream.events[-1].id
    assert "took over 1 turn(s)" in other.output()


@pytest.mark.parametrize("stream_expired", [False, True], ids=["fresh", "expired"])
async def test_a_killed_owners_retry_is_stored_as_its_new_run(
    gateway_pair, database_url, redis_server, stream_expired
):
    """A retry is a new run of an answer that already has a row: killed mid-stream, it is
    stored as that new run (failed, interrupted, with the text its listeners were shown), the
    earlier run stays as it was, and every listener gets the retry's done and the end.

    ``expired``: the finished turn's stream was gone from Redis when it was retried (the owner
    starts it again with the turn's history: the other process follows the retry all the
    same)."""
    owner, other = gateway_pair
    async with httpx.AsyncClient(timeout=60) as client:
        slow = {"providers": ["claude:claude-sonnet-5+tokens=400,gap=25"]}
        turn_id, first = await reopened_turn(
            client, owner, redis_server.url, "retry", slow, stream_expired
        )
        end = first.events[-1].id

        resumed = f"{API}/turns/{turn_id}/events?last_event_id={end}"
        stream = await read_while_the_owner_dies(client, owner, other, resumed)
        replay = await read(client, f"{other.url}{API}/turns/{turn_id}/events")
        state = await client.get(f"{other.url}{API}/turns/{turn_id}")
    names = [e.name for e in stream.events]
    assert names[-2:] == ["done", "end"] and names.count("done") == 1, names[-5:]
    assert stream.events[0].id == end + 1 and len(stream.named("delta")) >= 40
    done = stream.done("claude")
    assert done["status"] == "failed" and done["error"]["type"] == "interrupted"
    assert "what its listeners were sent" in done["error"]["message"]
    assert len(done["content"]) > 0
    assert done["content"] == stream.text("claude")
    assert stream.events[-1].data["statuses"] == {"claude": "failed", "chatgpt": "complete"}
    by_run = await answer_runs(database_url, turn_id)
    assert sorted(by_run) == [("chatgpt", 0), ("claude", 0), ("claude", 1)]
    before = by_run["claude", 0]
    assert (before["status"], before["id"]) == ("complete", first.done("claude")["message_id"])
    cut = by_run["claude", 1]
    assert (cut["status"], cut["error_type"]) == ("failed", "interrupted")
    assert cut["id"] == done["message_id"] and cut["content"] == done["content"]
    assert cut["model"] == "claude-sonnet-5+tokens=400,gap=25"
    # The record replays the retry's done (not the earlier run's) and the end at their ids.
    replayed = {e.data["provider"]: e for e in replay.events if e.name == "done"}
    assert replayed["claude"].id == stream.events[-2].id
    assert replayed["claude"].data["message_id"] == cut["id"]
    assert replayed["chatgpt"].id == next(
        e.id for e in first.events if e.name == "done" and e.data["provider"] == "chatgpt"
    )
    assert replay.events[-1].name == "end" and replay.events[-1].id == stream.events[-1].id
    # GET /turns/{id}: both runs, and the history keeps the earlier, complete one.
    assert state.status_code == 200, state.text
    (claude,) = [p for p in state.json()["providers"] if p["provider"] == "claude"]
    assert [(r["run"], r["status"], r["message_id"]) for r in claude["runs"]] == [
        (0, "complete", before["id"]),
        (1, "failed", cut["id"]),
    ]
    assert claude["run"] == 0
