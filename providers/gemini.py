"""Google Gemini API (native ``streamGenerateContent`` with ``alt=sse``).

Each event is a whole ``GenerateContentResponse``, framed with CRLF. There is no terminator:
the last chunk carries ``finishReason`` and the connection closes, so EOF without a finish
reason is a truncated answer. ``usageMetadata`` is cumulative on every chunk; its
``candidatesTokenCount`` leaves out the thoughts (``thoughtsTokenCount``).

Reasoning: parts marked ``"thought": true`` are thought summaries, sent only with
``thinkingConfig.includeThoughts``. Gemini 2.5 takes a ``thinkingBudget`` (0 turns it off,
except on 2.5 Pro), Gemini 3 and later a ``thinkingLevel``; older models do not think. A
``thoughtSignature`` is kept as the answer's Echo and sent back on the answer's part. Images
go inline (``inlineData``); the API refuses GIF.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Sequence
from urllib.parse import quote

import httpx
import orjson

from providers.base import (
    Adapter,
    CallSettings,
    Event,
    Ignored,
    Message,
    ProviderError,
    Thinking,
    UpstreamRequest,
)
from providers.common import (
    Fed,
    StreamReader,
    json_body,
    json_headers,
    merge_turns,
    refuse_images,
    relay,
    upstream_error,
)
from providers.messages import REASONING_BUDGETS

IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp")

# google.rpc status names, for errors whose HTTP status says less (or that come in-stream).
STATUS_KINDS = {
    "INVALID_ARGUMENT": "bad_request",
    "FAILED_PRECONDITION": "bad_request",
    "UNAUTHENTICATED": "auth",
    "PERMISSION_DENIED": "permission_denied",
    "NOT_FOUND": "not_found",
    "RESOURCE_EXHAUSTED": "rate_limited",
    "INTERNAL": "server_error",
    "UNAVAILABLE": "overloaded",
    "DEADLINE_EXCEEDED": "upstream_timeout",
}

VERSION = re.compile(r"gemini-(\d+)(?:\.(\d+))?")
LEVELS = {"low": "LOW", "medium": "MEDIUM", "high": "HIGH"}
BUDGET_CAP = 24576  # 2.5 Flash's largest budget (Pro's is 32768)


def model_version(model: str) -> tuple[int, int] | None:
    found = VERSION.match(model)
    return (int(found[1]), int(found[2] or 0)) if found else None


def thinking_config(model: str, level: str, ignored: list[Ignored]) -> dict[str, object] | None:
    """``thinkingConfig`` for a reasoning level, by model generation."""
    version = model_version(model)
    if version is not None and version < (2, 5):
        ignored.append(Ignored("reasoning", f"{model} does not think"))
        return None
    pro = "-pro" in model
    if version is not None and version < (3, 0):  # 2.5: a budget of tokens
        if level == "off":
            if pro:
                ignored.append(Ignored("reasoning", f"{model} always thinks (128 tokens at least)"))
                return {"thinkingBudget": 128}
            return {"thinkingBudget": 0}
        return {
            "thinkingBudget": min(REASONING_BUDGETS[level], BUDGET_CAP),
            "includeThoughts": True,
        }
    # Gemini 3 and later: a level; none turns thinking off, and Pro has only low and high.
    if level == "off":
        if pro:
            ignored.append(Ignored("reasoning", f"{model} always thinks (at low at least)"))
            return {"thinkingLevel": "LOW"}
        ignored.append(Ignored("reasoning", f"{model} always thinks a little (minimal)"))
        return {"thinkingLevel": "MINIMAL"}
    chosen = "HIGH" if pro and level == "medium" else LEVELS[level]
    return {"thinkingLevel": chosen, "includeThoughts": True}


class GeminiAdapter(Adapter):
    wire = "gemini"

    def build_request(
        self, thread: Sequence[Message], model: str, settings: CallSettings | None = None
    ) -> UpstreamRequest:
        config = self.config
        chosen = self.effective(settings)
        ignored: list[Ignored] = []
        turns = merge_turns(thread)
        refuse_images(config.name, turns, IMAGE_TYPES)
        body: dict[str, object] = {"contents": [content(turn, model) for turn in turns]}
        if chosen.system:
            body["systemInstruction"] = {"parts": [{"text": chosen.system}]}
        generation: dict[str, object] = {}
        if chosen.max_tokens is not None:
            generation["maxOutputTokens"] = chosen.max_tokens
        if chosen.temperature is not None:
            generation["temperature"] = chosen.temperature
        if chosen.reasoning is not None:
            thinking = thinking_config(model, chosen.reasoning, ignored)
            if thinking is not None:
                generation["thinkingConfig"] = thinking
                # maxOutputTokens counts thoughts too: the answer keeps its own limit.
                budget = REASONING_BUDGETS.get(chosen.reasoning)
                if budget and chosen.max_tokens is not None:
                    generation["maxOutputTokens"] = chosen.max_tokens + budget
        if generation:
            body["generationConfig"] = generation
        return UpstreamRequest(
            # Checked against the model grammar already; encoded anyway, as any path segment.
            url=f"{config.base_url.rstrip('/')}/v1beta/models/{quote(model, safe='')}"
            ":streamGenerateContent?alt=sse",
            headers=json_headers({"x-goog-api-key": config.api_key}),
            body=json_body(body),
            ignored=tuple(ignored),
        )

    def parse_stream(self, response: httpx.Response, model: str) -> AsyncIterator[Event]:
        return relay(response, GenerateReader(self.config.name, model))

    def error_from(
        self, payload: object, *, status_code: int | None, headers: httpx.Headers | None
    ) -> ProviderError:
        return gemini_error(self.config.name, payload, status_code=status_code, headers=headers)


def content(turn: Message, model: str) -> dict[str, object]:
    """A ``Content``: images first, then the text; an answer of this model carries its thought
    signature on its part, as it came."""
    parts: list[dict[str, object]] = [
        {"inlineData": {"mimeType": image.media_type, "data": image.base64()}}
        for image in turn.images
    ]
    if turn.content or not parts:
        part: dict[str, object] = {"text": turn.content}
        echo = turn.echo
        if turn.role == "assistant" and echo and echo.get("model") == model:
            part["thoughtSignature"] = echo.get("signature")
        parts.append(part)
    return {"role": "model" if turn.role == "assistant" else "user", "parts": parts}


class GenerateReader(StreamReader):
    __slots__ = ("model", "signature")

    def __init__(self, name: str, model: str) -> None:
        super().__init__(name, ends_at_eof=True)
        self.reasoning_outside = True
        self.model = model
        self.signature: str | None = None

    def feed(self, event: bytes | None, data: bytes) -> Fed:
        chunk = orjson.loads(data)
        if chunk.get("error"):
            raise gemini_error(self.name, chunk)
        if usage := chunk.get("usageMetadata"):
            self.input_tokens = usage.get("promptTokenCount")
            self.output_tokens = usage.get("candidatesTokenCount")
            self.reasoning_tokens = usage.get("thoughtsTokenCount")
            if self.output_tokens is None and self.reasoning_tokens is not None:
                self.output_tokens = 0  # only thoughts so far
        if not (candidates := chunk.get("candidates")):
            if block := (chunk.get("promptFeedback") or {}).get("blockReason"):
                raise upstream_error(self.name, "blocked", block, retryable=False)
            return None
        candidate = candidates[0]
        if reason := candidate.get("finishReason"):
            self.finish = reason
        parts = (candidate.get("content") or {}).get("parts")
        if not parts:
            return None
        if len(parts) == 1:
            part = parts[0]
            if "thoughtSignature" in part:
                self.keep_signature(part)
            if part.get("thought"):
                return Thinking(part["text"]) if part.get("text") else None
            return part.get("text")
        return self.several(parts)

    def several(self, parts: list[dict]) -> Fed:
        """Parts in order: thoughts as Thinking, the answer's runs of text joined."""
        out: list[str | Thinking] = []
        text: list[str] = []
        for part in parts:
            if "thoughtSignature" in part:
                self.keep_signature(part)
            piece = part.get("text")
            if not piece:
                continue
            if part.get("thought"):
                if text:
                    out.append("".join(text))
                    text.clear()
                out.append(Thinking(piece))
            else:
                text.append(piece)
        if text:
            out.append("".join(text))
        return out or None

    def keep_signature(self, part: dict) -> None:
        self.signature = part["thoughtSignature"]
        self.echo = {"model": self.model, "signature": self.signature}


def gemini_error(
    name: str,
    payload: object,
    *,
    status_code: int | None = None,
    headers: httpx.Headers | None = None,
) -> ProviderError:
    """``{"error": {"code", "message", "status", "details"}}``, before the stream or inside it."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return upstream_error(name, None, payload, status_code=status_code, headers=headers)
    details = [d for d in error.get("details") or () if isinstance(d, dict)]
    kind: str | None
    if any(d.get("reason") == "API_KEY_INVALID" for d in details):
        kind = "auth"  # a bad key is a 400 INVALID_ARGUMENT, not a 401
    else:
        status = error.get("status")
        kind = STATUS_KINDS.get(status) if isinstance(status, str) else None
    return upstream_error(
        name,
        kind,
        error.get("message"),
        status_code=status_code,
        headers=headers,
        retry_after=retry_delay(details),
    )


def retry_delay(details: list[dict]) -> float | None:
    """``google.rpc.RetryInfo.retryDelay``, a protobuf Duration such as "23s" or "0.5s"."""
    for detail in details:
        if str(detail.get("@type")).endswith("google.rpc.RetryInfo"):
            delay = detail.get("retryDelay")
            if isinstance(delay, str) and delay.endswith("s"):
                try:
                    return max(float(delay[:-1]), 0.0)
                except ValueError:
                    return None
    return None
