"""The pieces both response shapes share: a choice's finish, its usage, its error."""

from __future__ import annotations

from gateway.api.openai_compat.errors import error_body

FINISH_REASONS = frozenset(("stop", "length", "content_filter", "tool_calls"))


def finish_reason(done: dict) -> str:
    """OpenAI's finish reason of a done answer; ``error`` (as OpenRouter says it) for a
    failed or cancelled one, which only a fan-out's choices can be."""
    if done["status"] != "complete":
        return "error"
    reason = done.get("finish_reason")
    return reason if reason in FINISH_REASONS else "stop"


def usage_of(dones: list[dict]) -> dict:
    """OpenAI's usage: what the providers reported, added up over a fan-out's choices."""
    prompt = completion = reasoning = 0
    reasoned = False
    for done in dones:
        usage = done.get("usage") or {}
        prompt += usage.get("input_tokens") or 0
        completion += usage.get("output_tokens") or 0
        if usage.get("reasoning_tokens") is not None:
            reasoned = True
            reasoning += usage["reasoning_tokens"]
    usage = {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }
    if reasoned:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
    return usage


def choice_error(done: dict) -> dict:
    """A failed or cancelled choice's error, in OpenAI's shape (without the envelope)."""
    error = done.get("error")
    if error is None:
        return error_body(503, f"{done['provider']}: the answer was cancelled", "cancelled")[
            "error"
        ]
    return error_body(502, error["message"], error["type"])["error"]


def extras(done: dict) -> dict:
    """What a choice says beyond OpenAI's fields: its error, its sources."""
    more = {}
    if done["status"] != "complete":
        more["error"] = choice_error(done)
    if done.get("citations"):
        more["citations"] = done["citations"]
    return more
