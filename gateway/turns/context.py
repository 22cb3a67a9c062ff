"""Each provider's view of a conversation: the user's prompts and its OWN earlier answers.

A turn where the provider failed, or was not asked, is left out whole (prompt and all), so
user and assistant still alternate, which Anthropic and Perplexity require. A cancelled answer
that had text is kept: the user saw it. A provider retried in a turn has several answers
there: its latest complete one is used (else its latest cancelled one with text). The oldest
pairs are dropped first to fit the budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from providers import Message


def build_threads(
    rows: Iterable[Mapping], providers: Sequence[str], prompt: str, budget_chars: int
) -> dict[str, list[Message]]:
    prompts: dict[str, str] = {}  # turn id -> the user's prompt, in conversation order
    answers: dict[tuple[str, str], str] = {}
    complete: set[tuple[str, str]] = set()  # answers that are complete: a later partial one waits
    for row in rows:  # in id order: a retry's answer comes after the one it retried
        if row["role"] is None:  # the conversation exists but has no messages yet
            continue
        key = (row["turn_id"], row["provider"])
        if row["role"] == "user":
            if row["turn_id"] is not None:
                prompts[row["turn_id"]] = row["content"]
        elif row["status"] == "complete":
            answers[key] = row["content"]
            complete.add(key)
        elif row["status"] == "cancelled" and row["content"] and key not in complete:
            answers[key] = row["content"]
    return {
        provider: _fit(
            [
                (text, answers[(turn, provider)])
                for turn, text in prompts.items()
                if (turn, provider) in answers
            ],
            prompt,
            budget_chars,
        )
        for provider in providers
    }


def _fit(pairs: list[tuple[str, str]], prompt: str, budget_chars: int) -> list[Message]:
    used = len(prompt)
    kept: list[tuple[str, str]] = []
    for question, answer in reversed(pairs):
        used += len(question) + len(answer)
        if used > budget_chars:
            break
        kept.append((question, answer))
    thread: list[Message] = []
    for question, answer in reversed(kept):
        thread.append(Message("user", question))
        thread.append(Message("assistant", answer))
    thread.append(Message("user", prompt))
    return thread
