"""Google Gemini API (native ``streamGenerateContent`` with ``alt=sse``).

Each event is a whole ``GenerateContentResponse``, framed with CRLF. There is no terminator:
the last chunk carries ``finishReason`` and the connection closes, so EOF without a finish
reason is a truncated answer. ``usageMetadata`` is cumulative on every chunk.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import httpx
import orjson

from providers.base import (
    Adapter,
    Event,
    Message,
    ProviderError,
    UpstreamRequest,
)
from providers.common import (
    StreamReader,
    json_body,
    json_headers,
    merge_turns,
    relay,
    upstream_error,
)

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


class GeminiAdapter(Adapter):
    wire = "gemini"

    def build_request(self, thread: Sequence[Message], model: str) -> UpstreamRequest:
        config = self.config
        body: dict[str, object] = {
            "contents": [
                {"role": "model" if role == "assistant" else "user", "parts": [{"text": text}]}
                for role, text in merge_turns(thread)
            ]
        }
        if config.system_prompt:
            body["systemInstruction"] = {"parts": [{"text": config.system_prompt}]}
        generation: dict[str, object] = {}
        if config.max_tokens is not None:
            generation["maxOutputTokens"] = config.max_tokens
        if config.temperature is not None:
            generation["temperature"] = config.temperature
        if generation:
            body["generationConfig"] = generation
        return UpstreamRequest(
            url=f"{config.base_url.rstrip('/')}/v1beta/models/{model}:streamGenerateContent?alt=sse",
            headers=json_headers({"x-goog-api-key": config.api_key}),
            body=json_body(body),
        )

    def parse_stream(self, response: httpx.Response) -> AsyncIterator[Event]:
        return relay(response, GenerateReader(self.config.name, ends_at_eof=True))

    def error_from(
        self, payload: object, *, status_code: int | None, headers: httpx.Headers | None
    ) -> ProviderError:
        return gemini_error(self.config.name, payload, status_code=status_code, headers=headers)


class GenerateReader(StreamReader):
    __slots__ = ()

    def feed(self, event: bytes | None, data: bytes) -> str | None:
        chunk = orjson.loads(data)
        if chunk.get("error"):
            raise gemini_error(self.name, chunk)
        if usage := chunk.get("usageMetadata"):
            self.input_tokens = usage.get("promptTokenCount")
            self.output_tokens = usage.get("candidatesTokenCount")
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
            return None if part.get("thought") else part.get("text")
        # Thought summaries ("thought": true) are not part of the answer.
        return "".join(part.get("text") or "" for part in parts if not part.get("thought"))


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
