"""Fuse's pure parts: which answers a fusion draws on, the judge's prompt, and the ``fused``
context policy's threads."""

from __future__ import annotations

import pytest

from gateway.turns.context import build_threads
from gateway.turns.errors import Conflict, InvalidChoice
from gateway.turns.fuse.sources import Source, choose_sources, judge_prompt

SOURCES = [
    Source("claude", "claude-sonnet-5", None, "complete", 2, "Claude says"),
    Source("chatgpt", "gpt-5.5", None, "failed", 3, ""),
    Source("gemini", "gemini-3", None, "complete", 4, "Gemini says"),
]


def test_all_complete_answers_by_default_and_named_ones_in_the_turns_order():
    assert [s.provider for s in choose_sources(SOURCES, None)] == ["claude", "gemini"]
    assert [s.provider for s in choose_sources(SOURCES, ["gemini", "claude"])] == [
        "claude",
        "gemini",
    ]


@pytest.mark.parametrize(
    ("named", "error"),
    [
        (["grok"], InvalidChoice),
        ([], InvalidChoice),
        (["claude", "claude"], InvalidChoice),
        (["chatgpt"], Conflict),  # failed: nothing to fuse
    ],
)
def test_what_cannot_be_fused(named, error):
    with pytest.raises(error):
        choose_sources(SOURCES, named)


def test_nothing_complete_is_a_conflict():
    with pytest.raises(Conflict):
        choose_sources([SOURCES[1]], None)


def test_blind_answers_are_named_by_label_to_the_judge():
    blind = [
        Source("claude", "m", "A", "complete", 2, "x"),
        Source("gemini", "m", "B", "complete", 3, "y"),
    ]
    assert [s.provider for s in choose_sources(blind, ["B"])] == ["gemini"]
    prompt = judge_prompt("Q?", blind, "  be kind ")
    assert '<answer source="Answer A">\nx\n</answer>' in prompt
    assert "Further instructions from the user:\nbe kind" in prompt
    assert "claude" not in prompt.lower()


def row(turn, role, provider=None, content="", status="complete"):
    return {
        "turn_id": turn,
        "role": role,
        "provider": provider,
        "content": content,
        "status": status,
        "echo": None,
    }


def test_fused_policy_continues_from_the_latest_complete_fusion():
    rows = [
        row("t1", "user", content="one"),
        row("t1", "assistant", "claude", "c1"),
        row("t1", "assistant", "chatgpt", "g1"),
        row("t1", "assistant", "fuse", "fused1"),
        row("t1", "assistant", "fuse", "half", status="cancelled"),  # a later, cut fusion
        row("t2", "user", content="two"),
        row("t2", "assistant", "claude", "c2"),
    ]
    threads = build_threads(rows, ["claude", "chatgpt"], "three", 10_000, "fused")
    assert [(m.role, m.content) for m in threads["claude"]] == [
        ("user", "one"),
        ("assistant", "fused1"),
        ("user", "two"),
        ("assistant", "c2"),
        ("user", "three"),
    ]
    assert [m.content for m in threads["chatgpt"]] == ["one", "fused1", "three"]
    # Under the other policies a fusion is nobody's answer.
    shared = build_threads(rows, ["claude"], "three", 10_000, "shared")["claude"]
    assert "fused1" not in shared[1].content and "[Claude]" in shared[1].content
    isolated = build_threads(rows, ["claude"], "three", 10_000)["claude"]
    assert [m.content for m in isolated] == ["one", "c1", "two", "c2", "three"]
