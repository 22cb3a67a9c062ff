"""OpenAI Chat Completions, and the two APIs that copy it: xAI (grok) and Perplexity.

The flavours differ only here:

* openai: ``max_completion_tokens``; reasoning models refuse a non-default temperature;
  usage in a last ``choices: []`` chunk when asked for; ends on ``data: [DONE]``.
* xai: the same request; keys are omitted rather than null; ``reasoning_content`` deltas
  (not answer text) are ignored; errors look like ``{"code": "...", "error": "..."}``,
  and a bad key is a 400.
* perplexity: ``max_tokens``; cumulative usage and repeated citations on every chunk; no
  ``[DONE]`` (accepted if sent): EOF after a finish reason ends the answer; 401 is HTML.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import httpx
import orjson

from providers.base import (
    Adapter,
    Citations,
    Event,
    Message,
    ProviderConfig,
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

# Error ``type``/``code`` values that say more than the status code does.
ERROR_KINDS = {
    "invalid_api_key": "auth",
    "insufficient_quota": "quota_exceeded",
    "rate_limit_exceeded": "rate_limited",
    "server_error": "server_error",
}


def rejects_temperature(model: str) -> bool:
    """OpenAI's reasoning models (gpt-5*, o1, o3, o4...) accept only the default temperature."""
    return model.startswith("gpt-5") or (model[:1] == "o" and model[1:2].isdigit())


class OpenAIChatAdapter(Adapter):
    wire = "openai_chat"

    def __init__(self, config: ProviderConfig, client: httpx.AsyncClient) -> None:
        super().__init__(config, client)
        self.flavour = config.flavour or "openai"  # openai | xai | perplexity

    def build_request(self, thread: Sequence[Message], model: str) -> UpstreamRequest:
        config = self.config
        messages = [{"role": role, "content": text} for role, text in merge_turns(thread)]
        if config.system_prompt:
            messages.insert(0, {"role": "system", "content": config.system_prompt})
        body: dict[str, object] = {"model": model, "messages": messages, "stream": True}
        if self.flavour == "perplexity":
            if config.max_tokens is not None:
                body["max_tokens"] = config.max_tokens
        else:
            body["stream_options"] = {"include_usage": True}
            if config.max_tokens is not None:
                body["max_completion_tokens"] = config.max_tokens
        if config.temperature is not None and not (
            self.flavour == "openai" and rejects_temperature(model)
        ):
            body["temperature"] = config.temperature
        key = f"Bearer {config.api_key}" if config.api_key else None
        return UpstreamRequest(
            url=f"{config.base_url.rstrip('/')}/chat/completions",
            headers=json_headers({"authorization": key}),
            body=json_body(body),
        )

    def parse_stream(self, response: httpx.Response) -> AsyncIterator[Event]:
        return relay(response, ChatReader(self.config.name, self.flavour))

    def error_from(
        self, payload: object, *, status_code: int | None, headers: httpx.Headers | None
    ) -> ProviderError:
        return chat_error(
            self.config.name, self.flavour, payload, status_code=status_code, headers=headers
        )


class ChatReader(StreamReader):
    __slots__ = ("flavour", "citations", "_last_urls")

    def __init__(self, name: str, flavour: str) -> None:
        super().__init__(name, ends_at_eof=flavour == "perplexity")
        self.flavour = flavour
        self.citations: dict[str, None] = {}  # an ordered set, across chunks
        self._last_urls: list[str] | None = None

    def feed(self, event: bytes | None, data: bytes) -> str | None:
        if data == b"[DONE]":
            self.ended = True
            return None
        chunk = orjson.loads(data)
        if chunk.get("error") or event == b"error":
            raise chat_error(self.name, self.flavour, chunk)
        text = None
        if choices := chunk.get("choices"):
            choice = choices[0]
            if delta := choice.get("delta"):
                text = delta.get("content")
            if reason := choice.get("finish_reason"):
                self.finish = reason
        if usage := chunk.get("usage"):  # once at the end, or cumulative on every chunk
            self.input_tokens = usage.get("prompt_tokens")
            self.output_tokens = usage.get("completion_tokens")
        if (urls := chunk.get("citations")) and urls != self._last_urls:
            self._last_urls = urls  # Perplexity repeats the list on every chunk
            for url in urls:
                self.citations[url] = None
        return text

    def tail(self) -> list[Event]:
        events = super().tail()
        if self.citations:
            events.insert(0, Citations(tuple(self.citations)))
        return events


def chat_error(
    name: str,
    flavour: str,
    payload: object,
    *,
    status_code: int | None = None,
    headers: httpx.Headers | None = None,
) -> ProviderError:
    """Any of the flavours' error bodies, before the stream or inside it.

    ``{"error": {"message", "type", "code"}}`` (OpenAI, Perplexity), ``{"code", "error"}``
    (xAI), or not JSON at all (Perplexity's HTML 401), which leaves the status code to go by.
    """
    body = payload if isinstance(payload, dict) else {}
    error = body.get("error")
    codes: tuple[object, ...]
    if isinstance(error, dict):  # OpenAI, Perplexity
        detail, codes = error.get("message"), (error.get("code"), error.get("type"))
    elif isinstance(error, str):  # xAI
        detail, codes = error, (body.get("code"),)
    else:  # not JSON (Perplexity's HTML 401), or a shape nobody documented
        detail, codes = body.get("message", payload), ()
    kind = next((ERROR_KINDS[c] for c in codes if isinstance(c, str) and c in ERROR_KINDS), None)
    if kind == "server_error" and status_code:
        kind = None  # OpenAI types every 5xx "server_error"; the status says more (503: overloaded)
    text = detail.lower() if isinstance(detail, str) else ""
    if kind is None and status_code in (400, 401, 403) and "api key" in text:
        kind = "auth"  # xAI answers a bad key with a 400
    elif kind is None and status_code == 429 and flavour == "xai" and "credits" in text:
        kind = "quota_exceeded"
    return upstream_error(
        name,
        kind,
        detail,
        status_code=status_code,
        headers=headers,
        retryable=False if kind == "quota_exceeded" else None,
    )
