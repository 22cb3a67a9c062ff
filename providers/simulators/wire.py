"""What every simulated API shares: the request it understands, replies, and the event encoder shape.

Each vendor API's module (anthropic, openai_chat, openai_responses, gemini, xai, perplexity)
subclasses ``SimulatedApi`` for request parsing, keys and error bodies, and ``EventStream`` for
the bytes of each event. Events are built from
precomputed byte prefixes and suffixes around the JSON-encoded text, never by serialising a dict
per token, because the simulator is the baseline of the load benchmark.
"""

from __future__ import annotations

import http
import os
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson

from providers.simulators.images import ImageFacts
from providers.simulators.knobs import split_model
from providers.simulators.thoughts import NONE, Reasoning

Headers = list[tuple[bytes, bytes]]

JSON = b"application/json"
SSE = b"text/event-stream"
SSE_UTF8 = b"text/event-stream; charset=utf-8"

NOT_STREAMING = "The simulator only streams responses: set stream to true."


@dataclass(frozen=True, slots=True)
class Reply:
    """A complete, non-streamed HTTP response: errors, and the /_sim endpoints."""

    status: int
    body: bytes
    content_type: bytes = JSON
    headers: tuple[tuple[bytes, bytes], ...] = ()


class RejectedRequest(Exception):
    """Raised while reading a request; carries the provider-shaped reply to send instead."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


@dataclass(slots=True)
class SimulatedCall:
    """What the simulator needs from a request, whatever its wire format."""

    model: str  # without the knob suffix
    knobs: str  # the model name's knob suffix, "" when there is none
    prompt: str  # the text of the last user message
    input_tokens: int
    max_tokens: int | None  # the request's own output limit, if it set one
    body: Any  # the parsed JSON, for wire-specific options and the request log
    images: tuple[ImageFacts, ...] = ()  # of the last user message, in order
    # The effort asked for, as the API spells it (None: no reasoning), and whether the API
    # streams the reasoning text; exchange.py turns them into ``reasoning`` with the knobs.
    reasoning_level: str | None = None
    reasoning_visible: bool = False
    reasoning: Reasoning = NONE


class EventStream:
    """Encodes the events of one streamed answer. A new instance per response, because some
    formats repeat running totals (accumulated text, cumulative usage) on every event.

    ``piece`` is always the JSON string literal of the text (``b'"Hi"'``); ``emitted`` is the
    number of answer tokens sent so far, this event included; ``finish`` is stop | length.
    """

    __slots__ = ()

    separator: ClassVar[bytes] = b"\n\n"  # the blank line that ends an event

    def opening(self) -> bytes:
        """Events before the first text or reasoning (message_start, role chunk); may be empty."""
        return b""

    def thinking(self, piece: bytes) -> bytes:
        """A piece of reasoning text, in the API's own format (only if it streams reasoning)."""
        raise NotImplementedError

    def thinking_end(self) -> bytes:
        """What closes the reasoning and opens the answer (signature, block stop ...); called
        once after the reasoning, whether any was streamed or not; may be empty."""
        return b""

    def text(self, piece: bytes, emitted: int) -> bytes:
        raise NotImplementedError

    def ending(self, finish: str, emitted: int) -> bytes:
        """The finish reason, usage and terminator of a complete answer."""
        raise NotImplementedError

    def error(self) -> bytes:
        """The provider's in-stream error, sent after a 200 (fault=midstream)."""
        raise NotImplementedError


class SimulatedApi:
    """One provider API: its endpoint, key check, request parsing and error bodies."""

    flavour: ClassVar[str]
    # Relative to the flavour's simulator_prefix; a trailing "/" makes it a prefix match whose
    # rest (Gemini's "v1beta/models/{model}:streamGenerateContent") is handed to parse().
    endpoint: ClassVar[str]
    # Whether the request's output limit counts reasoning tokens too (xAI's does not).
    limit_counts_reasoning: ClassVar[bool] = True

    def check_key(self, headers: dict[bytes, bytes], query: bytes, key: str) -> Reply | None:
        """None if the request carries ``key``, else the provider's own bad-key reply."""
        raise NotImplementedError

    def parse(
        self, body: bytes, headers: dict[bytes, bytes], query: bytes, rest: str
    ) -> SimulatedCall:
        """Raises RejectedRequest with a provider-shaped 400 for a request the real API would refuse."""
        raise NotImplementedError

    def error(
        self,
        status: int,
        message: str | None = None,
        *,
        model: str = "",
        retry_after: float = 1.0,
        quota: bool = False,
    ) -> Reply:
        """The provider's error reply for an HTTP status (its own body shape and headers);
        ``message`` replaces the provider's stock message for that status."""
        raise NotImplementedError

    def stream_headers(self) -> Headers:
        """Headers of a 200 stream, content-type included."""
        raise NotImplementedError

    def event_stream(self, request: SimulatedCall) -> EventStream:
        raise NotImplementedError

    def invalid(self, message: str) -> RejectedRequest:
        return RejectedRequest(self.error(400, message))


# -- helpers shared by the wire modules ---------------------------------------------------------


def load_object(api: SimulatedApi, body: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise api.invalid("The request body is not valid JSON.") from None
    if not isinstance(value, dict):
        raise api.invalid("The request body must be a JSON object.")
    return value


def model_of(api: SimulatedApi, body: dict[str, Any]) -> tuple[str, str]:
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise api.invalid("model: Field required")
    return split_model(model)


def content_text(content: Any) -> str:
    """A message's text: a string, or the text parts of a list of blocks (``{"text": …}``)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def int_or_none(value: Any) -> int | None:
    return value if type(value) is int else None


def bearer_token(headers: dict[bytes, bytes]) -> str | None:
    value = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def random_id(size: int) -> str:
    """``size`` random hex digits; ids differ per response like the real ones."""
    return os.urandom((size + 1) // 2).hex()[:size]


def phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def seconds_text(value: float) -> str:
    """1.0 -> "1", 1.5 -> "1.5": how retry-after and RetryInfo spell seconds."""
    return f"{value:g}"


def last_user_text(messages: list[Any]) -> str:
    """The prompt: the text of the last ``role: user`` message of a messages-style request."""
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "user":
            return content_text(message.get("content"))
    return ""


def mask_key(key: str, head: int, tail: int) -> str:
    """How providers echo a wrong key: a few characters of each end around asterisks."""
    if len(key) <= head + tail:
        return "*" * len(key)
    return f"{key[:head]}***{key[-tail:] if tail else ''}"
