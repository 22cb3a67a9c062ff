"""What the three wire formats share: the stream driver, threads, finish reasons and errors.

An adapter module keeps only what is particular to its API: the request body, a
``StreamReader`` for its chunks, and how to read its error bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence

import httpx
import orjson

from providers.base import (
    RETRYABLE_STATUS,
    Echo,
    Event,
    Finish,
    Image,
    Message,
    ProviderError,
    Thinking,
    Usage,
    retry_after_seconds,
)
from providers.sse import SSEDecoder
from providers.transport import Reader, body_reader

# After the terminator, how long to wait for the server to close the body: reading it to the
# end lets httpx reuse the connection, but a server that keeps it open must not stall us.
DRAIN_TIMEOUT = 1.0

# -- requests ---------------------------------------------------------------------------------


def json_headers(auth: dict[str, str | None]) -> dict[str, str]:
    """Headers for a JSON POST that streams SSE back, plus the auth headers that have a value."""
    # identity: the decoder reads raw bytes, and small SSE flushes compress poorly anyway.
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream",
        "accept-encoding": "identity",
    }
    headers.update((name, value) for name, value in auth.items() if value is not None)
    return headers


def json_body(value: object) -> bytes:
    """A request body as JSON, in a bytes object of its own size. orjson's result sits in a
    4 KB allocation whatever its length (measured with tracemalloc, orjson 3.x), and a
    request body lives as long as its stream: 4 KB per open upstream stream, for ~200 bytes."""
    return bytes(memoryview(orjson.dumps(value)))


def merge_turns(thread: Sequence[Message]) -> list[Message]:
    """The thread as strictly alternating turns, opening with the user.

    Anthropic, Perplexity and Gemini reject two messages of one role in a row, and an answer
    whose prompt was trimmed away (a leading assistant turn) is context without its question.
    Blank messages without images are dropped: Anthropic rejects empty content. Merged
    messages keep their texts and images in order, and lose their Echo: it belonged to one
    answer.
    """
    turns: list[Message] = []
    for message in thread:
        blank = not message.content.strip() and not message.images
        if blank or (not turns and message.role != "user"):
            continue
        if turns and turns[-1].role == message.role:
            last = turns[-1]
            text = f"{last.content}\n\n{message.content}" if last.content else message.content
            turns[-1] = Message(message.role, text, last.images + message.images)
        else:
            turns.append(message)
    return turns


def refuse_images(
    name: str,
    turns: Sequence[Message],
    types: Sequence[str],
    *,
    max_base64: int | None = None,
) -> None:
    """Raise a clear ProviderError, before anything is sent, for an image this API never
    takes: a type outside ``types``, or more than ``max_base64`` characters of base64."""
    for message in turns:
        for image in message.images:
            if image.media_type not in types:
                takes = ", ".join(t.removeprefix("image/").upper() for t in types)
                raise unsupported(name, f"{image.short_type} images (it takes {takes})")
            if max_base64 is not None and base64_size(image) > max_base64:
                size = base64_size(image) / 1_048_576
                limit = max_base64 / 1_048_576
                raise unsupported(
                    name, f"an image of {size:.1f} MB as base64 (at most {limit:g} MB)"
                )


def base64_size(image: Image) -> int:
    return (len(image.data) + 2) // 3 * 4


def unsupported(name: str, what: str) -> ProviderError:
    return ProviderError("unsupported", f"{name} cannot take {what}", retryable=False)


# -- streams ----------------------------------------------------------------------------------

FINISH_REASONS = {
    # OpenAI, xAI, Perplexity
    "stop": "stop",
    "length": "length",
    "content_filter": "content_filter",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    # Anthropic
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "refusal": "content_filter",
    "tool_use": "tool_calls",
    # OpenAI Responses (the response's status, or why it is incomplete)
    "completed": "stop",
    "max_output_tokens": "length",
    # Gemini
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
    "SPII": "content_filter",
    "IMAGE_SAFETY": "content_filter",
}


def normalise_finish(raw: str) -> str:
    """stop | length | content_filter | tool_calls | other."""
    return FINISH_REASONS.get(raw, "other")


# What one SSE event gives: answer text, a piece of reasoning, both (rarely, in order), nothing.
Fed = str | Thinking | list[str | Thinking] | None


class StreamReader:
    """One stream's state in one wire format: turns SSE events into text, remembers the end.

    ``feed`` returns what an event carries (``Fed``: answer text as a bare string, reasoning
    as ``Thinking``, never an empty one), raises ProviderError for an in-stream error, and
    sets ``ended`` when the terminator arrives. Formats without a terminator set
    ``ends_at_eof``: there EOF after a finish reason is a clean end. Usage is kept as the API
    counts it; ``tail`` normalises it (output tokens include reasoning tokens).
    """

    __slots__ = (
        "name",
        "ends_at_eof",
        "ended",
        "finish",
        "input_tokens",
        "output_tokens",
        "reasoning_tokens",
        "reasoning_outside",
        "echo",
    )

    def __init__(self, name: str, *, ends_at_eof: bool = False) -> None:
        self.name = name
        self.ends_at_eof = ends_at_eof
        self.ended = False
        self.finish: str | None = None
        self.input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.reasoning_tokens: int | None = None
        # The API counts reasoning tokens apart from its output tokens (xAI, Gemini).
        self.reasoning_outside = False
        self.echo: dict | None = None

    def feed(self, event: bytes | None, data: bytes) -> Fed:
        raise NotImplementedError

    def complete(self) -> bool:
        return self.ended or (self.ends_at_eof and self.finish is not None)

    def leftover(self) -> list[Event]:
        """Text held back while the stream ran (a tag cut across chunks), for the end."""
        return []

    def usage(self) -> Usage | None:
        if self.input_tokens is None and self.output_tokens is None:
            return None
        output, reasoning = self.output_tokens, self.reasoning_tokens
        if self.reasoning_outside and reasoning:
            output = (output or 0) + reasoning
        return Usage(self.input_tokens, output, reasoning)

    def tail(self) -> list[Event]:
        """The events that close a complete answer: held text, Finish, Usage, Echo."""
        events: list[Event] = self.leftover()
        if self.finish is not None:
            events.append(Finish(normalise_finish(self.finish), self.finish))
        if (usage := self.usage()) is not None:
            events.append(usage)
        if self.echo:
            events.append(Echo(self.echo))
        return events


async def relay(response: httpx.Response, reader: StreamReader) -> AsyncIterator[Event]:
    """Drive ``reader`` over a 200 response: text as it comes, then the tail once complete."""
    read = raw_chunks(response)
    feed = SSEDecoder().feed
    while chunk := await read():
        for event, data in feed(chunk):
            try:
                fed = reader.feed(event, data)
            except (orjson.JSONDecodeError, AttributeError, KeyError, IndexError, TypeError):
                # Invalid JSON, or JSON of a shape the format never has (a list, a string...).
                raise ProviderError("malformed", f"{reader.name} sent a malformed chunk") from None
            if fed:
                if type(fed) is list:
                    for piece in fed:
                        yield piece
                else:
                    yield fed  # type: ignore[misc]  # not a list: checked above
            elif reader.ended:
                await drain(read)
                for closing in reader.tail():
                    yield closing
                return
    if not reader.complete():
        raise truncated(reader.name)
    for closing in reader.tail():
        yield closing


def raw_chunks(response: httpx.Response) -> Reader:
    """``await read()``: the next body bytes, b"" at the end; on our own transport one plain
    call per socket read (providers/transport/connection.py). We ask for identity, but a
    server that compresses anyway is decoded by httpx."""
    encoding = response.headers.get("content-encoding", "identity")
    return body_reader(response, decoded=encoding != "identity")


async def drain(read: Reader) -> None:
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(DRAIN_TIMEOUT):
            while await read():
                pass


def truncated(name: str) -> ProviderError:
    return ProviderError(
        "truncated", f"{name} closed the connection before the answer ended", retryable=True
    )


# -- errors -----------------------------------------------------------------------------------

# What a failure is called, and how it reads after the provider's name.
PHRASES = {
    "auth": "rejected the API key",
    "permission_denied": "refused access with this API key",
    "bad_request": "rejected the request",
    "not_found": "does not know this model or endpoint",
    "too_large": "rejected the request as too large",
    "rate_limited": "rate-limited the request",
    "quota_exceeded": "has no quota or credits left for this API key",
    "billing": "refused the request for billing reasons",
    "overloaded": "is overloaded",
    "server_error": "had an internal error",
    "upstream_timeout": "timed out",
    "blocked": "blocked the prompt",
    "unsupported": "cannot take this input",
    "upstream_error": "returned an error",
}

KIND_BY_STATUS = {
    400: "bad_request",
    401: "auth",
    402: "billing",
    403: "permission_denied",
    404: "not_found",
    408: "upstream_timeout",
    413: "too_large",
    422: "bad_request",
    429: "rate_limited",
    500: "server_error",
    502: "server_error",
    503: "overloaded",
    504: "upstream_timeout",
    529: "overloaded",
}

# For errors that arrive inside a 200 stream, where there is no status code to go by.
RETRYABLE_KINDS = frozenset(
    {"rate_limited", "overloaded", "server_error", "upstream_timeout", "upstream_error"}
)

DETAIL_LIMIT = 300


def upstream_error(
    name: str,
    kind: str | None = None,
    detail: object = None,
    *,
    status_code: int | None = None,
    headers: httpx.Headers | None = None,
    retryable: bool | None = None,
    retry_after: float | None = None,
) -> ProviderError:
    """A ProviderError with a short message: "<name> <what happened> (HTTP n): <detail>".

    ``kind`` defaults from the status code. ``retryable`` defaults to the server's
    ``x-should-retry``, then to the status code, or for an in-stream error to the kind.
    ``retry_after`` defaults to the ``retry-after(-ms)`` headers. The provider's own words are
    kept as detail, except for a rejected key, where they tend to echo part of the key.
    """
    if kind is None:
        kind = KIND_BY_STATUS.get(status_code or 0, "upstream_error")
    if headers is not None:
        if retryable is None:
            retryable = should_retry_header(headers)
        if retry_after is None:
            retry_after = retry_after_seconds(headers)
    if retryable is None:
        retryable = status_code in RETRYABLE_STATUS if status_code else kind in RETRYABLE_KINDS
    phrase = PHRASES[kind]
    message = f"{name} {phrase}"
    if status_code:
        message += f" (HTTP {status_code})"
    text = short_detail(detail) if kind != "auth" else None
    if text and text.lower().rstrip(".") not in phrase:
        message += f": {text}"
    return ProviderError(
        kind, message, status_code=status_code, retryable=retryable, retry_after=retry_after
    )


def short_detail(text: object) -> str | None:
    """A provider's error message as one short line; None for non-text or an HTML page."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        return None
    text = " ".join(text.split())
    if not text or text.startswith("<"):
        return None
    return text if len(text) <= DETAIL_LIMIT else text[: DETAIL_LIMIT - 1] + "…"


def should_retry_header(headers: httpx.Headers) -> bool | None:
    """OpenAI and Anthropic say outright whether a retry can help (``x-should-retry``)."""
    value = headers.get("x-should-retry", "").lower()
    return True if value == "true" else False if value == "false" else None
