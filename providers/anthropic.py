"""Anthropic Messages API: named SSE events, ``message_stop`` as the terminator.

Text comes only from ``text_delta``s; ``ping``, thinking, tool input and any event or block
type Anthropic adds later are ignored, as its versioning policy asks. Usage is split: input
tokens in ``message_start`` (repeated by newer ``message_delta``s), the output total in the
last ``message_delta``.
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

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024  # the API requires max_tokens

# Models that have had sampling parameters removed, or reject non-default values.
NO_TEMPERATURE_MODELS = (
    "claude-opus-4-7",
    "claude-opus-4-8",
    "claude-sonnet-5",
    "claude-opus-5",
    "claude-fable-5",
    "claude-mythos-5",
)

# ``error.type`` decides, not the status code: overloads also arrive as a 429.
ERROR_KINDS = {
    "invalid_request_error": "bad_request",
    "authentication_error": "auth",
    "billing_error": "billing",
    "permission_error": "permission_denied",
    "not_found_error": "not_found",
    "request_too_large": "too_large",
    "rate_limit_error": "rate_limited",
    "api_error": "server_error",
    "timeout_error": "upstream_timeout",
    "overloaded_error": "overloaded",
}


def rejects_temperature(model: str) -> bool:
    return model.startswith(NO_TEMPERATURE_MODELS)


class AnthropicAdapter(Adapter):
    wire = "anthropic"

    def build_request(self, thread: Sequence[Message], model: str) -> UpstreamRequest:
        config = self.config
        max_tokens = config.max_tokens if config.max_tokens is not None else DEFAULT_MAX_TOKENS
        body: dict[str, object] = {
            "model": model,
            "max_tokens": max_tokens,
            "messages": [{"role": role, "content": text} for role, text in merge_turns(thread)],
            "stream": True,
        }
        if config.system_prompt:
            body["system"] = config.system_prompt
        if config.temperature is not None and not rejects_temperature(model):
            body["temperature"] = config.temperature
        return UpstreamRequest(
            url=f"{config.base_url.rstrip('/')}/v1/messages",
            headers=json_headers(
                {"x-api-key": config.api_key, "anthropic-version": ANTHROPIC_VERSION}
            ),
            body=json_body(body),
        )

    def parse_stream(self, response: httpx.Response) -> AsyncIterator[Event]:
        return relay(response, MessagesReader(self.config.name))

    def error_from(
        self, payload: object, *, status_code: int | None, headers: httpx.Headers | None
    ) -> ProviderError:
        return messages_error(self.config.name, payload, status_code=status_code, headers=headers)


class MessagesReader(StreamReader):
    __slots__ = ()

    def feed(self, event: bytes | None, data: bytes) -> str | None:
        if event == b"content_block_delta":
            delta = orjson.loads(data)["delta"]
            return delta.get("text") if delta.get("type") == "text_delta" else None
        if event == b"message_start":
            if usage := orjson.loads(data)["message"].get("usage"):
                self.input_tokens = usage.get("input_tokens")
                self.output_tokens = usage.get("output_tokens")
        elif event == b"message_delta":
            chunk = orjson.loads(data)
            if reason := chunk["delta"].get("stop_reason"):
                self.finish = reason
            if usage := chunk.get("usage"):  # cumulative
                if (tokens := usage.get("input_tokens")) is not None:
                    self.input_tokens = tokens
                if (tokens := usage.get("output_tokens")) is not None:
                    self.output_tokens = tokens
        elif event == b"message_stop":
            self.ended = True
        elif event == b"error":
            raise messages_error(self.name, orjson.loads(data))
        return None


def messages_error(
    name: str,
    payload: object,
    *,
    status_code: int | None = None,
    headers: httpx.Headers | None = None,
) -> ProviderError:
    """``{"type": "error", "error": {"type", "message"}}``, before the stream or inside it."""
    error = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(error, dict):
        return upstream_error(name, None, payload, status_code=status_code, headers=headers)
    error_type = error.get("type")
    kind = ERROR_KINDS.get(error_type) if isinstance(error_type, str) else None
    return upstream_error(
        name, kind, error.get("message"), status_code=status_code, headers=headers
    )
