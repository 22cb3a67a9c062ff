"""Disconnects and cancels: upstream requests are closed, partial answers are stored as
cancelled, the turn's end is recorded; a reconnect within the grace period keeps it alive."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from providers.simulators.text import expected_answer
from tests.support.credentials import AUTHORIZATION
from tests.support.sse_client import Stream, check_invariants, iter_events
from tests.support.turn_helpers import (
    API,
    answers,
    create_turn,
    deltas_of,
    eventually,
    flavour,
    metric,
    read_events,
    stitch,
    turn_state,
)

# Far from every stream's natural length (20 s and more below): an upstream counted as aborted
# was closed by the grace running out, not by its end. No test measures how long that took.
GRACE = 0.3
PROVIDERS = ["claude", "chatgpt", "gemini"]


async def no_listener(client: httpx.AsyncClient) -> bool:
    return await metric(client, "multichat_listeners") == 0


def models(knobs: str) -> list[str]:
    return [f"{p}:m+{knobs}" for p in PROVIDERS]


def upstreams_closed(sim, providers=PROVIDERS):
    """Every leg's upstream request was closed by the gateway (open 0, aborted counted)."""

    def check() -> bool:
        stats = sim.stats()
        return all(
            stats[flavour(p)]["open"] == 0 and stats[flavour(p)]["aborted"] == 1 for p in providers
        )

    return check


async def assert_cancelled_and_recorded(client, database_url, turn_id, seen, providers=PROVIDERS):
    state = await eventually(lambda: _state_if_finished(client, turn_id), interval=0.05)
    assert {p["provider"]: p["status"] for p in state["providers"]} == dict.fromkeys(
        providers, "cancelled"
    )
    stored = await answers(database_url, turn_id)
    for provider in providers:
        row = stored[provider]
        assert row["status"] == "cancelled"
        # What arrived upstream: at least everything the client saw, never less.
        assert row["content"].startswith(seen.text(provider)), (provider, row["content"])
    return stored


async def _state_if_finished(client, turn_id):
    state = await turn_state(client, turn_id)
    return state if state["status"] == "finished" else None


@pytest.mark.parametrize(
    ("case", "knobs", "stop"),
    [
        ("before upstream headers", "headers_delay=20000", "turn"),
        ("before the first token", "ttft=20000", "start"),
        ("mid-stream", "tokens=500,gap=40", "deltas"),  # 20 s of stream
    ],
)
async def test_disconnect_cancels_every_leg_after_the_grace(
    gateways, database_url, sim, case, knobs, stop
):
    server = gateways.start(disconnect_grace=GRACE)
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        turn = await create_turn(client, {"prompt": case, "models": models(knobs)})

        def enough(event, stream) -> bool:
            if stop == "turn":
                return event.name == "turn"
            if stop == "start":
                return len(stream.named("start")) == len(PROVIDERS)
            return all(stream.text(p) for p in PROVIDERS) and len(stream.named("delta")) >= 6

        _, seen = await read_events(client, turn["events_url"], stop=enough)
        # Aborted, not completed: closed after the grace, long before the 20 s natural end.
        await eventually(upstreams_closed(sim))
        stored = await assert_cancelled_and_recorded(client, database_url, turn["turn_id"], seen)
        if stop != "deltas":
            assert all(stored[p]["content"] == "" for p in PROVIDERS)
        else:
            assert all(stored[p]["content"] for p in PROVIDERS)

        # A client that comes back later finds the rest: the cancelled dones and the end.
        status, rest = await read_events(client, turn["events_url"], after=seen.events[-1].id)
        assert status == 200
        whole = stitch(seen, rest)
        check_invariants(whole, PROVIDERS)
        for provider in PROVIDERS:
            done = whole.done(provider)
            assert (done["status"], done["content"]) == ("cancelled", stored[provider]["content"])
            assert done["message_id"] == stored[provider]["id"]


async def test_disconnect_from_chat_stream_mid_stream(gateways, database_url, sim):
    server = gateways.start(disconnect_grace=GRACE)
    body = {"prompt": "chat stream", "models": models("tokens=500,gap=40")}
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        async with client.stream("POST", f"{API}/chat/stream", json=body) as response:
            seen = Stream()
            async for _ in iter_events(response, seen):
                if all(seen.text(p) for p in PROVIDERS):
                    break
        await eventually(upstreams_closed(sim))
        turn_id = seen.events[0].data["turn_id"]
        await assert_cancelled_and_recorded(client, database_url, turn_id, seen)


async def test_a_client_that_hangs_up_before_reading_anything(gateways, database_url, sim):
    """The request is sent and the socket closed at once: nobody will ever read this turn."""
    server = gateways.start(disconnect_grace=GRACE)
    body = orjson.dumps({"prompt": "hang up", "models": models("tokens=500,gap=40")})
    address = urlsplit(server.url)
    with socket.create_connection((address.hostname, address.port)) as sock:
        sock.sendall(
            b"POST /api/v1/chat/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            + AUTHORIZATION
            + b"Content-Length: %d\r\n\r\n%s" % (len(body), body)
        )
    # The legs were called, and are closed again (aborted) long before their 20 s natural end.
    await eventually(lambda: all(sim.stats()[flavour(p)]["requests"] for p in PROVIDERS))
    await eventually(upstreams_closed(sim))


async def test_reconnect_within_the_grace_keeps_the_turn_alive(gateways, database_url, sim):
    grace = 30  # far longer than the moment away below, however slow the machine
    server = gateways.start(disconnect_grace=grace)
    prompt = "come back"
    body = {"prompt": prompt, "models": models("tokens=40,gap=15")}
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        turn = await create_turn(client, body)
        _, first = await read_events(client, turn["events_url"], stop=deltas_of("claude", 3))
        # Away until the gateway has seen the listener go (its grace period runs), no longer.
        await eventually(lambda: no_listener(client))
        _, second = await read_events(client, turn["events_url"], after=first.events[-1].id)
        whole = stitch(first, second)
        check_invariants(whole, PROVIDERS)
        for provider in PROVIDERS:
            done = whole.done(provider)
            assert done["status"] == "complete"
            assert done["content"] == expected_answer(flavour(provider), prompt, 40)
    stats = sim.stats()
    for provider in PROVIDERS:
        assert stats[flavour(provider)]["requests"] == 1
        assert stats[flavour(provider)]["completed"] == 1
        assert stats[flavour(provider)]["aborted"] == 0


async def test_cancel_one_provider_while_the_others_complete(gateways, database_url, sim):
    server = gateways.start(disconnect_grace=5)
    prompt = "cancel claude"
    body = {
        "prompt": prompt,
        "models": [
            "claude:m+tokens=400,gap=20",
            "chatgpt:m+tokens=30,gap=20",
            "gemini:m+tokens=30,gap=20",
        ],
    }
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        turn = await create_turn(client, body)
        url, turn_id = turn["events_url"], turn["turn_id"]
        async with client.stream("GET", url) as response:
            stream = Stream()
            cancelled = None
            async for _ in iter_events(response, stream):
                if cancelled is None and len(stream.text("claude").split()) >= 3:
                    cancelled = await client.post(
                        f"{API}/turns/{turn_id}/cancel", json={"providers": ["claude"]}
                    )
        assert cancelled is not None and cancelled.status_code == 200, cancelled
        assert cancelled.json()["turn_id"] == turn_id
        # A user's Stop says nothing about the provider: its health is not counted down.
        listed = (await client.get(f"{API}/providers")).json()
        health = {p["name"]: p["health"] for p in listed}
        assert (health["claude"], health["chatgpt"]) == ("unknown", "ok"), health
    check_invariants(stream, ["claude", "chatgpt", "gemini"])
    claude = stream.done("claude")
    assert claude["status"] == "cancelled" and claude["error"] is None
    assert claude["content"] and claude["content"] == stream.text("claude")
    assert expected_answer("anthropic", prompt, 400).startswith(claude["content"])
    for provider in ("chatgpt", "gemini"):
        done = stream.done(provider)
        assert done["status"] == "complete"
        assert done["content"] == expected_answer(flavour(provider), prompt, 30)
    stored = await answers(database_url, turn_id)
    assert (stored["claude"]["status"], stored["claude"]["content"]) == (
        "cancelled",
        claude["content"],
    )
    await eventually(upstreams_closed(sim, ["claude"]))
    stats = sim.stats()
    assert stats["openai"]["completed"] == stats["gemini"]["completed"] == 1


async def test_cancel_without_a_body_stops_every_provider(gateways, database_url, sim):
    server = gateways.start(disconnect_grace=5)
    # 20 s of stream: that every leg ends cancelled, not complete, shows the cancel took effect
    # at once (no clock is read).
    body = {"prompt": "cancel all", "models": models("tokens=400,gap=50")}
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        turn = await create_turn(client, body)
        url, turn_id = turn["events_url"], turn["turn_id"]
        _, first = await read_events(client, url, stop=deltas_of("chatgpt", 2))
        response = await client.post(f"{API}/turns/{turn_id}/cancel")
        assert response.status_code == 200, response.text
        _, rest = await read_events(client, url, after=first.events[-1].id)
        whole = stitch(first, rest)
        check_invariants(whole, PROVIDERS)
        assert whole.events[-1].data["statuses"] == dict.fromkeys(PROVIDERS, "cancelled")
        await eventually(upstreams_closed(sim))
        assert (await turn_state(client, turn_id))["status"] == "finished"


async def test_cancel_of_finished_unknown_and_bad_requests(gateways, database_url, sim):
    server = gateways.start(replay_retention=0)  # a finished turn leaves memory at once
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        live = await create_turn(client, {"prompt": "slow", "models": models("tokens=400,gap=20")})
        cancel = f"{API}/turns/{live['turn_id']}/cancel"
        for bad in (
            {"providers": ["nope"]},  # not a provider at all
            {"providers": ["grok"]},  # a provider, but not in this turn
            {"providers": ["claude", "nope"]},
        ):
            response = await client.post(cancel, json=bad)
            assert response.status_code == 422, (bad, response.text)
        assert (await client.post(cancel, json={"providers": "claude"})).status_code == 422
        assert (
            await client.post(
                cancel, content=b"{not json", headers={"content-type": "application/json"}
            )
        ).status_code == 400
        # None of the refused cancels stopped anything.
        state = await turn_state(client, live["turn_id"])
        assert state["status"] == "running"
        assert all(p["status"] in ("pending", "streaming") for p in state["providers"])
        assert (await client.post(cancel)).status_code == 200

        unknown = await client.post(f"{API}/turns/no-such-turn/cancel")
        assert unknown.status_code == 404 and unknown.json()["error"]["type"] == "not_found"

        # A finished turn: cancel answers with its state, and changes nothing.
        done = await client.post(f"{API}/chat/", json={"prompt": "quick", "models": ["claude"]})
        turn_id = done.json()["turn_id"]
        for _ in range(2):
            response = await client.post(f"{API}/turns/{turn_id}/cancel")
            assert response.status_code == 200, response.text
            state = response.json()
            assert state["status"] == "finished"
            assert [(p["provider"], p["status"]) for p in state["providers"]] == [
                ("claude", "complete")
            ]
        # Naming a provider the finished turn never had is still an error.
        response = await client.post(
            f"{API}/turns/{turn_id}/cancel", json={"providers": ["chatgpt"]}
        )
        assert response.status_code == 422, response.text
        stored = await answers(database_url, turn_id)
        assert stored["claude"]["status"] == "complete"


async def test_cancel_reaches_a_leg_waiting_to_retry(gateways, database_url, sim):
    """A leg sleeping before its next attempt (Retry-After) is a running leg: cancel stops it
    at once, and it is stored as cancelled, not failed, and not retried."""
    server = gateways.start(disconnect_grace=5)
    body = {
        "prompt": "retry later",
        "models": ["chatgpt:m+fault=status,status=503,retry_after=15", "claude:m+tokens=5"],
    }
    async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
        turn = await create_turn(client, body)
        _, first = await read_events(
            client,
            turn["events_url"],
            stop=lambda e, s: e.name == "done" and e.data["provider"] == "claude",
        )
        assert sim.stats()["openai"]["requests"] == 1  # refused once, now waiting 15 s
        response = await client.post(
            f"{API}/turns/{turn['turn_id']}/cancel", json={"providers": ["chatgpt"]}
        )
        assert response.status_code == 200
        # At once: had the leg slept on, it would have sent a second request after 15 s (there
        # is one request in the end, checked below), and no clock needs to be read.
        _, rest = await read_events(client, turn["events_url"], after=first.events[-1].id)
        whole = stitch(first, rest)
        check_invariants(whole, ["chatgpt", "claude"])
        chatgpt = whole.done("chatgpt")
        assert (chatgpt["status"], chatgpt["content"], chatgpt["error"]) == ("cancelled", "", None)
        assert whole.done("claude")["status"] == "complete"
    assert sim.stats()["openai"]["requests"] == 1
