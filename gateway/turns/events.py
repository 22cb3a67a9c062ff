"""A turn's events: their data (built in one place, live or replayed) and their SSE bytes.

Every event is encoded once, when it is published; the delta path is the per-token hot path,
so a delta is three byte strings joined, its provider's part built once per leg.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import orjson

from gateway.turns.blind import label_order, neutral_error, neutral_finish, neutral_ignored


def event_bytes(id: int, name: str, data: Any) -> bytes:
    return b"id: %d\nevent: %s\ndata: %s\n\n" % (id, name.encode(), orjson.dumps(data))


def delta_prefix(provider: str, label: str | None = None, name: bytes = b"delta") -> bytes:
    """Everything of a delta event between its id and its text, built once per leg (a blind
    leg's names its label instead of its provider). A ``thinking`` event (a piece of
    reasoning) is the same but for its name: it costs what a delta costs."""
    if label is not None:
        return b'\nevent: %s\ndata: {"label":%s,"text":' % (name, orjson.dumps(label))
    return b'\nevent: %s\ndata: {"provider":%s,"text":' % (name, orjson.dumps(provider))


def delta_bytes(id: int, prefix: bytes, text: str) -> bytes:
    # orjson escapes U+2028/U+2029 and control characters, so the data stays on one line.
    return b"id: %d%s%s}\n\n" % (id, prefix, orjson.dumps(text))


def retry_bytes(milliseconds: int) -> bytes:
    return b"retry: %d\n\n" % milliseconds


# -- the data of each event -------------------------------------------------------------------


def turn_data(
    turn_id: str, conversation_id: int, user_message_id: int, providers: Iterable[Mapping]
) -> dict:
    entries = list(providers)
    if entries and entries[0].get("label"):  # blind: the labels, in label order, and nothing else
        return {
            "turn_id": turn_id,
            "conversation_id": conversation_id,
            "user_message_id": user_message_id,
            "blind": True,
            "providers": [{"label": entry["label"]} for entry in label_order(entries)],
        }
    return {
        "turn_id": turn_id,
        "conversation_id": conversation_id,
        "user_message_id": user_message_id,
        "providers": [
            {"provider": p["provider"], "model": p["model"], "simulated": p["simulated"]}
            for p in entries
        ],
    }


def usage_data(
    input_tokens: int | None, output_tokens: int | None, reasoning_tokens: int | None = None
) -> dict | None:
    """Output tokens include the reasoning tokens (``reasoning_tokens`` says how many)."""
    if input_tokens is None and output_tokens is None:
        return None
    return {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "reasoning_tokens": reasoning_tokens,
    }


def start_data(provider: str, model: str, label: str | None = None) -> dict:
    return {"provider": provider, "model": model} if label is None else {"label": label}


def done_data(
    answer: Mapping, message_id: int | None, error: dict | None, label: str | None = None
) -> dict:
    """A done event's data, from a finished leg's answer or from its stored row; a blind
    answer's names its label, and withholds its model, its cost (a price points to the model)
    and whatever else would tell (why a setting was not sent names the model)."""
    usage = usage_data(
        answer["input_tokens"], answer["output_tokens"], answer.get("reasoning_tokens")
    )
    ignored = answer.get("settings_ignored")
    if label is not None:
        return {
            "label": label,
            "status": answer["status"],
            "message_id": message_id,
            "content": answer["content"],
            "thinking": answer.get("thinking"),
            "finish_reason": neutral_finish(answer["finish_reason"]),
            "usage": usage,
            "ttft_ms": answer["ttft_ms"],
            "latency_ms": answer["latency_ms"],
            "error": neutral_error(error),
            "citations": answer["citations"],
            "settings_ignored": neutral_ignored(ignored),
        }
    return {
        "provider": answer["provider"],
        "status": answer["status"],
        "message_id": message_id,
        "model": answer["model"],
        "content": answer["content"],
        "thinking": answer.get("thinking"),
        "finish_reason": answer["finish_reason"],
        "usage": usage,
        "ttft_ms": answer["ttft_ms"],
        "latency_ms": answer["latency_ms"],
        "error": error,
        "citations": answer["citations"],
        "cost_usd": answer["cost_usd"],
        "settings_ignored": ignored or None,
    }


def status_data(
    provider: str,
    state: str,
    attempt: int,
    attempts: int,
    retry_in_ms: int | None,
    label: str | None = None,
) -> dict:
    """Where a provider is while it has nothing to stream (a few per answer, never per token);
    a blind answer's names its label only."""
    return {
        **({"provider": provider} if label is None else {"label": label}),
        "state": state,
        "attempt": attempt,
        "attempts": attempts,
        "retry_in_ms": retry_in_ms,
    }


def end_data(turn_id: str, statuses: Mapping[str, str]) -> dict:
    """``statuses`` by provider, or by label in a blind turn."""
    return {"turn_id": turn_id, "statuses": dict(statuses)}


def reveal_data(turn_id: str, entries: Iterable[Mapping]) -> dict:
    """After a vote: which provider and model each label was."""
    return {
        "turn_id": turn_id,
        "labels": {
            e["label"]: {
                "provider": e["provider"],
                "model": e["model"],
                "simulated": e["simulated"],
            }
            for e in label_order(list(entries))
        },
    }
