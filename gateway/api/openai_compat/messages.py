"""OpenAI's messages and parameters as a turn: its prompt, the history before it, and what
else the turn domain is asked.

OpenAI's API is stateless: the client sends the whole conversation every time. The last
message is the prompt (it must be the user's); the messages before it are every provider's
history, as sent (``TurnRegistry.create_turn(history=...)``), whatever the conversation the
call is stored in holds. Consecutive messages of one role are joined (a blank line between),
since Anthropic and Perplexity want user and assistant to alternate; a message of several
text parts is its parts joined by a newline.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gateway.api.openai_compat.request import (
    AssistantMessage,
    ChatCompletionRequest,
    ImagePart,
    SystemMessage,
    TextPart,
    not_honoured,
)
from providers import Message


@dataclass(slots=True)
class Exchange:
    prompt: str
    history: list[Message] = field(default_factory=list)
    system: str | None = None


def read_messages(body: ChatCompletionRequest) -> Exchange:
    system: list[str] = []
    turns: list[tuple[str, str]] = []  # (role, text), one role at a time
    for index, message in enumerate(body.messages):
        if isinstance(message, SystemMessage):
            system.append(text_of(message.content, index))
            continue
        role = "assistant" if isinstance(message, AssistantMessage) else "user"
        text = text_of(message.content or "", index)
        if turns and turns[-1][0] == role:
            turns[-1] = (role, turns[-1][1] + "\n\n" + text)
        else:
            turns.append((role, text))
    if not turns or turns[-1][0] != "user":
        raise not_honoured(
            f"messages.{len(body.messages) - 1}",
            "the last message must be the user's (an assistant prefill is not supported)",
        )
    prompt = turns[-1][1]
    if not prompt.strip():
        raise not_honoured(f"messages.{len(body.messages) - 1}.content", "the prompt is empty")
    history = [Message(role, text) for role, text in turns[:-1]]  # type: ignore[arg-type]  # roles checked above: user or assistant
    return Exchange(prompt, history, "\n\n".join(system) if system else None)


def text_of(content: str | list, index: int) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for number, part in enumerate(content):
        if isinstance(part, ImagePart):
            raise not_honoured(
                f"messages.{index}.content.{number}",
                "image_url parts are not supported by this gateway yet",
            )
        assert isinstance(part, TextPart)
        texts.append(part.text)
    return "\n".join(texts)


def turn_options(body: ChatCompletionRequest, exchange: Exchange) -> dict:
    """What else the turn is asked, as ``create_turn`` takes it; a 400 for what the turn
    domain cannot do yet (never a silent drop)."""
    if exchange.system is not None:
        raise not_honoured("messages", "system and developer messages are not supported yet")
    for name in ("temperature", "max_tokens", "max_completion_tokens", "reasoning_effort"):
        if getattr(body, name) is not None:
            raise not_honoured(name, f"'{name}' is not supported by this gateway yet")
    return {}
