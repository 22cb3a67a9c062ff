"""Several gateway processes behind a plain round-robin balancer behave as one (issue #12).

Real Redis, PostgreSQL, three gateways and nginx (the shipped docs/nginx.conf). A turn's legs
run on the gateway that created it; its stream can be read, resumed and cancelled through any.
"""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest

from providers.simulators.text import expected_answer
from tests.support.sse_client import Stream, check_invariants, iter_events
from tests.support.turn_helpers import API, answers, eventually, flavour, stitch

pytestmark = pytest.mark.cluster

PROVIDERS = ["claude", "gemini"]


def models(knobs: str) -> list[str]:
    return [f"claude:claude-sonnet-5+{knobs}", f"gemini:gemini-3.5-flash+{knobs}"]


async def read_part(client, url: str, after: int, limit: int | None) -> tuple[int, Stream]:
    """One connection: events after ``after``, at most ``limit`` of them, then a cut."""
    stream = Stream()
    headers = {"last-event-id": str(after)} if after else {}
    async with client.stream("GET", url, headers=headers) as response:
        if response.status_code != 200:
            return response.status_code, stream
        async for _ in iter_events(response, stream):
            if limit is not None and len(stream.events) >= limit:
                break
    return 200, stream


async def read_with_cuts(client, url: str, every: int, max_parts: int = 200) -> Stream:
    """Read a turn's stream to its end, cutting the connection every ``every`` events and
    resuming with Last-Event-ID (each reconnect may reach another gateway)."""
    parts: list[Stream] = []
    after = 0
    for _ in range(max_parts):
        status, part = await read_part(client, url, after, every)
        if status == 204:
            break
        assert status == 200, status
        if part.events:
            parts.append(part)
            after = part.events[-1].id
            if part.events[-1].name == "end":
                break
        else:
            # Nothing new yet: wait before reconnecting, as an EventSource does (its retry).
            await asyncio.sleep(0.1)
    return stitch(*parts)


async def test_eventsource_turns_through_the_balancer_survive_cuts(cluster, sim, database_url):
    prompts = [f"scale {i}" for i in range(20)]
    async with httpx.AsyncClient(base_url=cluster.nginx.url, timeout=30) as client:

        async def one(prompt: str) -> tuple[str, Stream]:
            body = {"prompt": prompt, "models": models("tokens=30,gap=15")}
            created = await client.post(f"{API}/turns", json=body)
            assert created.status_code == 201, created.text
            turn = created.json()
            return prompt, await read_with_cuts(client, turn["events_url"], every=7)

        results = await asyncio.gather(*(one(p) for p in prompts))
    for prompt, stream in results:
        check_invariants(stream, PROVIDERS)
        turn_id = stream.events[0].data["turn_id"]
        stored = await answers(database_url, turn_id)
        for provider in PROVIDERS:
            done = stream.done(provider)
            assert done["status"] == "complete", (done, cluster.outputs())
            assert stream.text(provider) == done["content"] == stored[provider]["content"]
            assert done["content"] == expected_answer(flavour(provider), prompt, 30)
    stats = sim.stats()
    for provider in PROVIDERS:
        assert stats[flavour(provider)]["requests"] == len(prompts), "one upstream call each"


async def test_cancel_through_a_worker_that_does_not_own_the_turn(cluster):
    owner, other = cluster.gateways[0], cluster.gateways[1]
    async with httpx.AsyncClient(timeout=30) as client:
        body = {"prompt": "stop one", "models": models("tokens=400,gap=25")}
        created = (await client.post(f"{owner.url}{API}/turns", json=body)).json()
        url = f"{owner.url}{API}/turns/{created['turn_id']}/events"
        stream = Stream()
        async with client.stream("GET", url) as response:
            async for event in iter_events(response, stream):
                if event.name == "delta" and len(stream.named("delta")) == 4:
                    cancel = await client.post(
                        f"{other.url}{API}/turns/{created['turn_id']}/cancel",
                        json={"providers": ["claude"]},
                    )
                    assert cancel.status_code == 200, cancel.text
                if event.name == "done" and event.data["provider"] == "claude":
                    # About 400 tokens 25 ms apart remained: only the cancel ends it this soon.
                    assert event.data["status"] == "cancelled"
                    gemini_deltas = [
                        e for e in stream.named("delta") if e.data["provider"] == "gemini"
                    ]
                    assert len(gemini_deltas) < 300
                    break


async def test_remote_listeners_hold_the_turn_and_leaving_ends_it(cluster, sim, database_url):
    owner, other = cluster.gateways[0], cluster.gateways[1]
    async with httpx.AsyncClient(timeout=30) as client:
        body = {"prompt": "remote", "models": models("tokens=400,gap=25")}
        created = (await client.post(f"{owner.url}{API}/turns", json=body)).json()
        url = f"{other.url}{API}/turns/{created['turn_id']}/events"
        # Read through the other worker for longer than FIRST_LISTENER_TIMEOUT (3 s: 120
        # deltas per provider): a listener elsewhere counts, so the owner goes on.
        _, part = await read_part(client, url, 0, 300)
        assert not part.named("done"), "the owner cancelled a turn that was being read"
    # Everyone left (through the other worker): after the grace the owner closes upstream.
    turn_id = created["turn_id"]
    stored = await eventually(lambda: answers(database_url, turn_id), within=30)
    await eventually(lambda: len(stored) == 2 or None, within=1)
    assert {p: r["status"] for p, r in stored.items()} == {
        "claude": "cancelled",
        "gemini": "cancelled",
    }
    await eventually(lambda: all(sim.stats()[flavour(p)]["open"] == 0 for p in PROVIDERS))


async def test_killed_owner_remote_listeners_get_dones_and_end(cluster, database_url):
    owner, other = cluster.gateways[0], cluster.gateways[1]
    async with httpx.AsyncClient(timeout=60) as client:
        body = {"prompt": "die", "models": models("tokens=400,gap=25")}
        created = (await client.post(f"{owner.url}{API}/turns", json=body)).json()
        turn_id = created["turn_id"]
        url = f"{other.url}{API}/turns/{turn_id}/events"
        stream = Stream()
        async with client.stream("GET", url) as response:
            async for event in iter_events(response, stream):
                if event.name == "delta" and len(stream.named("delta")) == 40:
                    await eventually(lambda: rows_checkpointed(database_url, turn_id), within=30)
                    owner.signal(signal.SIGKILL)
    # The stream ended by itself: a lease of 3 s ran out, another worker closed the turn.
    names = [e.name for e in stream.events]
    assert names.count("done") == 2 and names[-1] == "end", names[-5:]
    stored = await answers(database_url, turn_id)
    for provider in PROVIDERS:
        done = stream.done(provider)
        assert done["error"]["type"] == "interrupted"
        assert done["content"] == stored[provider]["content"] and done["content"]
        assert stream.text(provider).startswith(done["content"]), "the checkpointed text"


async def rows_checkpointed(database_url: str, turn_id: str) -> bool:
    from tests.support.turn_helpers import rows

    found = await rows(
        database_url, "SELECT provider FROM answer_checkpoints WHERE turn_id = $1", turn_id
    )
    return len(found) == 2


async def test_redis_restarted_mid_turn_every_stream_ends_and_nothing_is_lost(
    cluster, database_url
):
    owner, other = cluster.gateways[0], cluster.gateways[1]
    async with httpx.AsyncClient(timeout=30) as client:
        body = {"prompt": "redis away", "models": models("tokens=120,gap=25")}
        created = (await client.post(f"{owner.url}{API}/turns", json=body)).json()
        turn_id = created["turn_id"]
        remote = f"{other.url}{API}/turns/{turn_id}/events"
        local = f"{owner.url}{API}/turns/{turn_id}/events"
        first_status, first = await read_part(client, remote, 0, 10)
        assert first_status == 200 and first.events
        local_reader = asyncio.create_task(read_part(client, local, 0, None))
        cluster.redis.stop()
        await asyncio.sleep(0.5)  # the outage's length: what the turn must live through
        cluster.redis.start()
        # The owner's own listener goes on from memory to the end.
        status, whole = await asyncio.wait_for(local_reader, 60)
        assert status == 200 and whole.events[-1].name == "end"
        check_invariants(whole, PROVIDERS)
        # A remote client reconnecting keeps getting an answer until its stream has ended.
        rest = await read_with_cuts(client, remote, every=1000)
        resumed = [e for e in rest.events if e.id > first.events[-1].id]
        assert resumed and resumed[-1].name == "end"
    stored = await answers(database_url, turn_id)
    for provider in PROVIDERS:
        assert stored[provider]["status"] == "complete"
        assert stored[provider]["content"] == whole.done(provider)["content"]


async def test_serve_with_workers_just_works_for_eventsource_clients(tmp_path, database_url, sim):
    from tests.support.cluster import RedisServer
    from tests.support.gateway_process import GatewayProcess

    redis = RedisServer(tmp_path).start()
    env = {"DATABASE_URL": database_url, "SIMULATOR_URL": sim.url, "REDIS_URL": redis.url}
    gateway = GatewayProcess(tmp_path, env, args=("--workers", "2"))
    try:
        gateway.wait_ready()
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:

            async def one(prompt: str) -> Stream:
                body = {"prompt": prompt, "models": models("tokens=20,gap=15")}
                turn = (await client.post(f"{API}/turns", json=body)).json()
                return await read_with_cuts(client, turn["events_url"], every=5)

            streams = await asyncio.gather(*(one(f"w{i}") for i in range(8)))
        for stream in streams:
            check_invariants(stream, PROVIDERS)
            assert all(stream.done(p)["status"] == "complete" for p in PROVIDERS)
    finally:
        gateway.stop()
        redis.stop()


def test_workers_without_redis_refuse_to_start(tmp_path, database_url):
    import subprocess

    from tests.support.gateway_process import GatewayProcess

    gateway = GatewayProcess(tmp_path, {"DATABASE_URL": database_url}, args=("--workers", "2"))
    try:
        assert gateway.wait(60) == 2
    except subprocess.TimeoutExpired:
        raise AssertionError("it started") from None
    finally:
        gateway.stop()
    lines = [line for line in gateway.output().splitlines() if line.startswith("multichat:")]
    assert len(lines) == 1 and "REDIS_URL" in lines[0], gateway.output()
