"""The request side of Chat Completions, shared by the three APIs that speak it (OpenAI, xAI,
Perplexity); each vendor's module adds its keys, error bodies, models and stream.

Images come as ``image_url`` parts holding a data URI (Perplexity also takes the URI as a
bare string). Each API refuses images in its own words, and says which models see images and
which reason (``reasoning_of``).
"""

from __future__ import annotations

from typing import Any

from providers.simulators.images import (
    ImageError,
    ImageFacts,
    data_uri,
    image_tokens,
    inspect,
    strict_base64,
)
from providers.simulators.text import input_token_count
from providers.simulators.wire import (
    NOT_STREAMING,
    RejectedRequest,
    Reply,
    SimulatedApi,
    SimulatedCall,
    bearer_token,
    content_text,
    int_or_none,
    last_user_text,
    load_object,
    model_of,
)

FINISH_REASONS = {"stop": b"stop", "length": b"length"}
DONE = b"data: [DONE]\n\n"


class ChatCompletionsApi(SimulatedApi):
    """The request side all three flavours share; subclasses add keys, errors and the stream."""

    endpoint = "/chat/completions"
    image_types: tuple[str, ...] = ("image/png", "image/jpeg", "image/gif", "image/webp")

    def check_key(self, headers: dict[bytes, bytes], query: bytes, key: str) -> Reply | None:
        token = bearer_token(headers)
        return None if token == key else self.bad_key(token)

    def bad_key(self, token: str | None) -> Reply:
        raise NotImplementedError

    def validate(self, model: str, data: dict[str, Any], messages: list[Any]) -> None:
        """Refuse what this provider refuses beyond the shared shape (raise RejectedRequest)."""

    def reasoning_of(self, model: str, data: dict[str, Any]) -> tuple[str | None, bool]:
        """(the effort the model reasons at, or None; whether it streams its reasoning);
        raises RejectedRequest for a ``reasoning_effort`` the model refuses."""
        return None, False

    def sees_images(self, model: str) -> bool:
        return True

    def refuse_image(self, model: str, reason: str, where: str) -> RejectedRequest:
        """The API's refusal of an image: ``reason`` is url | type | base64 | undecodable |
        mismatch | no_vision; ``where`` the part's place (``messages.[0].content.[1]``)."""
        raise NotImplementedError

    def parse(
        self, body: bytes, headers: dict[bytes, bytes], query: bytes, rest: str
    ) -> SimulatedCall:
        data = load_object(self, body)
        model, knobs = model_of(self, data)
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise self.invalid("Missing required parameter: 'messages'.")
        self.validate(model, data, messages)
        if data.get("stream") is not True:
            raise self.invalid(NOT_STREAMING)
        level, visible = self.reasoning_of(model, data)
        images, tokens = self.images_of(model, messages)
        limit = int_or_none(data.get("max_completion_tokens"))
        if limit is None:
            limit = int_or_none(data.get("max_tokens"))
        texts = [content_text(m.get("content")) for m in messages if isinstance(m, dict)]
        return SimulatedCall(
            model,
            knobs,
            last_user_text(messages),
            input_token_count(texts) + tokens,
            limit,
            data,
            images=images,
            reasoning_level=level,
            reasoning_visible=visible,
        )

    def images_of(self, model: str, messages: list[Any]) -> tuple[tuple[ImageFacts, ...], int]:
        """The last user message's images, and the input tokens of every image."""
        last: tuple[ImageFacts, ...] = ()
        tokens = 0
        for i, message in enumerate(messages):
            if not isinstance(message, dict) or not isinstance(message.get("content"), list):
                continue
            images = []
            for j, part in enumerate(message["content"]):
                if isinstance(part, dict) and part.get("type") == "image_url":
                    where = f"messages.[{i}].content.[{j}]"
                    if not self.sees_images(model):
                        raise self.refuse_image(model, "no_vision", where)
                    facts = self.image_of(model, part.get("image_url"), where)
                    images.append(facts)
                    tokens += image_tokens(facts)
            if message.get("role") == "user":
                last = tuple(images)
        return last, tokens

    def image_of(self, model: str, value: Any, where: str) -> ImageFacts:
        url = value.get("url") if isinstance(value, dict) else value
        uri = data_uri(url)
        if uri is None:
            raise self.refuse_image(model, "url", where)
        media_type, text = uri
        if media_type not in self.image_types:
            raise self.refuse_image(model, "type", where)
        try:
            return inspect(strict_base64(text), media_type)
        except ImageError as error:
            raise self.refuse_image(model, error.reason, where) from None
