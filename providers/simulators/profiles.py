"""Each simulated provider's own default pace and length, so a demo compares something.

The figures are of the order published for each provider's default model family by
Artificial Analysis (https://artificialanalysis.ai/leaderboards/models, 2025 medians of output
speed and time to first token, rounded) and typical answer lengths for a general question.
They are defaults for a demo, not measurements: tests and benchmarks set their own knobs.
A simulator token is one word, so "tokens per second" here is words per second.

Used only when the process sets no defaults of its own (``SimulatorConfig(defaults=None)``,
``multichat simulate`` without ``--tokens/--ttft/--gap/--chunk``); the ``x-simulator`` header
and the model-name suffix override them knob by knob.
"""

from __future__ import annotations

from providers.simulators.knobs import Knobs


def paced(tokens: int, ttft_ms: float, tokens_per_second: float, chunk: int = 1) -> Knobs:
    """Knobs for an answer of about ``tokens`` at ``tokens_per_second``, ``chunk`` tokens per
    event. The answer ends where its text does (``natural``: text.py writes it to about
    ``tokens``, more or less with the prompt), ``tokens`` * 1.5 at the most."""
    return Knobs(
        tokens=tokens * 3 // 2,
        ttft=ttft_ms,
        gap=round(1000 * chunk / tokens_per_second, 1),
        chunk=chunk,
        natural=True,
    )


# Typical answer length in tokens (words), which text.py writes each answer to.
TYPICAL_TOKENS = {"anthropic": 340, "openai": 480, "gemini": 560, "xai": 400, "perplexity": 240}

PROFILES: dict[str, Knobs] = {
    # Claude Sonnet: about 55 tokens/s, first token after about 1.2 s; medium-length answers.
    "anthropic": paced(tokens=TYPICAL_TOKENS["anthropic"], ttft_ms=1200, tokens_per_second=55),
    # GPT-5-class chat: about 120 tokens/s, first token after about 0.7 s; long, sectioned answers.
    "openai": paced(tokens=TYPICAL_TOKENS["openai"], ttft_ms=700, tokens_per_second=120),
    # Gemini Flash: about 230 tokens/s, first token after about 0.45 s, streamed in bigger
    # chunks; the longest answers.
    "gemini": paced(tokens=TYPICAL_TOKENS["gemini"], ttft_ms=450, tokens_per_second=230, chunk=4),
    # Grok 4 thinks before it answers: first token after about 2.5 s, then about 75 tokens/s.
    "xai": paced(tokens=TYPICAL_TOKENS["xai"], ttft_ms=2500, tokens_per_second=75),
    # Perplexity Sonar Pro searches first (about 1.6 s), then about 90 tokens/s; short answers.
    "perplexity": paced(tokens=TYPICAL_TOKENS["perplexity"], ttft_ms=1600, tokens_per_second=90),
}


def profile(flavour: str) -> Knobs:
    """The flavour's demo defaults (plain Knobs() for a flavour without a profile)."""
    return PROFILES.get(flavour, Knobs())
