"""Deterministic simulated reasoning: what a simulated model "thinks" before it answers.

Like the answers (text.py), the same flavour, prompt and length always give the same tokens,
and the n-token reasoning is the start of the (n+1)-token one. It reads like the summaries the
APIs stream: a bold heading, then a few plain sentences about the prompt's subject.

How much a model thinks follows the level it was asked for (``LEVEL_TOKENS``), unless the
``thinking`` knob says how many tokens exactly.
"""

from __future__ import annotations

import random
import re
import zlib
from dataclasses import dataclass
from functools import lru_cache

from providers.simulators.text import subject_of

_WORD = re.compile(r"\s*\S+")

LEVEL_TOKENS = {"minimal": 6, "low": 16, "medium": 32, "high": 56}

HEADINGS = (
    "Understanding the question",
    "Weighing the options",
    "Planning the answer",
    "Checking the details",
)
SENTENCES = (
    "The user is asking about {s}, so I should start from what it is before how it is used.",
    "A short example of {s} will make the explanation concrete.",
    "I need to keep the answer focused and leave out details that do not help.",
    "There are a couple of common misunderstandings about {s} worth addressing.",
    "Comparing two approaches side by side should make the trade-offs clear.",
    "I will structure the answer with a few headings and end with a summary.",
    "Let me double-check that nothing important about {s} is missing.",
    "If an image came with the question, I should describe what it shows first.",
)


@dataclass(frozen=True, slots=True)
class Reasoning:
    """What a simulated model does before answering: ``shown`` tokens of reasoning text are
    streamed in the API's format, ``tokens`` reasoning tokens are counted in the usage (at
    least ``shown``: hidden reasoning is counted, not streamed)."""

    shown: int = 0
    tokens: int = 0
    level: str | None = None  # the effort asked for, as the API spells it

    def __bool__(self) -> bool:
        return self.tokens > 0


NONE = Reasoning()


def planned(level: str | None, knob: int | None, *, visible: bool) -> Reasoning:
    """The reasoning for an effort level (None or "none": no reasoning at all)."""
    if level is None or level == "none":
        return NONE
    tokens = knob if knob is not None else LEVEL_TOKENS.get(level, LEVEL_TOKENS["medium"])
    return Reasoning(tokens if visible else 0, tokens, level)


@lru_cache(maxsize=256)
def thinking_token_tuple(flavour: str, prompt: str, n: int) -> tuple[str, ...]:
    if n <= 0:
        return ()
    rng = random.Random(zlib.crc32(f"thinking\0{flavour}\0{prompt}".encode()))
    subject = subject_of(prompt)
    tokens: list[str] = []
    paragraph = 0
    while True:
        heading = HEADINGS[paragraph % len(HEADINGS)]
        body = " ".join(s.format(s=subject) for s in rng.sample(SENTENCES, 3))
        block = f"**{heading}**\n\n{body}"
        if paragraph:
            block = "\n\n" + block
        for word in _WORD.finditer(block):
            tokens.append(word.group())
            if len(tokens) == n:
                return tuple(tokens)
        paragraph += 1


def expected_thinking(flavour: str, prompt: str, n: int) -> str:
    """The reasoning text a client should read back."""
    return "".join(thinking_token_tuple(flavour, prompt, n))
