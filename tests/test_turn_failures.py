"""Failing and stalling providers end in their own done; limits answer at once, never hang."""

from __future__ import annotations

import asyncio

import httpx

from providers.simulators.text import expected_answer
from tests.support.sse_client import check_invariants, read_stream
from tests.support.turn_helpers import API, create_turn, eventually

ALL = ["claude", "chatgpt", "gemini", "grok", "perplexity"]


async def test_mixed_legs_each_end_on_their_own(gateways, sim, monkeypatch):
    idle = 1.0  # grok's idle timeout: the stall's done cannot come before this
    monkeypatch.setenv("GROK_IDLE_TIMEOUT", str(idle))
    monkeypatch.setenv("CHATGPT_MAX_ATTEMPTS", "1")  # the 503 is retryable: fail on the first
    server = gateways.start()
    prompt = "mixed legs"
    body = {
        "prompt": prompt,
        "models": [
            "claude:claude-sonnet-5+tokens=20,gap=10",
            "chatgpt:gpt-5.5+fault=status,status=503",
            "gemini:gemini-3.5-flash+tokens=20,gap=10,fault=midstream,after=3",
            "grok:grok-4.3+tokens=20,gap=10,fault=stall,after=2",
            "perplexity:sonar-pro+tokens=20,gap=10,fault=malformed,after=4",
        ],
    }
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=30) as client,
        client.stream("POST", f"{API}/chat/stream", json=body) as response,
    ):
        assert response.status_code == 200
        stream = await read_stream(response)
    check_invariants(stream, ALL)

    claude, chatgpt, gemini = stream.done("claude"), stream.done("chatgpt"), stream.done("gemini")
    grok, perplexity = stream.done("grok"), stream.done("perplexity")
    assert claude["status"] == "complete" and claude["error"] is None
    assert claude["content"] == expected_answer("anthropic", prompt, 20)

    assert chatgpt["status"] == "failed" and chatgpt["content"] == ""
    assert chatgpt["error"]["type"] == "overloaded"
    assert chatgpt["error"]["status_code"] == 503
    assert not stream.named("start") or all(
        e.data["provider"] != "chatgpt" for e in stream.named("start")
    ), "a request refused with a status never started"

    assert gemini["status"] == "failed" and gemini["error"]["type"] == "server_error"
    assert gemini["content"] == expected_answer("gemini", prompt, 3)

    assert grok["status"] == "failed" and grok["error"]["type"] == "timeout"
    assert grok["content"] == expected_answer("xai", prompt, 2)
    assert grok["latency_ms"] >= idle * 1000

    assert perplexity["status"] == "failed" and perplexity["error"]["type"] == "malformed"
    assert perplexity["content"] == expected_answer("perplexity", prompt, 4)

    # Every failed answer is stored as failed, with the text that had arrived.
    assert {p: stream.done(p)["message_id"] is not None for p in ALL} == dict.fromkeys(ALL, True)

    # The complete answer was not held up by the stall: its done came first, and it finished
    # before the stall's idle timeout could even fire.
    order = [e.data["provider"] for e in stream.named("done")]
    assert order.index("claude") < order.index("grok"), order
    assert claude["latency_ms"] < idle * 1000, claude["latency_ms"]

    # The 503 was not retried (max attempts 1); the stalled upstream was closed, not left open.
    stats = sim.stats()
    assert stats["openai"]["requests"] == 1
    await eventually(lambda: sim.stats()["xai"]["open"] == 0 and sim.stats()["xai"]["aborted"])


async def test_a_second_turn_over_the_limit_gets_429_at_once(gateways, sim):
    server = gateways.start(max_concurrent_turns=1)
    slow = {"prompt": "slow", "models": ["claude:claude-sonnet-5+tokens=200,gap=20"]}
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        first = await create_turn(client, slow)
        for path in ("/turns", "/chat/stream", "/chat/"):
            refused = await client.post(f"{API}{path}", json={"prompt": "second"})
            assert refused.status_code == 429, (path, refused.text)
            assert refused.json()["error"]["type"] == "too_many_requests"
            assert int(refused.headers["retry-after"]) >= 1
        assert (await client.post(f"{API}/turns/{first['turn_id']}/cancel")).status_code == 200
        # Once the first turn has ended, its slot is free again.
        await eventually(lambda: _finished(client, first["turn_id"]))
        again = await client.post(f"{API}/turns", json={"prompt": "third", "models": ["claude"]})
        assert again.status_code == 201, again.text
    assert sim.stats()["anthropic"]["requests"] == 2


async def _finished(client: httpx.AsyncClient, turn_id: str) -> bool:
    return (await client.get(f"{API}/turns/{turn_id}")).json()["status"] == "finished"


async def test_concurrent_turns_never_exceed_the_limit(gateways, sim):
    """The limit holds when turns are created at the same moment, not only one after another."""
    server = gateways.start(max_concurrent_turns=1)
    slow = {"prompt": "race", "models": ["claude:claude-sonnet-5+tokens=100,gap=20"]}
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        responses = await asyncio.gather(
            *(client.post(f"{API}/turns", json=slow) for _ in range(6))
        )
        codes = sorted(r.status_code for r in responses)
        assert codes == [201] + [429] * 5, codes
        for response in responses:
            if response.status_code == 201:
                await client.post(f"{API}/turns/{response.json()['turn_id']}/cancel")


async def test_a_refused_turn_does_not_keep_its_slot(gateways, sim):
    server = gateways.start(max_concurrent_turns=1)
    async with httpx.AsyncClient(base_url=server.url, timeout=5) as client:
        for _ in range(3):  # each fails after the limit was checked
            missing = await client.post(
                f"{API}/turns", json={"prompt": "x", "conversation_id": 987654}
            )
            assert missing.status_code == 404
        created = await client.post(f"{API}/turns", json={"prompt": "y", "models": ["claude"]})
        assert created.status_code == 201, created.text


async def test_stream_opens_with_retry_and_pings_while_idle(gateways, sim):
    server = gateways.start(ping_interval=0.2, retry_ms=1500)
    body = {"prompt": "ping", "models": ["claude:claude-sonnet-5+tokens=3,ttft=900"]}
    async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
        turn = await create_turn(client, body)
        lines: list[str] = []
        async with client.stream("GET", turn["events_url"]) as response:
            assert response.status_code == 200
            async for line in response.aiter_lines():
                lines.append(line)
        first_delta = next(i for i, line in enumerate(lines) if line == "event: delta")
    assert lines[0] == "retry: 1500", lines[:3]
    assert ": ping" in lines[:first_delta], lines[:first_delta]
    stream_text = "\n".join(lines)
    assert "event: end" in stream_text
