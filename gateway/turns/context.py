"""Each provider's view of a conversation, by the conversation's context policy.

* ``isolated`` (the default): the user's prompts and the provider's OWN earlier answers.
* ``winner``: after a turn's vote, every provider continues from the voted answer as if it were
  its own; a turn without a winner (no vote, a tie, all bad) is seen as under ``isolated``.
* ``shared``: every provider sees every answer of each earlier turn, as one assistant message
  that is a transcript labelled by provider (``[Claude]``, then its answer, and so on).
* ``fused``: every provider continues from the turn's fused answer (its latest complete
  fusion, ``gateway.turns.fuse``) as if it were its own; a turn never fused is seen as under
  ``isolated``. Under the other policies a fusion is no provider's answer and is not seen.

A turn where the provider has nothing to continue from (it failed, or was not asked, under
``isolated``) is left out whole, prompt and all, so user and assistant still alternate, which
Anthropic and Perplexity require. A cancelled answer that had text is kept: the user saw it.
A provider retried in a turn has several answers there: its latest complete one is used (else
its latest cancelled one with text). The oldest pairs are dropped first to fit the budget
(counted in characters of text: images go with their prompt, whatever their size).

Prompts keep their images (``images``: the uploads' bytes by id), and a provider's own
answers keep what its API asked to have back with them (their Echo: signatures); an answer
seen as another provider's (``winner``, ``shared``) goes without.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from providers import PROVIDERS, Image, Message

POLICIES = ("isolated", "winner", "shared", "fused")
FUSE = "fuse"  # the provider name a fusion is stored under (gateway.turns.fuse.state)
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


def upload_ids(rows: Iterable[Mapping]) -> set[str]:
    """Every upload the prompts of these rows hold (whose bytes build_threads needs)."""
    return {id for row in rows if row["role"] == "user" for id in row.get("upload_ids") or ()}


def build_threads(
    rows: Iterable[Mapping],
    providers: Sequence[str],
    prompt: str,
    budget_chars: int,
    policy: str = "isolated",
    *,
    images: Mapping[str, Image] | None = None,
    attachments: Sequence[Image] = (),
) -> dict[str, list[Message]]:
    """``attachments``: the new prompt's images; ``images``: the earlier prompts' by id."""
    history = _History(images or {})
    for row in rows:
        history.add(row)
    question = Message("user", prompt, tuple(attachments))
    return {
        provider: _fit(
            [
                (asked, answer)
                for turn, asked in history.prompts.items()
                if (answer := history.answer(policy, turn, provider)) is not None
            ],
            question,
            budget_chars,
        )
        for provider in providers
    }


class _History:
    def __init__(self, images: Mapping[str, Image]) -> None:
        self.images = images
        self.prompts: dict[str, Message] = {}  # turn id -> the user's prompt, in order
        self.answers: dict[str, dict[str, Message]] = {}  # turn id -> {provider: its answer}
        self.winners: dict[str, str] = {}  # turn id -> the provider its vote chose
        self.complete: set[tuple[str, str]] = set()  # (turn, provider): a later partial waits

    def add(self, row: Mapping) -> None:
        if row["role"] is None:  # the conversation exists but has no messages yet
            return
        turn = row["turn_id"]
        if row["role"] == "user":
            if turn is not None:
                ids = row.get("upload_ids") or ()
                pictures = tuple(self.images[id] for id in ids if id in self.images)
                self.prompts[turn] = Message("user", row["content"], pictures)
                if winner := row.get("winner_provider"):
                    self.winners[turn] = winner
        elif row["status"] == "complete":  # rows in id order: a retry's after what it retried
            self.answers.setdefault(turn, {})[row["provider"]] = answer_message(row)
            self.complete.add((turn, row["provider"]))
        elif (
            row["status"] == "cancelled"
            and row["content"]
            and (turn, row["provider"]) not in self.complete
        ):
            self.answers.setdefault(turn, {})[row["provider"]] = answer_message(row)

    def answer(self, policy: str, turn: str, provider: str) -> Message | None:
        answers = dict(self.answers.get(turn, {}))
        fusion = answers.pop(FUSE, None)
        if policy == "fused" and fusion is not None and (turn, FUSE) in self.complete:
            return Message("assistant", fusion.content)
        if policy == "shared":
            if not answers:
                return None
            return Message("assistant", transcript({p: m.content for p, m in answers.items()}))
        if policy == "winner" and (winner := self.winners.get(turn)) in answers:
            chosen = answers[winner]
            return chosen if winner == provider else Message("assistant", chosen.content)
        return answers.get(provider)


def answer_message(row: Mapping) -> Message:
    return Message("assistant", row["content"], echo=row.get("echo"))


def transcript(answers: Mapping[str, str]) -> str:
    """Every answer of one turn, labelled by provider, in the providers' usual order."""
    parts = []
    for name in sorted(answers, key=lambda n: (_ORDER.get(n, len(_ORDER)), n)):
        spec = PROVIDERS.get(name)
        parts.append(f"[{spec.display_name if spec else name}]\n{answers[name]}")
    return "\n\n".join(parts)


def _fit(pairs: list[tuple[Message, Message]], prompt: Message, budget_chars: int) -> list[Message]:
    used = len(prompt.content)
    kept: list[tuple[Message, Message]] = []
    for question, answer in reversed(pairs):
        used += len(question.content) + len(answer.content)
        if used > budget_chars:
            break
        kept.append((question, answer))
    thread: list[Message] = []
    for question, answer in reversed(kept):
        thread.append(question)
        thread.append(answer)
    thread.append(prompt)
    return thread
