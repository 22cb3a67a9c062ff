"""Pure parts of costs and retries: price lookup, and which answer a retried turn's history uses."""

from __future__ import annotations

import json

import pytest

from gateway.turns.context import build_threads
from providers import PriceFileError, PriceTable, estimate_tokens


def test_prices_take_the_longest_listed_name_a_model_extends(tmp_path):
    prices = tmp_path / "prices.json"
    prices.write_text(
        json.dumps({"models": {"gpt-4o": {"input": 2, "output": 8}, "gpt-5.5": None}})
    )
    table = PriceTable.load(prices)
    assert table.price("gpt-4o").input == 2  # overridden
    assert table.price("gpt-4o-mini-2024-07-18").output == 0.6  # gpt-4o-mini, not gpt-4o
    assert table.price("claude-sonnet-5+tokens=9").output == 15.0  # simulator knobs
    assert table.price("gpt-5.5") is None  # removed by null
    assert table.price("gpt-4oo") is None  # not an extension of a listed name
    assert table.cost("claude-sonnet-5", 1_000_000, 1_000_000) == 18.0
    assert estimate_tokens(9) == 3


def test_a_bad_price_file_says_what_is_wrong(tmp_path):
    bad = tmp_path / "prices.json"
    bad.write_text('{"models": {"m": {"input": -1, "output": 2}}}')
    with pytest.raises(PriceFileError, match="non-negative"):
        PriceTable.load(bad)
    with pytest.raises(PriceFileError, match="cannot read"):
        PriceTable.load(tmp_path / "missing.json")


def row(turn, role, content, provider=None, status="complete"):
    return {
        "turn_id": turn,
        "role": role,
        "provider": provider,
        "status": status,
        "content": content,
    }


def test_history_uses_the_latest_complete_answer_of_a_retried_turn():
    rows = [
        row("t1", "user", "q1"),
        row("t1", "assistant", "first", "claude"),
        row("t2", "user", "q2"),
        row("t2", "assistant", "", "claude", "failed"),
        row("t1", "assistant", "retried", "claude"),  # a retry of t1, stored after t2 began
        row("t1", "assistant", "partial", "claude", "cancelled"),  # a later retry, stopped
        row("t2", "assistant", "cut short", "claude", "cancelled"),  # t2 has only this one
    ]
    thread = build_threads(rows, ["claude"], "q3", 10_000)["claude"]
    assert [(m.role, m.content) for m in thread] == [
        ("user", "q1"),
        ("assistant", "retried"),
        ("user", "q2"),
        ("assistant", "cut short"),
        ("user", "q3"),
    ]
