"""Blind turns and votes, on a real gateway with the five simulated providers (README "Arena")."""

from __future__ import annotations

import asyncio
import string

import httpx
import orjson
import pytest
import redis.asyncio as aioredis

from gateway.bus import stream_key
from providers import PROVIDERS
from tests.support.arena_helpers import identity_keys, leaked_names
from tests.support.cluster import RedisServer
from tests.support.gateways import start_gateway
from tests.support.keys import bearer
from tests.support.sse_client import Event, Stream, check_invariants, iter_events
from tests.support.turn_helpers import API, create_turn, eventually, read_events, turn_state

# One token each: the simulators' answers start "Simulated <flavour> answer", so a one-token
# answer ("Simulated") lets the whole raw stream be searched for names. Grok fails: its error
# must not tell either.
BLIND_MODELS = [
    "claude:claude-sonnet-5+tokens=1",
    "chatgpt:gpt-5.5+tokens=1",
    "gemini:gemini-3.5-flash+tokens=1",
    "grok:grok-4.3+fault=status,status=400",
    "perplexity:sonar-pro+tokens=1",
]
PINNED = [entry.split(":", 1)[1] for entry in BLIND_MODELS]


async def raw_stream(client: httpx.AsyncClient, method: str, url: str, **kwargs) -> bytes:
    async with client.stream(method, url, **kwargs) as response:
        assert response.status_code == 200, await response.aread()
        return await response.aread()


def parse(raw: bytes) -> Stream:
    """The events of a whole raw stream."""
    events = []
    for block in raw.decode().split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and line[0] != ":"
        )
        if "event" in fields:
            events.append((int(fields["id"]), fields["event"], orjson.loads(fields["data"])))
    stream = Stream()
    stream.events = [Event(i, name, data) for i, name, data in events]
    return stream


def assert_blind(raw: bytes, labels: int = 5) -> Stream:
    assert leaked_names(raw.decode(), PINNED) == [], raw.decode()
    stream = parse(raw)
    if stream.named("delta"):  # a replay from the database has none: its dones say it all
        check_invariants(stream, list(string.ascii_uppercase[:labels]))
    for event in stream.events:
        assert identity_keys(event.data) == set(), (event.name, event.data)
    (turn,) = stream.named("turn")
    assert turn.data["blind"] is True
    assert turn.data["providers"] == [{"label": c} for c in string.ascii_uppercase[:labels]]
    assert {e.data["label"] for e in stream.named("done")} == set(string.ascii_uppercase[:labels])
    assert set(stream.named("end")[0].data["statuses"]) == set(string.ascii_uppercase[:labels])
    return stream


async def test_a_blind_stream_gives_away_nothing_until_the_vote(stream_client, database_url, sim):
    raw = await raw_stream(
        stream_client,
        "POST",
        f"{API}/chat/stream",
        json={"prompt": "who are you?", "models": BLIND_MODELS, "blind": True},
    )
    stream = assert_blind(raw)
    statuses = stream.named("end")[0].data["statuses"]
    assert sorted(statuses.values()) == ["complete"] * 4 + ["failed"]
    (failed,) = [e.data for e in stream.named("done") if e.data["status"] == "failed"]
    assert failed["error"]["type"] and failed["error"]["status_code"] == 400
    turn_id = stream.named("turn")[0].data["turn_id"]
    conversation_id = stream.named("turn")[0].data["conversation_id"]

    # Replayed from memory: the same blind bytes. From PostgreSQL (another gateway, which has
    # no memory of the turn, as after a restart): blind as well.
    replayed = await raw_stream(stream_client, "GET", f"{API}/turns/{turn_id}/events")
    assert replayed.split(b"\n\n", 1)[1] == raw.split(b"\n\n", 1)[1]
    other = start_gateway(database_url, sim.url)
    try:
        async with httpx.AsyncClient(base_url=other.url, timeout=30) as elsewhere:
            url = f"{API}/turns/{turn_id}/events"
            async with elsewhere.stream("GET", url) as response:
                assert response.headers["x-multichat-source"] == "database"
                from_database = await response.aread()
            assert [e.name for e in assert_blind(from_database).events] == (
                ["turn"] + ["done"] * 5 + ["end"]
            )
            hidden = await turn_state(elsewhere, turn_id)
            assert identity_keys(hidden) == set() and hidden["blind"] is True
    finally:
        other.stop()
    state = await turn_state(stream_client, turn_id)
    assert state["blind"] is True and state["vote"] is None
    assert [p["label"] for p in state["providers"]] == list("ABCDE")
    assert identity_keys(state) == set() and leaked_names(orjson.dumps(state).decode()) == []
    conversation = (await stream_client.get(f"{API}/conversations/{conversation_id}")).json()
    answers = [m for m in conversation["messages"] if m["role"] == "assistant"]
    assert sorted(m["label"] for m in answers) == list("ABCDE")
    assert identity_keys(conversation["messages"]) == set()
    assert leaked_names(orjson.dumps(conversation["messages"]).decode(), PINNED) == []

    winner = next(e.data["label"] for e in stream.named("done") if e.data["status"] == "complete")
    vote = await stream_client.post(f"{API}/turns/{turn_id}/vote", json={"winner": winner})
    assert vote.status_code == 201, vote.text
    revealed = {r["label"]: r for r in vote.json()["revealed"]}
    assert sorted(revealed) == list("ABCDE")
    assert sorted(r["provider"] for r in revealed.values()) == sorted(PROVIDERS)
    assert revealed[failed["label"]]["provider"] == "grok"
    state = await turn_state(stream_client, turn_id)
    assert {p["label"]: p["provider"] for p in state["providers"]} == {
        label: r["provider"] for label, r in revealed.items()
    }
    assert state["vote"]["winner"] == winner and state["vote"]["verdict"] == "winner"
    conversation = (await stream_client.get(f"{API}/conversations/{conversation_id}")).json()
    for message in conversation["messages"]:
        if message["role"] == "assistant":
            assert message["provider"] == revealed[message["label"]]["provider"]
            assert message["model"] == revealed[message["label"]]["model"]

    # Labels are drawn per turn: over a few turns, claude is not always A.
    seen = set()
    for _ in range(12):
        body = {"prompt": "again", "models": ["claude", "chatgpt", "gemini"], "blind": True}
        response = await stream_client.post(f"{API}/chat/", json=body)
        assert response.status_code == 200
        assert all(
            r["provider"] is None and r["model"] is None for r in response.json()["responses"]
        )
        turn = response.json()["turn_id"]
        vote = await stream_client.post(f"{API}/turns/{turn}/vote", json={"winner": "tie"})
        seen.add(next(r["label"] for r in vote.json()["revealed"] if r["provider"] == "claude"))
    assert len(seen) > 1, "the labels must be shuffled per turn"


async def test_a_blind_conversation_makes_its_turns_blind(stream_client):
    created = await stream_client.post(
        f"{API}/conversations/", json={"title": "arena", "blind": True}
    )
    assert created.status_code == 201 and created.json()["blind"] is True
    cid = created.json()["id"]
    body = {"prompt": "hello", "conversation_id": cid, "models": BLIND_MODELS[:3]}
    turn = await create_turn(stream_client, body)
    status, stream = await read_events(stream_client, turn["events_url"])
    assert status == 200 and stream.named("turn")[0].data["blind"] is True
    assert {e.data["label"] for e in stream.named("delta")} <= set("ABC")
    # A turn may still say it is not blind; and PATCH turns the conversation's setting off.
    seen = await stream_client.post(f"{API}/chat/", json={**body, "blind": False})
    assert {r["provider"] for r in seen.json()["responses"]} == {"claude", "chatgpt", "gemini"}
    patched = await stream_client.patch(f"{API}/conversations/{cid}", json={"blind": False})
    assert patched.status_code == 200 and patched.json()["blind"] is False
    assert patched.json()["title"] == "arena"
    plain = await stream_client.post(f"{API}/chat/", json=body)
    assert plain.json()["responses"][0]["provider"] is not None


async def test_one_vote_per_turn_and_what_a_vote_may_name(stream_client):
    body = {"prompt": "rank us", "models": BLIND_MODELS[:3], "blind": True}
    turn_id = (await stream_client.post(f"{API}/chat/", json=body)).json()["turn_id"]
    vote_url = f"{API}/turns/{turn_id}/vote"
    for bad, status in (
        ({"winner": "D"}, 422),  # three providers: A, B, C
        ({"winner": "claude"}, 422),
        ({"ranking": ["A", "A"]}, 422),
        ({"ranking": ["A", "Z"]}, 422),
        ({"ranking": []}, 422),
        ({"winner": "A", "ranking": ["A"]}, 422),
        ({}, 422),
        ({"winner": 1}, 422),
    ):
        response = await stream_client.post(vote_url, json=bad)
        assert response.status_code == status, (bad, response.text)
        assert leaked_names(response.text, PINNED) == [] or "claude" in str(bad)  # echoed
    assert (await turn_state(stream_client, turn_id))["vote"] is None, "a refused vote is no vote"
    first = await stream_client.post(vote_url, json={"ranking": ["C", "A"]})
    assert first.status_code == 201, first.text
    assert first.json()["verdict"] == "ranking" and first.json()["winner"] == "C"
    again = await stream_client.post(vote_url, json={"winner": "A"})
    assert again.status_code == 409 and again.json()["error"]["type"] == "already_voted"
    assert (await turn_state(stream_client, turn_id))["vote"]["ranking"] == ["C", "A"]

    unknown = await stream_client.post(f"{API}/turns/{'x' * 22}/vote", json={"winner": "A"})
    assert unknown.status_code == 404
    seen = await stream_client.post(f"{API}/chat/", json={**body, "blind": False})
    open_turn = seen.json()["turn_id"]
    response = await stream_client.post(f"{API}/turns/{open_turn}/vote", json={"winner": "A"})
    assert response.status_code == 409 and response.json()["error"]["type"] == "not_blind"


async def test_a_vote_while_the_stream_is_open_reveals_it_there(stream_client):
    models = [
        "claude:claude-sonnet-5+tokens=1",
        "chatgpt:gpt-5.5+tokens=1",
        "gemini:gemini-3.5-flash+tokens=2000,gap=20",  # still streaming when the vote comes
    ]
    turn = await create_turn(stream_client, {"prompt": "vote now", "models": models, "blind": True})
    stream = Stream()
    revealed = asyncio.Event()

    async def read() -> None:
        async with stream_client.stream("GET", turn["events_url"]) as response:
            async for event in iter_events(response, stream):
                if event.name == "reveal":
                    revealed.set()

    reader = asyncio.create_task(read())
    try:
        await eventually(lambda: len(stream.named("done")) == 2)
        slow = ({"A", "B", "C"} - {e.data["label"] for e in stream.named("done")}).pop()
        winner = stream.named("done")[0].data["label"]
        vote = await stream_client.post(
            f"{API}/turns/{turn['turn_id']}/vote", json={"winner": winner}
        )
        assert vote.status_code == 201, vote.text
        await asyncio.wait_for(revealed.wait(), 30)
        cancel = await stream_client.post(
            f"{API}/turns/{turn['turn_id']}/cancel", json={"providers": [slow]}
        )  # a blind turn's client names labels
        assert cancel.status_code == 200, cancel.text
        await asyncio.wait_for(reader, 30)
    finally:
        reader.cancel()
    names = [e.name for e in stream.events]
    reveal = stream.named("reveal")[0]
    before = stream.events[: names.index("reveal")]
    assert all(identity_keys(e.data) == set() for e in before)
    # (gemini's own words name it: "Simulated gemini answer…"; what the gateway adds must not)
    added = [{k: v for k, v in e.data.items() if k not in ("text", "content")} for e in before]
    assert leaked_names(orjson.dumps(added).decode(), ["+tokens"]) == []
    labels = reveal.data["labels"]
    assert {label: who["provider"] for label, who in labels.items()} == {
        r["label"]: r["provider"] for r in vote.json()["revealed"]
    }
    assert labels[slow]["provider"] == "gemini"
    assert names[-1] == "end" and stream.named("end")[0].data["statuses"][slow] == "cancelled"
    assert [e.data["label"] for e in stream.named("done")][-1] == slow  # still by label


@pytest.mark.cluster
async def test_a_blind_turn_read_and_voted_through_another_worker(tmp_path, database_url, sim):
    redis = RedisServer(tmp_path).start()
    owner = start_gateway(database_url, sim.url, redis_url=redis.url)
    reader = start_gateway(database_url, sim.url, redis_url=redis.url)
    try:
        async with (
            httpx.AsyncClient(base_url=owner.url, timeout=30) as first,
            httpx.AsyncClient(base_url=reader.url, timeout=30) as second,
        ):
            body = {"prompt": "across", "models": BLIND_MODELS, "blind": True}
            turn = await create_turn(first, body)
            client = aioredis.from_url(redis.url)
            try:  # the owner's first round trip to Redis follows its answer to POST /turns
                await eventually(lambda: client.exists(stream_key(turn["turn_id"])))
            finally:
                await client.aclose()
            async with second.stream("GET", turn["events_url"]) as response:
                assert response.headers["x-multichat-source"] == "mirror"
                raw = await response.aread()
            stream = assert_blind(raw)
            assert stream.named("delta"), "the mirror carries the live deltas, by label"

            # Voted on this worker while the owner still streams one answer: the owner
            # publishes the reveal, and the stream read here carries it.
            slow = [*BLIND_MODELS[:2], "gemini:gemini-3.5-flash+tokens=2000,gap=20"]
            turn = await create_turn(first, {"prompt": "slow", "models": slow, "blind": True})
            client = aioredis.from_url(redis.url)
            try:
                await eventually(lambda: client.exists(stream_key(turn["turn_id"])))
            finally:
                await client.aclose()
            live = Stream()

            async def read() -> None:
                async with second.stream("GET", turn["events_url"]) as response:
                    assert response.headers["x-multichat-source"] == "mirror"
                    async for event in iter_events(response, live):
                        if event.name == "reveal":
                            await second.post(f"{API}/turns/{turn['turn_id']}/cancel", json={})

            reader_task = asyncio.create_task(read())
            try:
                await eventually(lambda: len(live.named("done")) == 2)
                vote = await second.post(
                    f"{API}/turns/{turn['turn_id']}/vote", json={"winner": "all_bad"}
                )
                assert vote.status_code == 201, vote.text
                await asyncio.wait_for(reader_task, 30)
            finally:
                reader_task.cancel()
            (reveal,) = live.named("reveal")
            assert {k: v["provider"] for k, v in reveal.data["labels"].items()} == {
                r["label"]: r["provider"] for r in vote.json()["revealed"]
            }
            assert live.events[-1].name == "end"
    finally:
        reader.stop()
        owner.stop()
        redis.stop()


async def test_votes_are_the_owners(keyed_gateway):
    server, keys = keyed_gateway
    alice, bob = bearer(keys["alice"]), bearer(keys["bob"])
    body = {"prompt": "mine", "models": BLIND_MODELS[:2], "blind": True}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        turn_id = (await client.post(f"{API}/chat/", json=body, headers=alice)).json()["turn_id"]
        url = f"{API}/turns/{turn_id}/vote"
        assert (await client.post(url, json={"winner": "A"})).status_code == 401
        assert (await client.post(url, json={"winner": "A"}, headers=bob)).status_code == 404
        assert (await client.post(url, json={"winner": "A"}, headers=alice)).status_code == 201
        board = (await client.get(f"{API}/leaderboard", headers=alice)).json()
        assert board["votes"] == 1 and len(board["standings"]) == 2
        assert (await client.get(f"{API}/leaderboard", headers=bob)).json()["votes"] == 0
        assert (await client.get(f"{API}/leaderboard")).status_code == 401


async def test_a_blind_turn_is_retried_by_label_and_stays_blind(stream_client):
    raw = await raw_stream(
        stream_client,
        "POST",
        f"{API}/chat/stream",
        json={"prompt": "who are you?", "models": BLIND_MODELS, "blind": True},
    )
    stream = assert_blind(raw)
    turn_id = stream.named("turn")[0].data["turn_id"]
    (failed,) = [e.data["label"] for e in stream.named("done") if e.data["status"] == "failed"]

    refused = await stream_client.post(f"{API}/turns/{turn_id}/retry", json={"providers": ["grok"]})
    assert refused.status_code == 422  # a blind turn's retry names labels, not providers
    added = await stream_client.post(f"{API}/turns/{turn_id}/add", json={"providers": ["grok"]})
    assert added.status_code in (409, 422)  # every provider is in it; and nothing is added blind

    retry = await stream_client.post(f"{API}/turns/{turn_id}/retry", json={"providers": [failed]})
    assert retry.status_code == 202, retry.text
    assert retry.json()["providers"] == [failed]
    rerun = await raw_stream(stream_client, "GET", retry.json()["events_url"])
    assert leaked_names(rerun.decode(), PINNED) == [], rerun.decode()
    events = parse(rerun).events
    assert events and all(identity_keys(e.data) == set() for e in events)
    (done,) = [e.data for e in events if e.name == "done"]
    assert done["label"] == failed  # the same label as the answer it retried
    state = await turn_state(stream_client, turn_id)
    assert identity_keys(state) == set() and leaked_names(orjson.dumps(state).decode()) == []
