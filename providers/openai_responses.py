"""OpenAI Responses API (``POST /v1/responses``): how ChatGPT is called, because it streams
reasoning summaries where Chat Completions streams none.

Everything else behaves as the Chat Completions adapter does for OpenAI: the same keys, error
bodies and kinds, retries, temperature only for models that take it, the output limit (here
``max_output_tokens``, at least 16), the system prompt (here ``instructions``).

The stream is named events, each ``data.type`` its name; there is no ``[DONE]``: the answer
ends with ``response.completed`` (or ``response.incomplete``, with the reason), and fails with
``response.failed`` or an ``error`` event (flat or nested, both are seen). Text comes from
``response.output_text.delta``, reasoning from ``response.reasoning_summary_text.delta`` (the
summary, between parts a blank line) or ``response.reasoning_text.delta``. Nothing is stored at
OpenAI (``store: false``): the reasoning items come back encrypted, are kept as the answer's
Echo and are sent back before it on the next turn that reasons on the same model.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

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
)
from providers.messages import IMAGE_TYPES, REASONING_BUDGETS
from providers.openai_chat import chat_error
from providers.reasoning import effort_for, rejects_temperature

MIN_OUTPUT_TOKENS = 16  # the API refuses a smaller max_output_tokens


class OpenAIResponsesAdapter(Adapter):
    wire = "openai_responses"

    def build_request(
        self, thread: Sequence[Message], model: str, settings: CallSettings | None = None
    ) -> UpstreamRequest:
        config = self.config
        chosen = self.effective(settings)
        ignored: list[Ignored] = []
        turns = merge_turns(thread)
        refuse_images(config.name, turns, IMAGE_TYPES)
        effort = None
        if chosen.reasoning is not None:
            effort = effort_for("openai", model, chosen.reasoning, ignored)
        reasons = effort is not None and effort != "none"
        items: list[dict[str, object]] = []
        for turn in turns:
            items.extend(input_items(turn, model, reasons))
        body: dict[str, object] = {"model": model, "input": items, "stream": True, "store": False}
        if chosen.system:
            body["instructions"] = chosen.system
        if chosen.max_tokens is not None:
            limit = chosen.max_tokens
            if limit < MIN_OUTPUT_TOKENS:
                ignored.append(
                    Ignored("max_tokens", f"raised to {MIN_OUTPUT_TOKENS}, the API's least")
                )
                limit = MIN_OUTPUT_TOKENS
            if reasons and chosen.reasoning in REASONING_BUDGETS:
                # The limit counts reasoning too: the answer keeps its own.
                limit += REASONING_BUDGETS[chosen.reasoning]
            body["max_output_tokens"] = limit
        if effort is not None:
            body["reasoning"] = (
                {"effort": effort, "summary": "auto"} if reasons else {"effort": effort}
            )
            if reasons:
                body["include"] = ["reasoning.encrypted_content"]
        if chosen.temperature is not None:
            if rejects_temperature(model):
                ignored.append(
                    Ignored("temperature", f"{model} takes only its default temperature")
                )
            else:
                body["temperature"] = chosen.temperature
        key = f"Bearer {config.api_key}" if config.api_key else None
        return UpstreamRequest(
            url=f"{config.base_url.rstrip('/')}/responses",
            headers=json_headers({"authorization": key}),
            body=json_body(body),
            ignored=tuple(ignored),
        )

    def parse_stream(self, response: httpx.Response, model: str) -> AsyncIterator[Event]:
        return relay(response, ResponsesReader(self.config.name, model))

    def error_from(
        self, payload: object, *, status_code: int | None, headers: httpx.Headers | None
    ) -> ProviderError:
        return chat_error(
            self.config.name, "openai", payload, status_code=status_code, headers=headers
        )


def input_items(turn: Message, model: str, reasons: bool) -> list[dict[str, object]]:
    """A message as input items: images (data URIs) then text; an answer of this model is
    preceded by its encrypted reasoning items when this call reasons."""
    items: list[dict[str, object]] = []
    echo = turn.echo
    if turn.role == "assistant" and reasons and echo and echo.get("model") == model:
        items.extend(echo.get("items") or ())
    if not turn.images:
        items.append({"role": turn.role, "content": turn.content})
        return items
    parts: list[dict[str, object]] = [
        {"type": "input_image", "image_url": image.data_uri()} for image in turn.images
    ]
    if turn.content:
        parts.append({"type": "input_text", "text": turn.content})
    items.append({"role": turn.role, "content": parts})
    return items


class ResponsesReader(StreamReader):
    __slots__ = ("model", "summary", "items")

    def __init__(self, name: str, model: str) -> None:
        super().__init__(name)
        self.model = model
        self.summary: tuple[str, int] | None = None  # (item id, summary index) being streamed
        self.items: list[dict[str, object]] = []  # reasoning items to send back

    def feed(self, event: bytes | None, data: bytes) -> Fed:
        if event == b"response.output_text.delta":
            return orjson.loads(data)["delta"]
        if event == b"response.reasoning_summary_text.delta":
            chunk = orjson.loads(data)
            text = chunk["delta"]
            place = (chunk.get("item_id"), chunk.get("summary_index"))
            if self.summary is not None and place != self.summary:
                text = "\n\n" + text  # a new part of the summary
            self.summary = place
            return Thinking(text) if text else None
        if event == b"response.reasoning_text.delta":
            text = orjson.loads(data)["delta"]
            return Thinking(text) if text else None
        if event == b"response.output_item.done":
            item = orjson.loads(data)["item"]
            if item.get("type") == "reasoning" and item.get("encrypted_content"):
                self.items.append(
                    {
                        "type": "reasoning",
                        "id": item.get("id"),
                        "summary": [],
                        "encrypted_content": item["encrypted_content"],
                    }
                )
        elif event in (b"response.completed", b"response.incomplete"):
            response = orjson.loads(data)["response"]
            self.finish = (
                "completed"
                if event == b"response.completed"
                else (response.get("incomplete_details") or {}).get("reason") or "incomplete"
            )
            if usage := response.get("usage"):
                self.input_tokens = usage.get("input_tokens")
                self.output_tokens = usage.get("output_tokens")
                details = usage.get("output_tokens_details") or {}
                self.reasoning_tokens = details.get("reasoning_tokens")
            if self.items:
                self.echo = {"model": self.model, "items": self.items}
            self.ended = True
        elif event == b"response.failed":
            response = orjson.loads(data)["response"]
            raise chat_error(self.name, "openai", {"error": response.get("error") or {}})
        elif event == b"error":
            chunk = orjson.loads(data)
            error = chunk.get("error") if isinstance(chunk.get("error"), dict) else chunk
            raise chat_error(self.name, "openai", {"error": error})
        return None
