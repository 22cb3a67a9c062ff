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

from tests.support.cluster import RedisServer
from tests.support.gateway_process import GatewayProcess
from tests.support.sse_client import Stream, check_invariants, iter_events
from tests.support.turn_helpers import API, answers, rows

PROVIDERS = ["claude", "gemini"]


@pytest.fixture
def pair(tmp_path, database_url, sim):
    redis = RedisServer(tmp_path).start()
    env = {"DATABASE_URL": database_url, "SIMULATOR_URL": sim.url, "REDIS_URL": redis.url}
    gateways = [GatewayProcess(tmp_path, env) for _ in range(2)]
    try:
        yield [gateway.wait_ready() for gateway in gateways]
    finally:
        for gateway in gateways:
            gateway.stop()
        redis.stop()


async def read(client: httpx.AsyncClient, url: str, on_event=None) -> Stream:
    stream = Stream()
    async with client.stream("GET", url) as response:
        assert response.status_code == 200
        async for event in iter_events(response, stream):
            if on_event is not None:
                await on_event(event, stream)
    return stream


async def test_a_remote_listener_lives_through_fifteen_seconds_of_silence(pair):
    owner, other = pair
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


async def test_a_killed_owners_turn_is_finished_elsewhere_with_all_it_had_sent(pair, database_url):
    owner, other = pair
    async with httpx.AsyncClient(timeout=60) as client:
        body = {
            "prompt": "die",
            "models": [f"{p}:{m}+tokens=400,gap=25" for p, m in
                       (("claude", "claude-sonnet-5"), ("gemini", "gemini-3.5-flash"))],
        }  # fmt: skip
        created = (await client.post(f"{owner.url}{API}/turns", json=body)).json()
        turn_id = created["turn_id"]

        async def kill_after_40_deltas(event, stream: Stream) -> None:
            if event.name == "delta" and len(stream.named("delta")) == 40:
                owner.signal(signal.SIGKILL)

        url = f"{other.url}{API}/turns/{turn_id}/events"
        try:
            stream = await asyncio.wait_for(read(client, url, kill_after_40_deltas), 60)
        except (TimeoutError, httpx.HTTPError) as error:
            raise AssertionError(f"{error!r}\n{other.output()[-8000:]}") from None
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


async def test_reasoning_shown_before_the_owner_died_is_stored(pair, database_url):
    """Killed while its models still think: the reasoning its listeners were shown is what is
    stored, as the answer text is."""
    owner, other = pair
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
