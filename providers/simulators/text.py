"""Deterministic simulated answers: the same flavour, prompt and length always give the same tokens.

An answer looks like one: it opens with a plain paragraph that echoes the prompt (so tests can
see that text went through untouched: a prompt holding ``<script>`` yields an answer holding
it), then goes on in Markdown the way that provider tends to write (headings, a list with a
nested level, a table, a code block, a quote or sources), its wording chosen from the prompt and
the provider, and goes on with further sections for as long as ``n`` asks. The opening paragraph
is longer than 60 tokens and has no Markdown marks, so a short answer is plain text.

A token is one non-empty piece that carries its own leading whitespace, like ``" word"`` or
``"\\n\\n##"``, so the answer is simply the concatenation of its tokens, and the n-token answer
is the start of the (n+1)-token one (faults rely on that).
"""

from __future__ import annotations

import itertools
import random
import re
import zlib
from collections.abc import Iterable, Iterator
from functools import lru_cache
from itertools import islice

from providers.simulators.profiles import TYPICAL_TOKENS

_WORD = re.compile(r"\s*\S+")
_TERM = re.compile(r"[A-Za-z][A-Za-z'-]*[A-Za-z]|[A-Za-z]")
_MARKUP = re.compile(r"<[^>]*>|`[^`]*`")  # tags and code in a prompt are not its subject
ECHO_WORDS = 40  # a long prompt is echoed up to this many words

STOP_WORDS = frozenset(
    (
        "a", "an", "the", "and", "or", "but", "of", "to", "in", "on", "for", "with", "by", "at",
        "from", "as", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "these",
        "those", "what", "which", "who", "whom", "how", "why", "when", "where", "do", "does", "did",
        "can", "could", "should", "would", "will", "shall", "may", "might", "must", "i", "me", "my",
        "we", "our", "you", "your", "they", "them", "their", "he", "she", "his", "her", "explain",
        "describe", "tell", "give", "name", "list", "write", "show", "compare", "please", "about",
        "into", "three", "two", "one", "four", "five", "some", "any", "all", "more", "most", "than",
        "then", "so", "very", "just", "also",
    )
)  # fmt: skip

# How each provider opens (at most five words: the prompt follows within a few tokens).
LEADS = {
    "anthropic": "You asked:",
    "openai": "Great question:",
    "gemini": "Here is an overview of:",
    "xai": "Alright, let's tackle",
    "perplexity": "Based on current sources:",
}

INTRO_SENTENCES = (
    "The short version is that {s} gets much easier once you see the few pieces it is made of and how they fit together.",
    "Below I break {s} into its main ideas, compare the usual approaches side by side, and finish with a small worked example.",
    "Most confusion about {s} comes from mixing up what it is with how it is used, so it helps to keep the two apart.",
    "People usually meet {s} in practice long before they see a definition, which is why concrete cases are the best way in.",
    "There are a few trade-offs worth knowing, and the right choice depends mostly on how much time and context you have.",
    "A good mental model matters more than any single fact here, because it lets you work out the details for yourself.",
)

POINT_TERMS = (
    "Core idea", "Why it matters", "Common pitfall", "Rule of thumb", "In practice",
    "Key trade-off", "Where it shows up", "What to watch",
)  # fmt: skip
POINT_SENTENCES = (
    "{s} is best understood through a simple, concrete case first.",
    "small changes in the setup of {s} can have surprisingly large effects.",
    "the most common mistake is treating every case of {s} the same way.",
    "start simple, measure, and only then add detail where it pays off.",
    "experienced people rely on a handful of patterns for {s} rather than memorising rules.",
    "clarity beats cleverness: a plain explanation of {s} usually wins.",
)
SUB_POINTS = (
    "a quick example makes it stick",
    "write down the assumptions first",
    "check the edge cases early",
    "compare two options before choosing",
)
STEPS = (
    "Define what {s} means for your situation in one sentence.",
    "Collect two or three concrete examples.",
    "Compare them and note what they have in common.",
    "Try the simplest approach and see where it breaks.",
    "Refine it, keeping only what clearly helps.",
)
ASPECTS = ("Effort", "Speed", "Accuracy", "Cost", "Learning curve", "Flexibility")
RATINGS = ("Low", "Medium", "High", "Very high", "Moderate", "Minimal")
TIPS = (
    "Tip: if you can explain {s} to a friend in two minutes, you understand it well enough to use it.",
    "Note: the details of {s} vary between sources, so check the one that matches your case.",
    "Remember: a worked example is worth more than another definition of {s}.",
)
CODE = {
    "python": 'def explain(topic: str) -> str:\n    steps = ["define", "example", "compare"]\n    return f"{{topic}}: " + " -> ".join(steps)\n\n\nprint(explain("{s}"))',
    "javascript": 'function explain(topic) {{\n  const steps = ["define", "example", "compare"];\n  return `${{topic}}: ${{steps.join(" -> ")}}`;\n}}\n\nconsole.log(explain("{s}"));',
    "bash": '# a quick look at {s}\ntopic="{s}"\nfor step in define example compare; do\n  echo "$topic: $step"\ndone',
}
SUMMARIES = (
    "In short: {s} rewards a clear mental model, a couple of concrete examples and a willingness to start simple.",
    "Bottom line, {s} is less mysterious than it looks once you separate the idea from the details.",
    "To sum up, pick the approach to {s} that fits your constraints, and revisit it when they change.",
)


def answer_tokens(provider: str, prompt: str, n: int, preface: str = "") -> list[str]:
    """The ``n`` tokens a ``provider`` flavour's simulator streams for ``prompt``; ``preface``
    (what it says about the images it was sent, images.py) comes first."""
    return list(answer_token_tuple(provider, prompt, n, preface))


def expected_answer(provider: str, prompt: str, n: int, preface: str = "") -> str:
    """The full text a client should read back: the tokens joined."""
    return "".join(answer_token_tuple(provider, prompt, n, preface))


@lru_cache(maxsize=512)
def answer_token_tuple(provider: str, prompt: str, n: int, preface: str = "") -> tuple[str, ...]:
    # Cached because a load test sends the same prompt thousands of times.
    tokens: list[str] = []
    if n <= 0:
        return ()
    blocks = answer_blocks(provider, prompt)
    if preface:
        blocks = itertools.chain(
            (preface,),
            (("\n\n" + b if i == 0 else b) for i, b in enumerate(blocks)),  # type: ignore[operator]  # preface is set here
        )
    for block in blocks:
        if block is END:
            continue
        for word in _WORD.finditer(block):
            tokens.append(word.group())
            if len(tokens) == n:
                return tuple(tokens)
    raise AssertionError("answer_blocks never ends")  # pragma: no cover


@lru_cache(maxsize=512)
def natural_length(provider: str, prompt: str) -> int:
    """Tokens up to where the answer ends by itself (its closing words): the knob natural=1
    ends the stream there."""
    count = 0
    for block in answer_blocks(provider, prompt):
        if block is END:
            return count
        count += count_tokens(block)
    raise AssertionError("answer_blocks has no end")  # pragma: no cover


END = None  # in answer_blocks: the answer's natural end (what follows is more of the same)


def count_tokens(text: str) -> int:
    return sum(1 for _ in _WORD.finditer(text))


def answer_blocks(provider: str, prompt: str) -> Iterator[str | None]:
    """The answer as Markdown blocks, each after the first starting with its blank line: the
    provider's usual shape, as many further sections as bring it to that provider's typical
    length, its closing, END, then further sections without end."""
    # zlib.crc32, not hash(): str hashes are salted per process and answers must not be.
    rng = random.Random(zlib.crc32(f"{provider}\0{prompt}".encode()))
    subject = subject_of(prompt)
    shape, closing_blocks = SHAPES.get(provider, SHAPES["anthropic"])
    blocks = [opening(provider, prompt, subject, rng)]
    blocks += ["\n\n" + block for block in shape(subject, rng)]
    body, closing = blocks[:-closing_blocks], blocks[-closing_blocks:]
    used = sum(count_tokens(block) for block in blocks)
    target = TYPICAL_TOKENS.get(provider, 0)
    further = further_sections(subject, rng)
    yield from body
    while True:
        section = next(further)
        size = sum(count_tokens(block) for block in section)
        if used + size // 2 > target:
            break
        yield from section
        used += size
    yield from closing
    yield END
    yield from section
    for section in further:
        yield from section


# What a longer answer goes on with, in an order drawn per prompt and provider.
FURTHER_HEADINGS = (
    "A closer look", "Common questions", "Pitfalls to avoid", "When to use it",
    "Related ideas", "Going further", "A worked example", "What experts do differently",
)  # fmt: skip


def further_sections(subject: str, rng: random.Random) -> Iterator[list[str]]:
    """Sections without end, each a list of blocks."""
    rounds = 0
    while True:
        for heading in rng.sample(FURTHER_HEADINGS, len(FURTHER_HEADINGS)):
            suffix = f" (continued {rounds})" if rounds else ""
            paragraph = " ".join(fill(rng.sample(INTRO_SENTENCES, 2), subject))
            kind = rng.randrange(3)
            extra = (bullets(subject, rng, count=3), steps(subject, rng), quote(subject, rng))[kind]
            yield [f"\n\n## {heading}{suffix}", "\n\n" + paragraph, "\n\n" + extra]
        rounds += 1


def subject_of(prompt: str) -> str:
    """What the prompt is about: its longest run of content words ("of" may join them), at most
    four; letters only, so never Markdown or markup. "What is the capital of Australia?" ->
    "capital of Australia"."""
    words = _TERM.findall(_MARKUP.sub(" ", prompt))
    best: list[str] = []
    run: list[str] = []
    for i, word in enumerate(words):
        lower = word.lower()
        if lower not in STOP_WORDS:
            run.append(lower if i == 0 else word)
        elif not (lower == "of" and run):
            run = []
        if len(run) > len(best) and run[-1].lower() != "of":
            best = list(run)
        if lower == "of" and run:
            run.append("of")
    return " ".join(best[:4]) if best else "this question"


def opening(provider: str, prompt: str, subject: str, rng: random.Random) -> str:
    echo = "".join(word.group() for word in islice(_WORD.finditer(prompt), ECHO_WORDS))
    sentences = fill(rng.sample(INTRO_SENTENCES, 3), subject)
    if provider == "perplexity":
        sentences = [f"{s[:-1]} [{i + 1}]." for i, s in enumerate(sentences)]
    lead = LEADS.get(provider, "You asked:")
    return f"{lead} {echo.strip()} — " + " ".join(sentences)


def fill(templates: Iterable[str], subject: str) -> list[str]:
    out = []
    for template in templates:
        text = template.format(s=subject)
        out.append(text[0].upper() + text[1:])
    return out


def bullets(subject: str, rng: random.Random, count: int = 4, nested: bool = False) -> str:
    terms = rng.sample(POINT_TERMS, count)
    sentences = fill(rng.sample(POINT_SENTENCES, count), subject)
    lines = []
    for i, (term, sentence) in enumerate(zip(terms, sentences, strict=True)):
        lines.append(f"- **{term}**: {sentence}")
        if nested and i == 1:
            lines.extend(f"  - {sub}" for sub in rng.sample(SUB_POINTS, 2))
    return "\n".join(lines)


def steps(subject: str, rng: random.Random) -> str:
    chosen = fill(STEPS[: rng.randint(3, 5)], subject)
    return "\n".join(f"{i}. {step}" for i, step in enumerate(chosen, 1))


def table(subject: str, rng: random.Random) -> str:
    a, b = ("Simple approach", "Thorough approach")
    rows = [f"| Aspect | {a} | {b} |", "|---|:---:|:---:|"]
    for aspect in rng.sample(ASPECTS, 3):
        left, right = rng.sample(RATINGS, 2)
        rows.append(f"| {aspect} | {left} | {right} |")
    return "\n".join(rows)


def code(subject: str, language: str) -> str:
    return f"```{language}\n{CODE[language].format(s=subject)}\n```"


def quote(subject: str, rng: random.Random) -> str:
    return "> " + fill([rng.choice(TIPS)], subject)[0]


def summary(subject: str, rng: random.Random) -> str:
    return fill([rng.choice(SUMMARIES)], subject)[0]


def wiki(subject: str) -> str:
    return "https://en.wikipedia.org/wiki/Special:Search?search=" + subject.replace(" ", "+")


# Each provider's usual shape of an answer.
def claude_shape(s: str, rng: random.Random) -> list[str]:
    return [
        "## Key ideas", bullets(s, rng, nested=True),
        "## How the approaches compare", table(s, rng),
        "## A small example", code(s, "python"),
        quote(s, rng),
        "## In short", summary(s, rng),
    ]  # fmt: skip


def chatgpt_shape(s: str, rng: random.Random) -> list[str]:
    return [
        "## 1. Overview", " ".join(fill(rng.sample(INTRO_SENTENCES, 2), s)),
        "## 2. Key points", bullets(s, rng, nested=True),
        "## 3. Step by step", steps(s, rng),
        "## 4. Comparison", table(s, rng),
        "## 5. Example", code(s, "javascript"),
        "---",
        f"**TL;DR**: {summary(s, rng)}",
    ]  # fmt: skip


def gemini_shape(s: str, rng: random.Random) -> list[str]:
    return [
        "### Main concepts", bullets(s, rng, count=5, nested=True),
        "### Comparison at a glance", table(s, rng),
        "### Practical tips", steps(s, rng),
        "### Example", code(s, "python"),
        "### Conclusion", summary(s, rng),
        f"Learn more: [{s} on Wikipedia]({wiki(s)})",
    ]  # fmt: skip


def grok_shape(s: str, rng: random.Random) -> list[str]:
    return [
        f"**The gist:** {summary(s, rng)}",
        "## Breaking it down", bullets(s, rng, nested=True),
        "## Quick comparison", table(s, rng),
        "## Code, because why not", code(s, "bash"),
        "## Bottom line", " ".join(fill(rng.sample(INTRO_SENTENCES, 2), s)),
    ]  # fmt: skip


def perplexity_shape(s: str, rng: random.Random) -> list[str]:
    return [
        "## Key findings", bullets(s, rng, count=3),
        "## Comparison", table(s, rng),
        "## Example", code(s, "python"),
        "## Sources",
        f"1. [Overview of {s}]({wiki(s)})\n2. [{s} explained](https://simple.wikipedia.org/wiki/Main_Page)",
    ]  # fmt: skip


# Each shape, and how many of its last blocks are its closing (further sections go before).
SHAPES = {
    "anthropic": (claude_shape, 2),
    "openai": (chatgpt_shape, 2),
    "gemini": (gemini_shape, 3),
    "xai": (grok_shape, 2),
    "perplexity": (perplexity_shape, 2),
}


def input_token_count(texts: Iterable[str]) -> int:
    """Input tokens reported in usage: the whitespace-separated words of the system prompt and
    of every message in the request."""
    return sum(len(text.split()) for text in texts)
