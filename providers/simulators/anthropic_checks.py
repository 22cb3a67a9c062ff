"""What the simulated Anthropic API checks in a request before answering: thinking and images.

The rules and messages follow the reference (shared/reference/images-and-reasoning.md §1):
errors are 400 ``invalid_request_error``s whose message starts with the JSON path.

Models by version: 4.6 and later take ``adaptive`` thinking (4.7 and later nothing else), 3.7 to
4.6 take ``enabled`` with a budget, older models do not think; Fable 5 and Mythos 5 always
think (``disabled`` is refused). Signatures are the simulator's own (a hash of the model and
the thinking text), so a block sent back edited, or to another model, is refused like the
real API refuses it.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from providers.simulators.images import ImageError, ImageFacts, image_tokens, inspect, strict_base64
from providers.simulators.wire import SimulatedApi

MEDIA_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
MAX_BASE64 = 5 * 1024 * 1024
MAX_SIDE = 8000
EFFORTS = ("low", "medium", "high", "xhigh", "max")
ALWAYS_THINKING = ("claude-fable-5", "claude-mythos-5")
OMITTED_BY_DEFAULT = ("claude-opus-4-7", "claude-mythos")
BUDGET_DOCS = (
    "`max_tokens` must be greater than `thinking.budget_tokens`. Please consult our documentation "
    "at https://docs.claude.com/en/docs/build-with-claude/extended-thinking#max-tokens-and-context-window-size"
)


def signature(model: str, thinking: str) -> str:
    digest = hashlib.sha256(f"simulated thinking\0{model}\0{thinking}".encode()).digest()
    return "Es" + base64.b64encode(digest * 2).decode("ascii")


def version(model: str) -> tuple[int, int]:
    """``claude-sonnet-4-5`` -> (4, 5), ``claude-3-7-sonnet`` -> (3, 7); no version: newest."""
    parts = model.removeprefix("claude-").split("-")
    for index, part in enumerate(parts):
        if part.isdigit() and len(part) <= 2:
            following = parts[index + 1] if index + 1 < len(parts) else ""
            return int(part), int(following) if following.isdigit() and len(following) == 1 else 0
    return (99, 0)


def check_request(
    api: SimulatedApi, model: str, data: dict[str, Any], messages: list[Any]
) -> tuple[str | None, bool, tuple[ImageFacts, ...], int]:
    """(effort, whether thinking is shown, the last user message's images, image tokens);
    raises RejectedRequest."""
    level, visible = thinking_of(api, model, data)
    temperature = data.get("temperature")
    if level is not None and temperature is not None and temperature != 1:
        raise api.invalid(
            "`temperature` may only be set to 1 when thinking is enabled or in adaptive mode"
        )
    last_images: tuple[ImageFacts, ...] = ()
    tokens = 0
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), list):
            continue
        images = []
        for j, block in enumerate(message["content"]):
            if not isinstance(block, dict):
                continue
            if block.get("type") == "image":
                facts = image_of(api, block, f"messages.{i}.content.{j}.image.source")
                images.append(facts)
                tokens += image_tokens(facts)
            elif block.get("type") == "thinking" and block.get("signature") != signature(
                model, str(block.get("thinking"))
            ):
                raise api.invalid(
                    f"messages.{i}.content.{j}: Invalid `signature` in `thinking` block"
                )
        if message.get("role") == "user":
            last_images = tuple(images)
    return level, visible, last_images, tokens


def thinking_of(api: SimulatedApi, model: str, data: dict[str, Any]) -> tuple[str | None, bool]:
    thinking = data.get("thinking")
    always = model.startswith(ALWAYS_THINKING)
    if thinking is None:
        return ("high", True) if always else (None, False)
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind == "disabled":
        if always:
            raise api.invalid(
                f"thinking.type: 'disabled' is not supported by {model}; use 'adaptive'"
            )
        return None, False
    if kind not in ("enabled", "adaptive"):
        raise api.invalid(
            f"thinking.type: Input tag '{kind}' found using 'type' does not match any of the "
            "expected tags: 'adaptive', 'disabled', 'enabled'"
        )
    at = version(model)
    if at < (3, 7):
        raise api.invalid(f"'{model}' does not support thinking.")
    display = thinking.get("display")
    if display not in (None, "summarized", "omitted"):
        raise api.invalid(f"thinking.{kind}.display: Input should be 'summarized' or 'omitted'")
    if display is None:
        display = "omitted" if model.startswith(OMITTED_BY_DEFAULT) else "summarized"
    if kind == "enabled":
        if at >= (4, 7):
            raise api.invalid(
                "thinking.type.enabled is not supported for this model. Use thinking.type.adaptive "
                "and output_config.effort to control thinking behavior."
            )
        budget = thinking.get("budget_tokens")
        if type(budget) is not int:
            raise api.invalid("thinking.enabled.budget_tokens: Field required")
        if budget < 1024:
            raise api.invalid(
                "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024"
            )
        if budget >= data["max_tokens"]:
            raise api.invalid(BUDGET_DOCS)
        level = "low" if budget < 4096 else "medium" if budget < 12000 else "high"
        return level, display == "summarized"
    if at < (4, 6):
        raise api.invalid(
            "thinking.type.adaptive is not supported for this model. Use thinking.type.enabled "
            "with thinking.budget_tokens."
        )
    config = data.get("output_config")
    effort = config.get("effort", "high") if isinstance(config, dict) else "high"
    if effort not in EFFORTS:
        raise api.invalid(
            "output_config.effort: Input should be 'low', 'medium', 'high', 'xhigh' or 'max'"
        )
    return ("high" if effort in ("xhigh", "max") else effort), display == "summarized"


def image_of(api: SimulatedApi, block: dict[str, Any], path: str) -> ImageFacts:
    source = block.get("source")
    if not isinstance(source, dict) or source.get("type") != "base64":
        if isinstance(source, dict) and source.get("type") == "url":
            raise api.invalid(
                f"{path}.url: Unable to download the file. Please verify the URL and try again."
            )
        raise api.invalid(
            f"{path}: Input tag found using 'type' does not match any of the expected tags: 'base64', 'url'"
        )
    media_type, text = source.get("media_type"), source.get("data")
    if media_type not in MEDIA_TYPES:
        raise api.invalid(
            f"{path}.base64.media_type: Input should be 'image/jpeg', 'image/png', 'image/gif' or 'image/webp'"
        )
    if isinstance(text, str) and len(text) > MAX_BASE64:
        raise api.invalid(
            f"{path}.base64: image exceeds 5 MB maximum: {len(text)} bytes > {MAX_BASE64} bytes"
        )
    try:
        return inspect(strict_base64(text), media_type, max_side=MAX_SIDE)
    except ImageError as error:
        messages = {
            "base64": f"{path}.base64: invalid base64 data",
            "mismatch": f"{path}.base64: Image does not match the provided media type",
            "too_large": f"{path}.base64.data: At least one of the image dimensions exceed max allowed size: {MAX_SIDE} pixels",
        }
        raise api.invalid(messages.get(error.reason, "Could not process image")) from None
