"""What an adapter is given: the thread (messages with their images) and the call's settings.

``CallSettings`` is one call's system prompt, temperature, output limit and reasoning level;
``None`` leaves a setting to the provider's configuration (``CLAUDE_TEMPERATURE`` ...), and the
adapter's ``effective`` settings are the two laid over each other. Each adapter decides what its
API and model can take, and says what it leaves out (``Ignored``).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["user", "assistant"]
Reasoning = Literal["off", "low", "medium", "high"]
REASONING_LEVELS: tuple[Reasoning, ...] = ("off", "low", "medium", "high")

# The image types every one of the five APIs is asked to take (each says which it refuses).
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")

# Reasoning tokens a level may spend, where an API counts them against the output limit or
# wants a budget (Anthropic's budget_tokens, Gemini 2.5's thinkingBudget): the answer keeps
# the whole output limit it was given, the reasoning gets this much on top.
REASONING_BUDGETS: dict[str, int] = {"low": 2048, "medium": 8192, "high": 16384}


@dataclass(frozen=True, slots=True)
class Image:
    media_type: str  # one of IMAGE_TYPES, checked against the bytes when it was uploaded
    data: bytes = field(repr=False)
    width: int | None = None
    height: int | None = None

    def base64(self) -> str:
        return base64.b64encode(self.data).decode("ascii")

    def data_uri(self) -> str:
        return f"data:{self.media_type};base64,{self.base64()}"

    @property
    def short_type(self) -> str:
        """``PNG``, ``JPEG`` ...: how error messages name it."""
        return self.media_type.removeprefix("image/").upper()


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: str
    images: tuple[Image, ...] = ()
    # An assistant message's Echo data, from the adapter that wrote it: sent back where the
    # API wants it (the same model, reasoning on), ignored everywhere else.
    echo: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class CallSettings:
    """One call's settings; None leaves a setting to the provider's configuration."""

    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    reasoning: Reasoning | None = None  # None: the model's own default, nothing is sent

    def over(self, defaults: CallSettings) -> CallSettings:
        """These settings, with ``defaults`` where these say nothing."""
        return CallSettings(
            system=self.system if self.system is not None else defaults.system,
            temperature=self.temperature if self.temperature is not None else defaults.temperature,
            max_tokens=self.max_tokens if self.max_tokens is not None else defaults.max_tokens,
            reasoning=self.reasoning if self.reasoning is not None else defaults.reasoning,
        )

    @property
    def reasons(self) -> bool:
        """Reasoning was asked for (a level other than off)."""
        return self.reasoning is not None and self.reasoning != "off"
