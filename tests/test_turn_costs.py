"""Costs (cost_usd in every done, stored, summed per turn and conversation; PRICES_FILE;
the MAX_TURN_COST stop) and the status event while a provider has nothing to stream."""

from __future__ import annotations

import json

import httpx
import pytest

from providers import PriceTable
from tests.support.turn_helpers import API, create_turn, read_events, rows, turn_state

SHIPPED = PriceTable.load()


def priced(model: str, usage: dict) -> float:
    price = SHIPPED.price(model)
    assert price is not None
    return round(
        (usage["input_tokens"] * price.input + usage["output_tokens"] * price.output) / 1e6, 8
    )


async def test_every_done_has_its_cost_from_the_reported_usage(gateways, database_url):
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        turn = await create_turn(
            client,
            {
                "prompt": "what does it cost",
                "models": ["claude", "gemini", "chatgpt:no-such-model"],
            },
        )
        _, stream = await read_events(client, turn["events_url"])
        claude, gemini = stream.done("claude"), stream.done("gemini")
        assert claude["usage"]["output_tokens"] > 0
        assert claude["cost_usd"] == priced("claude-sonnet-5", claude["usage"]) > 0
        assert gemini["cost_usd"] == priced("gemini-3.5-flash", gemini["usage"]) > 0
        assert stream.done("chatgpt")["cost_usd"] is None, "a model without a price"

        stored = await rows(
            database_url,
            "SELECT provider, cost_usd FROM messages WHERE turn_id = $1 AND role = 'assistant'",
            turn["turn_id"],
        )
        assert {r["provider"]: r["cost_usd"] for r in stored} == {
            "claude": claude["cost_usd"],
            "gemini": gemini["cost_usd"],
            "chatgpt": None,
        }
        total = round(claude["cost_usd"] + gemini["cost_usd"], 8)
        assert (await turn_state(client, turn["turn_id"]))["cost_usd"] == pytest.approx(total)

        # POST /chat/ in the same conversation: each response has its cost, and the
        # conversation sums every answer.
        chat = await client.post(
            f"{API}/chat/",
            json={
                "prompt": "again",
                "conversation_id": turn["conversation_id"],
                "models": ["claude"],
            },
        )
        assert chat.status_code == 200
        (again,) = chat.json()["responses"]
        assert again["cost_usd"] == priced("claude-sonnet-5", again["usage"])
        conversation = (await client.get(f"{API}/conversations/{turn['conversation_id']}")).json()
        assert conversation["cost_usd"] == pytest.approx(total + again["cost_usd"])
        costs = [
            (m["turn_id"] == turn["turn_id"], m["provider"], m["cost_usd"])
            for m in conversation["messages"]
            if m["role"] == "assistant"
        ]
        assert sorted(costs, key=str) == sorted(
            [
                (True, "claude", claude["cost_usd"]),
                (True, "gemini", gemini["cost_usd"]),
                (True, "chatgpt", None),
                (False, "claude", again["cost_usd"]),
            ],
            key=str,
        )


async def test_a_prices_file_overrides_and_extends_the_shipped_table(gateways, tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps(
            {
                "models": {
                    "claude-sonnet-5": {"input": 1000, "output": 2000},
                    "my-model": {"input": 1, "output": 1},
                    "gemini-3.5-flash": None,
                }
            }
        )
    )
    server = gateways.start(prices_file=str(prices))
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        turn = await create_turn(
            client, {"prompt": "override", "models": ["claude", "gemini", "chatgpt:my-model"]}
        )
        _, stream = await read_events(client, turn["events_url"])
    usage = stream.done("claude")["usage"]
    expected = round((usage["input_tokens"] * 1000 + usage["output_tokens"] * 2000) / 1e6, 8)
    assert stream.done("claude")["cost_usd"] == expected
    assert stream.done("gemini")["cost_usd"] is None, "null in the file removes a price"
    chatgpt = stream.done("chatgpt")
    assert chatgpt["cost_usd"] == round(
        (chatgpt["usage"]["input_tokens"] + chatgpt["usage"]["output_tokens"]) / 1e6, 8
    )


def test_a_bad_prices_file_stops_start_up_with_one_line(tmp_path):
    from gateway.settings import SettingsError
    from tests.support.gateways import make_settings

    bad = tmp_path / "prices.json"
    bad.write_text('{"models": {"x": {"input": "cheap"}}}')
    with pytest.raises(SettingsError, match="PRICES_FILE"):
        make_settings(prices_file=str(bad))


async def test_max_turn_cost_cancels_the_legs_past_it(gateways, database_url):
    # claude-sonnet-5 costs $15 per million output tokens: $0.0003 is about 20 tokens in.
    server = gateways.start(max_turn_cost=0.0003)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        turn = await create_turn(
            client,
            {"prompt": "a long answer", "models": ["claude:claude-sonnet-5+tokens=3000,gap=2"]},
        )
        _, stream = await read_events(client, turn["events_url"])
    done = stream.done("claude")
    assert done["status"] == "cancelled"
    assert done["error"]["type"] == "max_turn_cost"
    assert "MAX_TURN_COST" in done["error"]["message"]
    assert 0 < len(done["content"]) < len("word " * 3000)
    assert done["cost_usd"] is not None and done["cost_usd"] > 0.0003 * 0.5
    (stored,) = await rows(
        database_url,
        "SELECT status, error_type, cost_usd FROM messages WHERE turn_id = $1 AND role = 'assistant'",
        turn["turn_id"],
    )
    assert (stored["status"], stored["error_type"]) == ("cancelled", "max_turn_cost")
    assert stored["cost_usd"] == done["cost_usd"]


async def test_status_events_while_a_provider_retries(gateways, monkeypatch):
    monkeypatch.setenv("CHATGPT_MAX_ATTEMPTS", "3")
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        turn = await create_turn(
            client,
            {
                "prompt": "status",
                "models": ["chatgpt:gpt-5.5+fault=status,status=429,retry_after=0.2,fail_times=1"],
            },
        )
        _, stream = await read_events(client, turn["events_url"])
    statuses = [
        (e.data["state"], e.data["attempt"], e.data["attempts"], e.data["retry_in_ms"])
        for e in stream.named("status")
    ]
    assert statuses == [
        ("waiting", 1, 3, None),
        ("retrying", 2, 3, 200),
        ("waiting", 2, 3, None),
        ("streaming", 2, 3, None),
    ]
    names = [e.name for e in stream.events]
    first_delta = names.index("delta")
    assert names.index("status") < first_delta
    assert "status" not in names[first_delta + 1 :], "never on the per-token path"
    assert stream.done("chatgpt")["status"] == "complete"
