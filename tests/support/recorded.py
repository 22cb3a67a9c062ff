"""The recorded upstream traffic in tests/data/adapters: streams byte for byte (``.sse`` files,
LF or CRLF framed as sent) and the providers' error bodies before a stream starts."""

from __future__ import annotations

import json
from typing import Any

import pytest

from providers.chunks import Citations, Echo, Finish, Thinking, Usage
from tests.support.paths import DATA

ADAPTERS = DATA / "adapters"


def recorded_stream(name: str) -> bytes:
    """The exact bytes of ``tests/data/adapters/streams/<name>.sse``."""
    return (ADAPTERS / "streams" / f"{name}.sse").read_bytes()


def pre_stream_errors() -> list[dict[str, Any]]:
    """Each case of ``errors-before-the-stream.json``: ``id``, ``provider``, ``status``, optional
    ``headers``, the body as ``json`` or ``text``, and the ``expected`` ProviderError fields."""
    return json.loads((ADAPTERS / "errors-before-the-stream.json").read_text())


# -- each recorded stream, and the events an adapter makes of it ----------------------------


# Recorded June 2026, gpt-4o-mini with include_usage: obfuscation, usage:null, a usage chunk.
OPENAI_2026 = recorded_stream("openai-2026")

# The 2024 shape: no usage, obfuscation or service_tier keys; content null or missing.
OPENAI_2024 = recorded_stream("openai-2024")

# Recorded, grok-4-fast, with grok-code-fast-1's recorded reasoning_content chunk in front.
XAI_GROK_4_FAST = recorded_stream("xai-grok-4-fast")

HORSE = "https://www.horseandhound.co.uk/dogs/funny-dog-jokes-829701"
RD = "https://www.rd.com/article/dog-jokes/"
AKC = "https://www.akc.org/expert-advice/lifestyle/dog-jokes/"

# The first chunk is the recorded Mar 2025 one (spaces after ":" and ","); no [DONE].
PERPLEXITY = recorded_stream("perplexity-sonar")

# Recorded: the Anthropic SDK fixture tests/lib/streaming/fixtures/basic_response.txt.
ANTHROPIC_BASIC = recorded_stream("anthropic-basic")

# Recorded Mar 2026 (claude-sonnet-4), padded JSON: message_start, message_delta, message_stop
# are verbatim; the blocks between them, elided in the reference, are filled in.
ANTHROPIC_2026 = recorded_stream("anthropic-2026")

# Recorded (prism fixture, gemini-2.5-flash), sent with the CRLF framing of the wire.
GEMINI_25_FLASH = recorded_stream("gemini-2.5-flash")

# gemini-3-pro-preview: the final chunk has empty text and a thoughtSignature (recorded shape).
GEMINI_3_PRO = recorded_stream("gemini-3-pro")

RECORDED = [
    pytest.param(
        "chatgpt", OPENAI_2026, ["Olá", Finish("stop", "stop"), Usage(20, 2, 0)], id="openai-2026"
    ),
    pytest.param(
        "chatgpt", OPENAI_2024, ["This", " is a test", Finish("length", "length")], id="openai-2024"
    ),
    pytest.param(
        "grok",
        XAI_GROK_4_FAST,
        # reasoning_content is reasoning; xAI counts its tokens apart from completion_tokens
        [Thinking("First"), "Olá", "!", Finish("stop", "stop"), Usage(165, 131, 129)],
        id="xai",
    ),
    pytest.param(
        "perplexity",
        PERPLEXITY,
        [
            "Why",
            " did the dog",
            " sit? [1][3]",
            Citations((HORSE, RD, AKC)),
            Finish("stop", "stop"),
            Usage(7, 8),
        ],
        id="perplexity",
    ),
    pytest.param(
        "claude",
        ANTHROPIC_BASIC,
        ["Hello", " there", Finish("stop", "end_turn"), Usage(11, 6)],
        id="anthropic-basic",
    ),
    pytest.param(
        "claude",
        ANTHROPIC_2026,
        ["Olá! ", "Tudo bem?", Finish("stop", "end_turn"), Usage(16, 38)],
        id="anthropic-2026",
    ),
    pytest.param(
        "gemini",
        GEMINI_25_FLASH,
        [
            "The weather in San Francisco is",
            " sunny and 65.",
            Finish("stop", "STOP"),
            Usage(109, 12),
        ],
        id="gemini-2.5",
    ),
    pytest.param(
        "gemini",
        GEMINI_3_PRO,
        # candidatesTokenCount leaves the thoughts out; the signature is kept to send back
        [
            "Olá! Como posso",
            " ajudar?",
            Finish("stop", "STOP"),
            Usage(11, 245, 206),
            Echo({"model": "gemini-3.5-flash", "signature": "EpQHCpEHAdHtim9"}),
        ],
        id="gemini-3",
    ),
]
