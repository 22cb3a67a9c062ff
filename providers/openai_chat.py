"""OpenAI Chat Completions, and the two APIs that copy it: xAI (grok) and Perplexity.

The flavours differ only here:

* openai: ``max_completion_tokens``; reasoning models refuse a non-default temperature and
  stream no reasoning text (ChatGPT itself goes over the Responses API, openai_responses.py;
  this flavour serves servers that only have Chat Completions); usage in a last
  ``choices: []`` chunk when asked for; ends on ``data: [DONE]``.
* xai: the same request; keys are omitted rather than null; ``reasoning_content`` deltas are
  reasoning; reasoning tokens are counted apart from ``completion_tokens``; errors look like
  ``{"code": "...", "error": "..."}``, and a bad key is a 400; images are PNG or JPEG only.
* perplexity: ``max_tokens``; cumulative usage and repeated citations on every chunk; no
  ``[DONE]`` (accepted if sent): EOF after a finish reason ends the answer; 401 is HTML;
  reasoning models write ``<think>…</think>`` at the start of the content (think_tags.py).

``reasoning_effort`` goes only to models that take it, with a level they take (reasoning.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import httpx
import orjson

from providers.base import (
    Adapter,
    CallSettings,
    Citations,
    Event,
    Ignored,
    Message,
    ProviderConfig,
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
from providers.messages import IMAGE_TYPES
from providers.reasoning import effort_for, rejects_temperature
from providers.think_tags import ThinkSplitter

# Error ``type``/``code`` values that say more than the status code does.
ERROR_KINDS = {
    "invalid_api_key": "auth",
    "insufficient_quota": "quota_exceeded",
    "rate_limit_exceeded": "rate_limited",
    "server_error": "server_error",
}
IMAGE_TYPES_BY_FLAVOUR = {"xai": ("image/png", "image/jpeg")}


class OpenAIChatAdapter(Adapter):
    wire = "openai_chat"

    def __init__(self, config: ProviderConfig, client: httpx.AsyncClient) -> None:
        super().__init__(config, client)
        self.flavour = config.flavour or "openai"  # openai | xai | perplexity

    def build_request(
        self, thread: Sequence[Message], model: str, settings: CallSettings | None = None
    ) -> UpstreamRequest:
        config, flavour = self.config, self.flavour
        chosen = self.effective(settings)
        ignored: list[Ignored] = []
        turns = merge_turns(thread)
        refuse_images(config.name, turns, IMAGE_TYPES_BY_FLAVOUR.get(flavour, IMAGE_TYPES))
        messages = [chat_message(turn) for turn in turns]
        if chosen.system:
            messages.insert(0, {"role": "system", "content": chosen.system})
        body: dict[str, object] = {"model": model, "messages": messages, "stream": True}
        if flavour == "perplexity":
            if chosen.max_tokens is not None:
                body["max_tokens"] = chosen.max_tokens
        else:
            body["stream_options"] = {"include_usage": True}
            if chosen.max_tokens is not None:
                body["max_completion_tokens"] = chosen.max_tokens
        if chosen.reasoning is not None:
            effort = effort_for(flavour, model, chosen.reasoning, ignored)
            if effort is not None:
                body["reasoning_effort"] = effort
        if chosen.temperature is not None:
            if flavour == "openai" and rejects_temperature(model):
                ignored.append(
                    Ignored("temperature", f"{model} takes only its default temperature")
                )
            else:
                body["temperature"] = chosen.temperature
        key = f"Bearer {config.api_key}" if config.api_key else None
        return UpstreamRequest(
            url=f"{config.base_url.rstrip('/')}/chat/completions",
            headers=json_headers({"authorization": key}),
            body=json_body(body),
            ignored=tuple(ignored),
        )

    def parse_stream(self, response: httpx.Response, model: str) -> AsyncIterator[Event]:
        return relay(response, ChatReader(self.config.name, self.flavour))

    def error_from(
        self, payload: object, *, status_code: int | None, headers: httpx.Headers | None
    ) -> ProviderError:
        return chat_error(
            self.config.name, self.flavour, payload, status_code=status_code, headers=headers
        )


def chat_message(turn: Message) -> dict[str, object]:
    """Text alone as a string; with images, image parts (data URIs) then the text part."""
    if not turn.images:
        return {"role": turn.role, "content": turn.content}
    parts: list[dict[str, object]] = [
        {"type": "image_url", "image_url": {"url": image.data_uri()}} for image in turn.images
    ]
    if turn.content:
        parts.append({"type": "text", "text": turn.content})
    return {"role": turn.role, "content": parts}


class ChatReader(StreamReader):
    __slots__ = ("flavour", "citations", "_last_urls", "splitter")

    def __init__(self, name: str, flavour: str) -> None:
        super().__init__(name, ends_at_eof=flavour == "perplexity")
        self.flavour = flavour
        self.citations: dict[str, None] = {}  # an ordered set, across chunks
        self._last_urls: list[str] | None = None
        # xAI and Perplexity count reasoning tokens apart from the completion's.
        self.reasoning_outside = flavour != "openai"
        self.splitter = ThinkSplitter() if flavour == "perplexity" else None

    def feed(self, event: bytes | None, data: bytes) -> Fed:
        if data == b"[DONE]":
            self.ended = True
            return None
        chunk = orjson.loads(data)
        if chunk.get("error") or event == b"error":
            raise chat_error(self.name, self.flavour, chunk)
        fed: Fed = None
        if choices := chunk.get("choices"):
            choice = choices[0]
            if delta := choice.get("delta"):
                fed = delta.get("content")
                if fed and self.splitter is not None:
                    fed = self.splitter.feed(fed)  # type: ignore[arg-type]  # the content's text, not yet split
                elif not fed and (thought := delta.get("reasoning_content")):
                    fed = Thinking(thought)
            if reason := choice.get("finish_reason"):
                self.finish = reason
        if usage := chunk.get("usage"):  # once at the end, or cumulative on every chunk
            self.input_tokens = usage.get("prompt_tokens")
            self.output_tokens = usage.get("completion_tokens")
            details = usage.get("completion_tokens_details")
            if details:
                self.reasoning_tokens = details.get("reasoning_tokens")
            elif "reasoning_tokens" in usage:  # Perplexity
                self.reasoning_tokens = usage["reasoning_tokens"]
        if (urls := chunk.get("citations")) and urls != self._last_urls:
            self._last_urls = urls  # Perplexity repeats the list on every chunk
            for url in urls:
                self.citations[url] = None
        return fed

    def leftover(self) -> list[Event]:
        return self.splitter.flush() if self.splitter is not None else []  # type: ignore[return-value]  # text and thinking are events

    def tail(self) -> list[Event]:
        events = super().tail()
        if self.citations:  # after any held text, before Finish
            at = next((i for i, e in enumerate(events) if not isinstance(e, str | Thinking)), 0)
            events.insert(at if events else 0, Citations(tuple(self.citations)))
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
