"""xAI (Grok) Chat Completions: ``POST {prefix}/chat/completions``.

Unset keys are omitted (no ``null``s), the role rides on the first chunk, a usage chunk comes
always, then ``[DONE]``; errors are ``{"code", "error"}`` and a wrong key is a 400. Reasoning:
grok-3-mini streams ``delta.reasoning_content`` before its answer; other models take a
``reasoning_effort`` (or refuse it) and only count their reasoning, which
``completion_tokens`` leaves out (``total_tokens`` = prompt + completion + reasoning). Images:
JPEG and PNG only, and not on the grok-3 and grok-code models.
"""

from __future__ import annotations

import re
import time
import uuid
from typing import Any

import orjson

from providers.simulators.chat_completions import DONE, FINISH_REASONS, ChatCompletionsApi
from providers.simulators.wire import (
    JSON,
    SSE,
    EventStream,
    Headers,
    RejectedRequest,
    Reply,
    SimulatedCall,
    mask_key,
    phrase,
    random_id,
    seconds_text,
)

# xAI's "code" is a gRPC-style status description; the 400 and 404 ones are recorded, the others
# follow the canonical gRPC wording.
XAI_ERRORS: dict[int, tuple[str, str]] = {  # status: (code, message)
    400: ("Client specified an invalid argument", "Client specified an invalid argument"),
    401: ("Unauthenticated", "The authorization header is missing or invalid."),
    403: ("Permission denied", "Your team does not have permission to perform this action."),
    404: (
        "not-found",
        "The model {model} does not exist or your team does not have access to it. If you believe "
        "this is a mistake, please contact support and quote your team ID and the model name.",
    ),
    429: (
        "Some resource has been exhausted",
        "Too many requests: your team has exceeded its rate limit.",
    ),
    500: ("Internal error", "Internal server error"),
    503: ("The service is currently unavailable", "The service is currently unavailable"),
}
XAI_OUT_OF_CREDITS = (
    "Some resource has been exhausted",
    "Your team has either used all available credits or reached its monthly spending limit. "
    "To continue making API requests, please purchase more credits or raise your spending limit.",
)


# Which models take reasoning_effort, and which values (reference §4.2); the rest refuse it.
def efforts(model: str) -> tuple[str, ...]:
    if model.startswith("grok-3-mini"):
        return ("low", "high")
    found = re.match(r"grok-(\d+)\.(\d)(?!\d)", model)
    if found and (int(found[1]), int(found[2])) == (4, 3):
        return ("none", "low", "medium", "high")
    if found and (int(found[1]), int(found[2])) >= (4, 5):
        return ("low", "medium", "high")
    return ()


NO_VISION_MODELS = ("grok-3", "grok-code")  # grok-3 and grok-3-mini, grok-code-fast-1
IMAGE_TYPES = ("image/jpeg", "image/png")


class XaiApi(ChatCompletionsApi):
    flavour = "xai"
    image_types = IMAGE_TYPES
    limit_counts_reasoning = False  # reasoning tokens are counted apart from the completion

    def bad_key(self, token: str | None) -> Reply:
        if token is None:
            return self.error(401)  # documented: the authorization header is missing
        masked = mask_key(token, 2, 1)
        message = f"Incorrect API key provided: {masked}. You can obtain an API key from https://console.x.ai."
        return self.error(400, message)

    def error(
        self,
        status: int,
        message: str | None = None,
        *,
        model: str = "",
        retry_after: float = 1.0,
        quota: bool = False,
    ) -> Reply:
        if status == 429 and quota:
            code, stock = XAI_OUT_OF_CREDITS
        else:
            code, stock = XAI_ERRORS.get(status) or (phrase(status), phrase(status))
        body = {"code": code, "error": message or stock.format(model=model)}
        headers = (
            ((b"retry-after", seconds_text(retry_after).encode()),)
            if status == 429 and not quota
            else ()
        )
        return Reply(status, orjson.dumps(body), JSON, headers)

    def reasoning_of(self, model: str, data: dict[str, Any]) -> tuple[str | None, bool]:
        """grok-3-mini always reasons and streams it (``reasoning_content``); the others take
        an effort and only count their reasoning."""
        allowed = efforts(model)
        visible = model.startswith("grok-3-mini")
        if "reasoning_effort" not in data:
            return ("low", True) if visible else (None, False)
        effort = data["reasoning_effort"]
        if not allowed:
            raise self.invalid(f"Model {model} does not support parameter reasoningEffort.")
        if effort not in allowed:
            raise self.invalid(
                f"Invalid reasoning effort {effort!r} for model {model}: "
                f"supported values are {', '.join(allowed)}."
            )
        return effort, visible

    def sees_images(self, model: str) -> bool:
        return not model.startswith(NO_VISION_MODELS)

    def refuse_image(self, model: str, reason: str, where: str) -> RejectedRequest:
        messages = {
            "no_vision": f"Image inputs are not supported by model {model}.",
            "type": "Unsupported image format: only JPEG and PNG images are supported.",
            "url": f"{where}: image_url must be a data URI or an https URL.",
        }
        return self.invalid(messages.get(reason, f"{where}: could not decode the image."))

    def stream_headers(self) -> Headers:
        return [(b"content-type", SSE)]

    def event_stream(self, request: SimulatedCall) -> EventStream:
        return XaiStream(request)


class XaiStream(EventStream):
    __slots__ = ("head", "tail", "input_tokens", "role_sent", "reasoning_tokens")

    def __init__(self, request: SimulatedCall) -> None:
        self.input_tokens = request.input_tokens
        self.reasoning_tokens = request.reasoning.tokens
        self.role_sent = False
        self.head = (
            b'data: {"id":"%b","object":"chat.completion.chunk","created":%d,"model":%b,"choices":'
            % (
                str(uuid.uuid4()).encode(),
                int(time.time()),
                orjson.dumps(request.model),
            )
        )
        self.tail = b',"system_fingerprint":"fp_%b"}\n\n' % random_id(10).encode()

    def delta_end(self) -> bytes:
        # xAI puts the role on the first chunk (reasoning or text) instead of a role-only chunk.
        if self.role_sent:
            return b"}}]"
        self.role_sent = True
        return b',"role":"assistant"}}]'

    def thinking(self, piece: bytes) -> bytes:
        return b"".join(
            (
                self.head,
                b'[{"index":0,"delta":{"reasoning_content":',
                piece,
                self.delta_end(),
                self.tail,
            )
        )

    def text(self, piece: bytes, emitted: int) -> bytes:
        return b"".join(
            (self.head, b'[{"index":0,"delta":{"content":', piece, self.delta_end(), self.tail)
        )

    def ending(self, finish: str, emitted: int) -> bytes:
        prompt, reasoning = self.input_tokens, self.reasoning_tokens
        return b"".join(
            (
                self.head,
                b'[{"index":0,"delta":{},"finish_reason":"%b"}]' % FINISH_REASONS[finish],
                self.tail,
                self.head,
                b'[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,'
                b'"prompt_tokens_details":{"text_tokens":%d,"audio_tokens":0,"image_tokens":0,"cached_tokens":0},'
                b'"completion_tokens_details":{"reasoning_tokens":%d,"audio_tokens":0,'
                b'"accepted_prediction_tokens":0,"rejected_prediction_tokens":0},'
                b'"num_sources_used":0,"cost_in_usd_ticks":%d}'
                % (
                    prompt,
                    emitted,
                    prompt + emitted + reasoning,  # completion_tokens leaves reasoning out
                    prompt,
                    reasoning,
                    prompt * 2000 + (emitted + reasoning) * 5000,
                ),
                self.tail,
                DONE,
            )
        )

    def error(self) -> bytes:
        return b'data: {"error":{"message":"Internal server error","type":"server_error"}}\n\n'
