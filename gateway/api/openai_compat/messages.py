"""OpenAI's messages and parameters as a turn: its prompt, the history before it, and its
settings (``gateway.turns.TurnSettings``).

OpenAI's API is stateless: the client sends the whole conversation every time. The last
message is the prompt (it must be the user's); the messages before it are every provider's
history, as sent (``TurnRegistry.create_turn(history=...)``), whatever the conversation the
call is stored in holds. Consecutive messages of one role are joined (a blank line between),
since Anthropic and Perplexity want user and assistant to alternate; a message of several
text parts is its parts joined by a newline. System and developer messages, wherever they
are, make the turn's system prompt, in order.

Images come as ``data:`` URLs (the gateway fetches no URL for a client): the prompt's are
stored as uploads and attached to it, as the page's are; the history's are checked as an
upload is, and given to the providers with their message.
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass, field

import anyio.to_thread

from gateway.api.errors import HttpError
from gateway.api.openai_compat.request import (
    AssistantMessage,
    ChatCompletionRequest,
    ImagePart,
    SystemMessage,
    not_honoured,
)
from gateway.turns.turn_settings import TurnSettings
from gateway.turns.uploads import check_image, store_upload
from providers import CallSettings, Image, Message

DATA_URL = re.compile(r"data:([^;,]*)((?:;[^;,]*)*),", re.ASCII)
# OpenAI's reasoning efforts on the gateway's four levels.
REASONING = {
    "none": "off",
    "minimal": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "xhigh": "high",
}


@dataclass(slots=True)
class DataImage:
    """An ``image_url`` part's bytes, the type its URL declares, and where it was."""

    declared: str
    data: bytes
    where: str


@dataclass(slots=True)
class Said:
    role: str
    text: str
    images: list[DataImage] = field(default_factory=list)


@dataclass(slots=True)
class Exchange:
    prompt: Said
    history: list[Said]
    system: str | None = None


def read_messages(body: ChatCompletionRequest) -> Exchange:
    system: list[str] = []
    said: list[Said] = []  # one role at a time
    for index, message in enumerate(body.messages):
        if isinstance(message, SystemMessage):
            system.append(read_content(message.content, index).text)
            continue
        one = read_content(message.content or "", index)
        one.role = "assistant" if isinstance(message, AssistantMessage) else "user"
        if said and said[-1].role == one.role:
            said[-1].text += "\n\n" + one.text
            said[-1].images += one.images
        else:
            said.append(one)
    last = f"messages.{len(body.messages) - 1}"
    if not said or said[-1].role != "user":
        raise not_honoured(
            last, "the last message must be the user's (an assistant prefill is not supported)"
        )
    if not said[-1].text.strip():
        raise not_honoured(f"{last}.content", "the prompt is empty")
    return Exchange(said[-1], said[:-1], "\n\n".join(system) if system else None)


def read_content(content: str | list, index: int) -> Said:
    if isinstance(content, str):
        return Said("", content)
    texts, images = [], []
    for number, part in enumerate(content):
        if isinstance(part, ImagePart):
            where = f"messages.{index}.content.{number}.image_url.url"
            images.append(data_image(part.image_url.url, where))
        else:
            texts.append(part.text)
    return Said("", "\n".join(texts), images)


def data_image(url: str, where: str) -> DataImage:
    match = DATA_URL.match(url)
    if match is None:
        raise not_honoured(where, "an image_url must be a data: URL (this gateway fetches none)")
    if ";base64" not in match.group(2).lower():
        raise invalid(where, "an image's data: URL must be base64")
    try:
        data = base64.b64decode(url[match.end() :], validate=True)
    except (binascii.Error, ValueError):
        raise invalid(where, "an image's data: URL is not valid base64") from None
    return DataImage(match.group(1).strip().lower(), data, where)


def invalid(where: str, message: str) -> HttpError:
    return HttpError(422, message, details=[{"field": where, "message": message}])


def call_settings(body: ChatCompletionRequest) -> CallSettings:
    limit = body.max_completion_tokens
    if body.max_tokens is not None:
        if limit is not None and limit != body.max_tokens:
            raise not_honoured(
                "max_tokens", "give max_completion_tokens or max_tokens (the older name), not both"
            )
        limit = body.max_tokens
    effort = body.reasoning_effort
    return CallSettings(
        temperature=body.temperature,
        max_tokens=limit,
        reasoning=REASONING[effort] if effort is not None else None,  # type: ignore[arg-type]  # the four levels, as a str
    )


def asks_reasoning(body: ChatCompletionRequest) -> bool:
    """Reasoning is streamed as ``reasoning_content`` only to a client that asked for it."""
    return body.reasoning_effort is not None and REASONING[body.reasoning_effort] != "off"


async def turn_inputs(
    body: ChatCompletionRequest, exchange: Exchange, pool, owner: int, image_limit: int
) -> tuple[list[Message], TurnSettings]:
    """The history with its images checked, and the turn's settings with the prompt's images
    stored as the key's uploads (the domain refuses what an image cannot be)."""
    history = [
        Message(one.role, one.text, tuple([await checked(i, image_limit) for i in one.images]))  # type: ignore[arg-type]  # roles are user or assistant, set above
        for one in exchange.history
    ]
    attachments = tuple(
        [
            (await store_upload(pool, owner, image.data, image.declared, image_limit)).id
            for image in exchange.prompt.images
        ]
    )
    settings = TurnSettings(
        system=exchange.system, params=call_settings(body), attachments=attachments
    )
    return history, settings


async def checked(image: DataImage, limit: int) -> Image:
    """A history image, checked as an upload is (in a worker thread: decoding is slow)."""
    known = await anyio.to_thread.run_sync(check_image, image.data, image.declared, limit)
    return Image(known.media_type, image.data, known.width, known.height)
