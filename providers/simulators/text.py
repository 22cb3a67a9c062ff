"""Deterministic simulated answers: the same flavour, prompt and length always give the same tokens.

An answer echoes the prompt, so tests can see that text went through untouched (a prompt holding
``<script>`` yields an answer holding it), then pads with filler words up to exactly ``n`` tokens.
A token is one non-empty piece that carries its own leading whitespace, like ``" word"``, so the
answer is simply the concatenation of its tokens.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Iterable
from functools import lru_cache
from itertools import islice

# Plain words plus a few that need JSON escaping or are not ASCII, so every adapter's decoding
# and every browser's rendering is exercised on each answer.
FILLER_WORDS = (
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
    "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
    "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
    "café", "naïve", "über", "jalapeño", "façade", '"quoted"', "back\\slash", "50%", "a&b",
)  # fmt: skip

_WORD = re.compile(r"\s*\S+")


def answer_tokens(provider: str, prompt: str, n: int) -> list[str]:
    """The ``n`` tokens a ``provider`` flavour's simulator streams for ``prompt``."""
    return list(answer_token_tuple(provider, prompt, n))


def expected_answer(provider: str, prompt: str, n: int) -> str:
    """The full text a client should read back: the tokens joined."""
    return "".join(answer_token_tuple(provider, prompt, n))


@lru_cache(maxsize=512)
def answer_token_tuple(provider: str, prompt: str, n: int) -> tuple[str, ...]:
    # Cached because a load test sends the same prompt thousands of times. Answers are prefixes
    # of each other (the n-token answer starts the (n+1)-token one), which faults rely on.
    words = _WORD.finditer(f"Simulated {provider} answer to: {prompt}")
    head = [word.group() for word in islice(words, n)]  # a long prompt is cut, not scanned
    if len(head) >= n:
        return tuple(head[:n])
    # zlib.crc32, not hash(): str hashes are salted per process and answers must not be.
    start = zlib.crc32(f"{provider}\0{prompt}".encode())
    count = len(FILLER_WORDS)
    filler = [" " + FILLER_WORDS[(start + i) % count] for i in range(n - len(head))]
    return (*head, *filler)


def input_token_count(texts: Iterable[str]) -> int:
    """Input tokens reported in usage: the whitespace-separated words of the system prompt and
    of every message in the request."""
    return sum(len(text.split()) for text in texts)
