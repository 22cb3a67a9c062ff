"""The body of ``POST /v1/chat/completions``: what is read, what is refused, and why.

OpenAI's parameters fall in three groups:

* read and honoured: ``model``, ``messages``, ``stream``, ``stream_options.include_usage``,
  ``n`` (1, or one choice per provider with ``multichat``), ``user``, and the sampling
  parameters the turn domain takes (``gateway.api.openai_compat.messages.turn_options``);
* known but not honoured here (tools, logprobs, penalties, ``stop``, ...): a 400 that names
  the parameter, unless its value asks for nothing (null, or OpenAI's own default, such as
  ``top_p: 1`` or ``tools: []``, which clients often send as is);
* unknown: a 400, "Unrecognized request argument", as OpenAI answers.

Never a silent drop: what is accepted is done. Wrong types and values are 422 with the field
as ``param``, as everywhere in the gateway.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError

from gateway.api.errors import HttpError, invalid
from gateway.api.schemas import Strict, Text

# OpenAI parameters this gateway does not honour, with the values that ask for nothing.
NOT_HONOURED: dict[str, tuple[Any, ...]] = {
    "top_p": (1,),
    "presence_penalty": (0,),
    "frequency_penalty": (0,),
    "logprobs": (False,),
    "top_logprobs": (0,),
    "logit_bias": ({},),
    "stop": ([],),
    "seed": (),
    "tools": ([],),
    "tool_choice": ("none",),
    "parallel_tool_calls": (),
    "functions": ([],),
    "function_call": ("none",),
    "response_format": ({"type": "text"},),
    "modalities": (["text"],),
    "audio": (),
    "prediction": (),
    "service_tier": ("auto", "default"),
    "metadata": ({},),
    "store": (True,),  # the gateway stores every call: store=false cannot be honoured
    "web_search_options": (),
    "verbosity": (),
    "prompt_cache_key": (),
    "safety_identifier": (),
}
# On an assistant message of the history: what the SDKs put on a message they return.
NOT_HONOURED_IN_ASSISTANT: dict[str, tuple[Any, ...]] = {
    "refusal": (),
    "tool_calls": ([],),
    "function_call": (),
    "audio": (),
    "annotations": ([],),
    "reasoning_content": (),  # the gateway's own reasoning, echoed back: not sent upstream
}
UNSUPPORTED_ROLES = ("tool", "function")


class TextPart(Strict):
    type: Literal["text"]
    text: Text


class ImageURL(Strict):
    url: Text
    detail: Literal["auto", "low", "high"] | None = None


class ImagePart(Strict):
    type: Literal["image_url"]
    image_url: ImageURL


UserPart = Annotated[TextPart | ImagePart, Field(discriminator="type")]


class SystemMessage(Strict):
    role: Literal["system", "developer"]
    content: Text | list[TextPart]


class UserMessage(Strict):
    role: Literal["user"]
    content: Text | list[UserPart]


class AssistantMessage(Strict):
    role: Literal["assistant"]
    content: Text | list[TextPart] | None = None


ChatMessage = Annotated[SystemMessage | UserMessage | AssistantMessage, Field(discriminator="role")]


class StreamOptions(Strict):
    include_usage: bool = False
    include_obfuscation: Literal[False] = False  # the gateway never pads its chunks


class ChatCompletionRequest(Strict):
    model: Text = Field(min_length=1, max_length=1000)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(default=1, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    reasoning_effort: Literal["none", "minimal", "low", "medium", "high", "xhigh"] | None = None
    user: Text | None = Field(default=None, max_length=512)


def read_request(data: dict) -> ChatCompletionRequest:
    """The body, with parameters that ask for nothing left out; a 400 for any other
    parameter this gateway does not honour, a 422 for a bad value."""
    fields = ChatCompletionRequest.model_fields
    kept = {}
    for name, value in data.items():
        if name in fields:
            kept[name] = value
        elif name in NOT_HONOURED:
            if not asks_nothing(value, NOT_HONOURED[name]):
                raise not_honoured(name, f"'{name}' is not supported by this gateway")
        else:
            raise unsupported(name, f"Unrecognized request argument supplied: {name}")
    messages = kept.get("messages")
    if isinstance(messages, list):
        kept["messages"] = [plain_message(i, m) for i, m in enumerate(messages)]
    if kept.get("stream_options") is not None and kept.get("stream") is not True:
        raise not_honoured(
            "stream_options", "'stream_options' is only allowed when 'stream' is true"
        )
    try:
        return ChatCompletionRequest.model_validate(kept)
    except ValidationError as error:
        raise invalid(error) from None


def plain_message(index: int, message: object) -> object:
    """A message without what asks for nothing; a 400 for tools and other roles' fields."""
    if not isinstance(message, dict):
        return message  # the schema says what is wrong with it
    role = message.get("role")
    where = f"messages.{index}"
    if role in UNSUPPORTED_ROLES:
        raise not_honoured(
            f"{where}.role", f"messages with role '{role}' are not supported (no tools)"
        )
    kept = {}
    for name, value in message.items():
        if name == "name":
            if value is not None:
                raise not_honoured(f"{where}.name", "a message's 'name' is not supported")
            continue
        if role == "assistant" and name in NOT_HONOURED_IN_ASSISTANT:
            if not asks_nothing(value, NOT_HONOURED_IN_ASSISTANT[name]):
                raise not_honoured(
                    f"{where}.{name}", f"an assistant message's '{name}' is not supported"
                )
            continue
        kept[name] = value
    return kept


def asks_nothing(value: object, neutral: tuple[Any, ...]) -> bool:
    if value is None:
        return True
    # True == 1 in Python: a boolean is only ever its own neutral value.
    return any(value == n and (type(value) is bool) == (type(n) is bool) for n in neutral)


def unsupported(param: str, message: str) -> HttpError:
    return HttpError(
        400, message, type="unknown_parameter", details=[{"field": param, "message": message}]
    )


def not_honoured(param: str, message: str) -> HttpError:
    return HttpError(
        400, message, type="unsupported_parameter", details=[{"field": param, "message": message}]
    )
