"""One prompt, five simulated providers, one merged stream: the contract's invariants hold."""

from __future__ import annotations

import asyncpg
import pytest

from providers import PROVIDERS
from providers.simulators.text import expected_answer
from tests.support.sse_client import check_invariants, read_stream

API = "/api/v1"
ALL = list(PROVIDERS)


def flavour(provider: str) -> str:
    return PROVIDERS[provider].flavour


async def test_five_providers_merge_into_one_valid_stream(stream_client, database_url, sim):
    async with stream_client.stream(
        "POST", f"{API}/chat/stream", json={"prompt": "Name a colour"}
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        assert "content-encoding" not in response.headers
        stream = await read_stream(response)
    assert stream.retry == 2000
    check_invariants(stream, ALL)
    connection = await asyncpg.connect(database_url)
    try:
        for provider in ALL:
            done = stream.done(provider)
            assert done["status"] == "complete", done
            assert done["content"] == expected_answer(flavour(provider), "Name a colour", 12)
            assert done["usage"]["output_tokens"] == 12
            assert done["ttft_ms"] > 0 and done["latency_ms"] >= done["ttft_ms"]
            row = await connection.fetchrow(
                "SELECT * FROM messages WHERE id = $1", done["message_id"]
            )
            assert (row["provider"], row["status"], row["content"]) == (
                provider,
                "complete",
                done["content"],
            )
            assert row["output_tokens"] == 12 and row["finish_reason"] == "stop"
    finally:
        await connection.close()
    # Each provider was called exactly once.
    assert all(sim.stats()[flavour(p)]["requests"] == 1 for p in ALL)


async def test_deltas_arrive_interleaved_not_provider_by_provider(stream_client):
    body = {
        "prompt": "interleave",
        "models": ["claude:m+tokens=20,gap=10", "chatgpt:m+tokens=20,gap=10"],
    }
    async with stream_client.stream("POST", f"{API}/chat/stream", json=body) as response:
        stream = await read_stream(response)
    order = [e.data["provider"] for e in stream.named("delta")]
    switches = sum(1 for a, b in zip(order, order[1:], strict=False) if a != b)
    assert switches >= 10, f"the two providers' deltas should alternate in arrival order: {order}"


async def test_chosen_providers_and_pinned_models(stream_client):
    body = {"prompt": "hi", "models": ["gemini", "grok:grok-4-fast"]}
    async with stream_client.stream("POST", f"{API}/chat/stream", json=body) as response:
        stream = await read_stream(response)
    check_invariants(stream, ["gemini", "grok"])
    assert stream.events[0].data["providers"][1] == {
        "provider": "grok",
        "model": "grok-4-fast",
        "simulated": True,
    }
    assert stream.done("grok")["model"] == "grok-4-fast"


async def test_original_chat_endpoint_shape_with_a_failed_provider(stream_client):
    body = {
        "prompt": "Capital of France?",
        "models": ["claude", "chatgpt:gpt-5.5+fault=status,status=401"],
    }
    response = await stream_client.post(f"{API}/chat/", json=body)
    assert response.status_code == 200
    data = response.json()
    assert isinstance(data["conversation_id"], int) and isinstance(data["user_message_id"], int)
    by_provider = {r["provider"]: r for r in data["responses"]}
    assert list(by_provider) == ["claude", "chatgpt"]
    assert by_provider["claude"]["error"] is None
    assert by_provider["claude"]["content"] == expected_answer(
        "anthropic", "Capital of France?", 12
    )
    assert by_provider["claude"]["latency_ms"] > 0
    assert by_provider["chatgpt"]["error"] and "401" in by_provider["chatgpt"]["error"]
    assert by_provider["chatgpt"]["content"] == ""
    conversation = (
        await stream_client.get(f"{API}/conversations/{data['conversation_id']}")
    ).json()
    assert conversation["title"] == "Capital of France?"
    statuses = {
        m["provider"]: m["status"] for m in conversation["messages"] if m["role"] == "assistant"
    }
    assert statuses == {"claude": "complete", "chatgpt": "failed"}


async def test_conversation_continues_with_each_providers_own_context(stream_client, sim):
    first = (
        await stream_client.post(
            f"{API}/chat/", json={"prompt": "one", "models": ["claude", "perplexity"]}
        )
    ).json()
    cid = first["conversation_id"]
    # perplexity fails this turn: it must not see a dangling user message next time.
    await stream_client.post(
        f"{API}/chat/",
        json={
            "prompt": "two",
            "conversation_id": cid,
            "models": ["claude", "perplexity:sonar-pro+fault=status,status=400"],
        },
    )
    await stream_client.post(
        f"{API}/chat/",
        json={"prompt": "three", "conversation_id": cid, "models": ["claude", "perplexity"]},
    )
    claude_thread = sim.requests("anthropic")[-1]["body"]["messages"]
    assert [(m["role"], m["content"]) for m in claude_thread] == [
        ("user", "one"),
        ("assistant", expected_answer("anthropic", "one", 12)),
        ("user", "two"),
        ("assistant", expected_answer("anthropic", "two", 12)),
        ("user", "three"),
    ]
    perplexity_thread = [
        m for m in sim.requests("perplexity")[-1]["body"]["messages"] if m["role"] != "system"
    ]
    assert [(m["role"], m["content"]) for m in perplexity_thread] == [
        ("user", "one"),
        ("assistant", expected_answer("perplexity", "one", 12)),
        ("user", "three"),
    ]


async def test_unknown_conversation_is_404_before_any_provider_is_called(stream_client, sim):
    response = await stream_client.post(
        f"{API}/chat/stream", json={"prompt": "x", "conversation_id": 424242}
    )
    assert response.status_code == 404
    assert all(s["requests"] == 0 for s in sim.stats().values())


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"prompt": ""}, 422),
        ({"prompt": "   "}, 422),
        ({"prompt": 5}, 422),
        ({"prompt": "x", "models": []}, 422),
        ({"prompt": "x", "models": ["nope"]}, 422),
        ({"prompt": "x", "models": ["claude", "claude"]}, 422),
        ({"prompt": "x", "models": "claude"}, 422),
        ({"prompt": "x", "conversation_id": "1"}, 422),
        ({"prompt": "x" * 100_001}, 413),
    ],
)
async def test_bad_turn_requests(stream_client, sim, body, status):
    for path in ("/chat/stream", "/turns", "/chat/"):
        response = await stream_client.post(f"{API}{path}", json=body)
        assert response.status_code == status, (path, response.text)
        assert response.json()["error"]["message"]
    assert all(s["requests"] == 0 for s in sim.stats().values())
