"""Blind turns: labels instead of providers, so that nobody can tell who answered until a vote.

A blind turn's providers are labelled ``A``, ``B``, … in a random order drawn once per turn
(``assign_labels``). Its events are then *built* with the label instead of the provider and
without the model (``gateway.turns.events``), so the log, the Redis bus that mirrors it and the
replay from PostgreSQL all carry the same blind bytes. What else in an event could give an
answer away is made neutral here: an error's message (it may name the provider or its model)
and the finish reason (each API spells it its own way).

What providers *say* is theirs: an answer that introduces itself, or one with citations (only
Perplexity sends them), tells. The gateway hides what it adds, not what they write.
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping, Sequence

LABELS = string.ascii_uppercase

# Every API's finish reason, as one word: "stop" (the model ended), "length" (cut), or "other".
_FINISH = {
    "stop": "stop",
    "end_turn": "stop",
    "stop_sequence": "stop",
    "STOP": "stop",
    "length": "length",
    "max_tokens": "length",
    "MAX_TOKENS": "length",
}


def assign_labels(providers: Sequence[str]) -> dict[str, str]:
    """{provider: label}: labels in order A, B, … given to the providers in a random order."""
    order = list(providers)
    secrets.SystemRandom().shuffle(order)
    return {provider: LABELS[index] for index, provider in enumerate(order)}


def neutral_finish(reason: str | None) -> str | None:
    return None if reason is None else _FINISH.get(reason, "other")


def neutral_error(error: Mapping | None) -> dict | None:
    """The error without its message (which may quote the upstream): type, status, retryable."""
    if error is None:
        return None
    return {
        "type": error["type"],
        "message": f"this answer failed ({error['type']})",
        "status_code": error["status_code"],
        "retryable": error["retryable"],
    }


def neutral_ignored(ignored: Mapping[str, str] | None) -> dict[str, str] | None:
    """Which settings an answer's model was not given, without why (the reason names it)."""
    if not ignored:
        return None
    return {setting: "not given to this model" for setting in ignored}


def label_order(entries: Sequence[Mapping]) -> list[Mapping]:
    """A blind turn's entries by label: the order they were asked in would give them away."""
    return sorted(entries, key=lambda entry: entry["label"])
