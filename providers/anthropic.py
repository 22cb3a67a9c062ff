"""Anthropic Messages API: named SSE events, ``message_stop`` as the terminator.

Text comes from ``text_delta``s, reasoning from ``thinking_delta``s; a thinking block's
signature (and a ``redacted_thinking`` block whole) is kept as the answer's Echo and sent back
with it on the next turn that reasons on the same model, unmodified, as the API asks. ``ping``,
tool input and any event or block type Anthropic adds later are ignored, as its versioning
policy asks. Usage is split: input tokens in ``message_start`` (repeated by newer
``message_delta``s), the output total (thinking included) in the last ``message_delta``.

Reasoning by model: Claude 4.6 and later take ``{"type": "adaptive"}`` with the level as
``output_config.effort`` (Opus 4.7 and later refuse anything else); 3.7 to 4.5 take a
``budget_tokens``; Fable 5 and Mythos 5 always reason (``disabled`` is a 400); older models do
not reason. While thinking, only the default temperature is allowed.
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
    upstream_error,
)
from providers.messages import IMAGE_TYPES, REASONING_BUDGETS

ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_MAX_TOKENS = 1024  # the API requires max_tokens
MAX_IMAGE_BASE64 = 5 * 1024 * 1024  # per image, counted on its base64 text

# Models that have had sampling parameters removed, or reject non-default values.
NO_TEMPERATURE_MODELS = (
    "claude-opus-4-7",
    "claude-opus-4-8",
    "claude-sonnet-5",
    "claude-opus-5",
    "claude-fable-5",
    "claude-mythos-5",
)
ALWAYS_REASONING_MODELS = ("claude-fable-5", "claude-mythos-5")

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


def model_version(model: str) -> tuple[int, int] | None:
    """``claude-sonnet-4-5-20250929`` -> (4, 5); ``claude-3-7-sonnet`` -> (3, 7);
    ``claude-opus-4-20250514`` -> (4, 0); None for a name without a version."""
    parts = model.removeprefix("claude-").split("-")
    for index, part in enumerate(parts):
        if part.isdigit() and len(part) <= 2:
            following = parts[index + 1] if index + 1 < len(parts) else ""
            minor = int(following) if following.isdigit() and len(following) == 1 else 0
            return int(part), minor
    return None


def thinking_style(model: str) -> str:
    """adaptive | budget | none: how this model is asked to reason. A name without a version
    is taken for a new model."""
    version = model_version(model)
    if version is None or version >= (4, 6):
        return "adaptive"
    return "budget" if version >= (3, 7) else "none"


class AnthropicAdapter(Adapter):
    wire = "anthropic"

    def build_request(
        self, thread: Sequence[Message], model: str, settings: CallSettings | None = None
    ) -> UpstreamRequest:
        config = self.config
        chosen = self.effective(settings)
        ignored: list[Ignored] = []
        turns = merge_turns(thread)
        refuse_images(config.name, turns, IMAGE_TYPES, max_base64=MAX_IMAGE_BASE64)
        limit = chosen.max_tokens if chosen.max_tokens is not None else DEFAULT_MAX_TOKENS
        body: dict[str, object] = {"model": model, "max_tokens": limit}
        thinking = reasoning_fields(model, chosen, limit, ignored)
        reasons = "thinking" in thinking and thinking["thinking"]["type"] != "disabled"  # type: ignore[index]  # reasoning_fields makes it a dict
        reasons = reasons or model.startswith(ALWAYS_REASONING_MODELS)
        body["messages"] = [message_param(turn, model, reasons) for turn in turns]
        body.update(thinking)
        body["stream"] = True
        if chosen.system:
            body["system"] = chosen.system
        if chosen.temperature is not None:
            if rejects_temperature(model):
                ignored.append(
                    Ignored("temperature", f"{model} takes only its default temperature")
                )
            elif reasons:
                ignored.append(
                    Ignored("temperature", f"{model} takes no temperature while it reasons")
                )
            else:
                body["temperature"] = chosen.temperature
        return UpstreamRequest(
            url=f"{config.base_url.rstrip('/')}/v1/messages",
            headers=json_headers(
                {"x-api-key": config.api_key, "anthropic-version": ANTHROPIC_VERSION}
            ),
            body=json_body(body),
            ignored=tuple(ignored),
        )

    def parse_stream(self, response: httpx.Response, model: str) -> AsyncIterator[Event]:
        return relay(response, MessagesReader(self.config.name, model))

    def error_from(
        self, payload: object, *, status_code: int | None, headers: httpx.Headers | None
    ) -> ProviderError:
        return messages_error(self.config.name, payload, status_code=status_code, headers=headers)


def reasoning_fields(
    model: str, chosen: CallSettings, limit: int, ignored: list[Ignored]
) -> dict[str, object]:
    """``thinking`` (and ``output_config``, a raised ``max_tokens``) for the level asked."""
    level = chosen.reasoning
    if level is None:
        return {}
    style = thinking_style(model)
    if style == "none":
        ignored.append(Ignored("reasoning", f"{model} does not reason"))
        return {}
    if level == "off":
        if model.startswith(ALWAYS_REASONING_MODELS):
            ignored.append(Ignored("reasoning", f"{model} always reasons"))
            return {}
        return {"thinking": {"type": "disabled"}}
    budget = REASONING_BUDGETS[level]
    # max_tokens counts thinking too: the answer keeps its own limit, the thinking gets more.
    if style == "budget":
        return {
            "max_tokens": limit + budget,
            "thinking": {"type": "enabled", "budget_tokens": budget},
        }
    return {
        "max_tokens": limit + budget,
        "thinking": {"type": "adaptive", "display": "summarized"},
        "output_config": {"effort": level},
    }


def message_param(turn: Message, model: str, reasons: bool) -> dict[str, object]:
    """A message in the API's shape: images (before the text, as the docs advise) and text;
    an earlier answer of this model opens with its signed thinking when this call reasons."""
    blocks: list[dict[str, object]] = []
    if turn.role == "assistant" and reasons and turn.echo and turn.echo.get("model") == model:
        blocks.extend(turn.echo.get("content") or ())
    for image in turn.images:
        source = {"type": "base64", "media_type": image.media_type, "data": image.base64()}
        blocks.append({"type": "image", "source": source})
    if not blocks:
        return {"role": turn.role, "content": turn.content}
    if turn.content:
        blocks.append({"type": "text", "text": turn.content})
    return {"role": turn.role, "content": blocks}


class MessagesReader(StreamReader):
    __slots__ = ("model", "blocks")

    def __init__(self, name: str, model: str) -> None:
        super().__init__(name)
        self.model = model
        # Thinking blocks by index: [type, text parts, signature] or [type, data]
        self.blocks: dict[int, list] = {}

    def feed(self, event: bytes | None, data: bytes) -> Fed:
        if event == b"content_block_delta":
            chunk = orjson.loads(data)
            delta = chunk["delta"]
            kind = delta.get("type")
            if kind == "text_delta":
                return delta.get("text")
            if kind == "thinking_delta":
                if text := delta.get("thinking"):
                    self.thinking_block(chunk["index"])[1].append(text)
                    return Thinking(text)
            elif kind == "signature_delta":
                self.thinking_block(chunk["index"])[2] = delta.get("signature") or ""
            return None
        if event == b"content_block_start":
            chunk = orjson.loads(data)
            block = chunk["content_block"]
            if block.get("type") == "thinking":
                text = block.get("thinking") or ""
                self.blocks[chunk["index"]] = ["thinking", [text], block.get("signature") or ""]
                return Thinking(text) if text else None
            if block.get("type") == "redacted_thinking":
                self.blocks[chunk["index"]] = ["redacted_thinking", block.get("data")]
        elif event == b"message_start":
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
                    self.output_tokens = tokens  # thinking included
                if details := usage.get("output_tokens_details"):
                    self.reasoning_tokens = details.get("thinking_tokens")
        elif event == b"message_stop":
            self.ended = True
            self.echo = self.signed_blocks()
        elif event == b"error":
            raise messages_error(self.name, orjson.loads(data))
        return None

    def thinking_block(self, index: int) -> list:
        block = self.blocks.get(index)
        if block is None or block[0] != "thinking":
            block = self.blocks[index] = ["thinking", [], ""]
        return block

    def signed_blocks(self) -> dict | None:
        """The thinking blocks as the API wants them back: whole, in order, signed."""
        content: list[dict[str, object]] = []
        for _, block in sorted(self.blocks.items()):
            if block[0] == "thinking" and block[2]:
                content.append(
                    {"type": "thinking", "thinking": "".join(block[1]), "signature": block[2]}
                )
            elif block[0] == "redacted_thinking" and block[1]:
                content.append({"type": "redacted_thinking", "data": block[1]})
        return {"model": self.model, "content": content} if content else None


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
