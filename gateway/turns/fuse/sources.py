"""What a fusion draws on: the turn's complete answers (all, or the ones named), and the judge's
prompt, which holds the user's prompt and each answer marked with its source.

A blind turn (fused only after its vote) names its answers by label to the judge too: the
judge should weigh what the answers say, not who said them. The client may name an answer by
its provider or, in a blind turn, by its label.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.turns.errors import Conflict, InvalidChoice
from gateway.turns.fuse.state import providers_only
from gateway.turns.replay import StoredTurn
from gateway.turns.turn import Turn
from providers import PROVIDERS


@dataclass(frozen=True, slots=True)
class Source:
    provider: str
    model: str
    label: str | None
    status: str
    message_id: int | None
    content: str

    @property
    def shown(self) -> str:
        """How the judge's prompt names it."""
        if self.label is not None:
            return f"Answer {self.label}"
        spec = PROVIDERS.get(self.provider)
        name = spec.display_name if spec is not None else self.provider
        return f"{name} ({self.model})"


def sources_of_turn(turn: Turn) -> list[Source]:
    """Each provider's latest answer, from a turn in memory (running or ended)."""
    return [
        Source(
            name,
            leg.model,
            leg.label,
            leg.status,
            leg.message_id,
            leg.done["content"] if leg.done is not None else "",
        )
        for name, leg in providers_only(turn.legs).items()
    ]


def sources_of_record(stored: StoredTurn) -> list[Source]:
    """Each provider's latest answer, from the turn's record."""
    sources = []
    for entry in stored.row["providers"]:
        answer = stored.answers.get(entry["provider"])
        sources.append(
            Source(
                entry["provider"],
                answer["model"] if answer else entry["model"],
                entry.get("label"),
                answer["status"] if answer else "pending",
                answer["id"] if answer else None,
                answer["content"] if answer else "",
            )
        )
    return sources


def choose_sources(sources: Sequence[Source], named: Sequence[str] | None) -> list[Source]:
    """The answers to fuse, in the turn's order: every complete one, or the named ones (by
    provider or label), each of which must be complete."""
    if named is None:
        chosen = [s for s in sources if s.status == "complete" and s.message_id is not None]
        if not chosen:
            raise Conflict("this turn has no complete answer to fuse yet")
        return chosen
    if not named:
        raise InvalidChoice("answers: name at least one answer, or leave it out for all")
    by_name = {s.provider: s for s in sources} | {s.label: s for s in sources if s.label}
    unknown = [name for name in named if name not in by_name]
    if unknown:
        raise InvalidChoice(
            f"answers: {', '.join(map(repr, unknown))} not in this turn "
            f"(it has {', '.join(sorted(s.label or s.provider for s in sources))})"
        )
    picked = {by_name[name].provider for name in named}
    if len(picked) < len(named):
        raise InvalidChoice("answers: an answer is named twice")
    chosen = [s for s in sources if s.provider in picked]
    unfinished = [s.label or s.provider for s in chosen if s.status != "complete"]
    if unfinished:
        raise Conflict(f"answers: {', '.join(unfinished)} has no complete answer to fuse")
    return chosen


INSTRUCTIONS = """\
Below is a user's prompt and {count} answers to it, each from a different AI model. Write the \
one best answer to the prompt by fusing them: keep what is correct, useful and well said in \
any of them, settle their disagreements by what is right, and leave out their mistakes and \
repetitions. Answer the user directly, in the prompt's language, as a single answer of your \
own: do not mention the answers, their authors or this fusion."""


def judge_prompt(prompt: str, sources: Sequence[Source], instructions: str | None) -> str:
    """What the judge is asked: the prompt, each answer marked with its source, and the
    client's instructions, if any."""
    parts = [INSTRUCTIONS.format(count=len(sources))]
    if instructions and instructions.strip():
        parts.append(f"Further instructions from the user:\n{instructions.strip()}")
    parts.append(f"<prompt>\n{prompt}\n</prompt>")
    for source in sources:
        parts.append(f'<answer source="{source.shown}">\n{source.content}\n</answer>')
    return "\n\n".join(parts)
