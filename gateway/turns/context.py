"""Each provider's view of a conversation, by the conversation's context policy.

* ``isolated`` (the default): the user's prompts and the provider's OWN earlier answers.
* ``winner``: after a turn's vote, every provider continues from the voted answer as if it were
  its own; a turn without a winner (no vote, a tie, all bad) is seen as under ``isolated``.
* ``shared``: every provider sees every answer of each earlier turn, as one assistant message
  that is a transcript labelled by provider (``[Claude]``, then its answer, and so on).

A turn where the provider has nothing to continue from (it failed, or was not asked, under
``isolated``) is left out whole, prompt and all, so user and assistant still alternate, which
Anthropic and Perplexity require. A cancelled answer that had text is kept: the user saw it.
A provider retried in a turn has several answers there: its latest complete one is used (else
its latest cancelled one with text). The oldest pairs are dropped first to fit the budget.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from providers import PROVIDERS, Message

POLICIES = ("isolated", "winner", "shared")
_ORDER = {name: index for index, name in enumerate(PROVIDERS)}


@dataclass(frozen=True, slots=True)
class ConversationSettings:
    blind: bool = False
    policy: str = "isolated"


def conversation_settings(rows: Sequence[Mapping]) -> ConversationSettings:
    """From the rows of ``conversation_thread`` (each carries them); none: a new conversation."""
    if not rows:
        return ConversationSettings()
    return ConversationSettings(rows[0]["blind"], rows[0]["context_policy"])


def build_threads(
    rows: Iterable[Mapping],
    providers: Sequence[str],
    prompt: str,
    budget_chars: int,
    policy: str = "isolated",
) -> dict[str, list[Message]]:
    history = _History()
    for row in rows:
        history.add(row)
    return {
        provider: _fit(
            [
                (text, answer)
                for turn, text in history.prompts.items()
                if (answer := history.answer(policy, turn, provider)) is not None
            ],
            prompt,
            budget_chars,
        )
        for provider in providers
    }


class _History:
    def __init__(self) -> None:
        self.prompts: dict[str, str] = {}  # turn id -> the user's prompt, in conversation order
        self.answers: dict[str, dict[str, str]] = {}  # turn id -> {provider: its answer}
        self.winners: dict[str, str] = {}  # turn id -> the provider its vote chose
        self.complete: set[tuple[str, str]] = set()  # (turn, provider): a later partial waits

    def add(self, row: Mapping) -> None:
        if row["role"] is None:  # the conversation exists but has no messages yet
            return
        turn = row["turn_id"]
        if row["role"] == "user":
            if turn is not None:
                self.prompts[turn] = row["content"]
                if winner := row.get("winner_provider"):
                    self.winners[turn] = winner
        elif row["status"] == "complete":  # rows in id order: a retry's after what it retried
            self.answers.setdefault(turn, {})[row["provider"]] = row["content"]
            self.complete.add((turn, row["provider"]))
        elif (
            row["status"] == "cancelled"
            and row["content"]
            and (turn, row["provider"]) not in self.complete
        ):
            self.answers.setdefault(turn, {})[row["provider"]] = row["content"]

    def answer(self, policy: str, turn: str, provider: str) -> str | None:
        answers = self.answers.get(turn, {})
        if policy == "shared":
            return transcript(answers) if answers else None
        if policy == "winner" and (winner := self.winners.get(turn)) in answers:
            return answers[winner]
        return answers.get(provider)


def transcript(answers: Mapping[str, str]) -> str:
    """Every answer of one turn, labelled by provider, in the providers' usual order."""
    parts = []
    for name in sorted(answers, key=lambda n: (_ORDER.get(n, len(_ORDER)), n)):
        spec = PROVIDERS.get(name)
        parts.append(f"[{spec.display_name if spec else name}]\n{answers[name]}")
    return "\n\n".join(parts)


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
