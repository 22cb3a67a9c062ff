"""OpenAI Chat Completions: ``POST {prefix}/chat/completions``.

``null`` for unset keys, ``obfuscation`` on every chunk, the usage chunk only when
``stream_options.include_usage`` is true, ``data: [DONE]``. Reasoning models take
``reasoning_effort`` but stream no reasoning text: their reasoning tokens are only counted,
inside ``completion_tokens`` (``completion_tokens_details.reasoning_tokens`` says how many).
ChatGPT is called over the Responses API (openai_responses.py); this is the Chat Completions
side of the same account, for clients that speak only that.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from providers.simulators.chat_completions import DONE, FINISH_REASONS, ChatCompletionsApi
from providers.simulators.openai_common import (
    NO_VISION_MODELS,
    OPENAI_REASONING_MODEL,
    OpenAIErrors,
)
from providers.simulators.wire import (
    EventStream,
    RejectedRequest,
    SimulatedCall,
    random_id,
)


class OpenAIApi(OpenAIErrors, ChatCompletionsApi):
    flavour = "openai"

    def validate(self, model: str, data: dict[str, Any], messages: list[Any]) -> None:
        if OPENAI_REASONING_MODEL.match(model) and "max_tokens" in data:
            raise self.unsupported(
                "Unsupported parameter: 'max_tokens' is not supported with this model. "
                "Use 'max_completion_tokens' instead.",
                "max_tokens",
            )
        self.check_temperature(model, data)

    def reasoning_of(self, model: str, data: dict[str, Any]) -> tuple[str | None, bool]:
        if "reasoning_effort" not in data:
            return None, False
        return self.effort_of(model, data["reasoning_effort"], "reasoning_effort"), False

    def sees_images(self, model: str) -> bool:
        return not model.startswith(NO_VISION_MODELS)

    def refuse_image(self, model: str, reason: str, where: str) -> RejectedRequest:
        return self.image_refusal(reason, where)

    def event_stream(self, request: SimulatedCall) -> EventStream:
        return OpenAIStream(request)


# OpenAI pads every chunk with a random "obfuscation" string so that chunk sizes do not reveal
# the text; here the padding shrinks as the text grows, which is the point of it, and is taken
# from a fixed string so that building a chunk costs no randomness.
OBFUSCATION = b"yS7A7FhhVTuWnytCacw1RSeScNPVmGYP3"
OBFUSCATED_ENDS = tuple(
    b',"obfuscation":"%b"}\n\n' % OBFUSCATION[: max(2, 18 - size)] for size in range(19)
)
PLAIN_END = b"}\n\n"
OPENAI_TEXT_MIDDLE = b'},"logprobs":null,"finish_reason":null}],"usage":null'


class OpenAIStream(EventStream):
    __slots__ = ("head", "input_tokens", "include_usage", "obfuscate", "reasoning_tokens")

    def __init__(self, request: SimulatedCall) -> None:
        self.reasoning_tokens = request.reasoning.tokens
        options = request.body.get("stream_options")
        options = options if isinstance(options, dict) else {}
        self.include_usage = options.get("include_usage") is True
        self.obfuscate = options.get("include_obfuscation") is not False
        self.input_tokens = request.input_tokens
        self.head = (
            b'data: {"id":"chatcmpl-%b","object":"chat.completion.chunk","created":%d,"model":%b,'
            b'"service_tier":"default","system_fingerprint":"fp_%b","choices":'
        ) % (
            random_id(29).encode(),
            int(time.time()),
            orjson.dumps(request.model),
            random_id(10).encode(),
        )

    def end(self, size: int) -> bytes:
        return OBFUSCATED_ENDS[min(size, 18)] if self.obfuscate else PLAIN_END

    def opening(self) -> bytes:
        return b"".join(
            (
                self.head,
                b'[{"index":0,"delta":{"role":"assistant","content":"","refusal":null},'
                b'"logprobs":null,"finish_reason":null}],"usage":null',
                self.end(0),
            )
        )

    def text(self, piece: bytes, emitted: int) -> bytes:
        return b"".join(
            (
                self.head,
                b'[{"index":0,"delta":{"content":',
                piece,
                OPENAI_TEXT_MIDDLE,
                self.end(len(piece)),
            )
        )

    def ending(self, finish: str, emitted: int) -> bytes:
        reasoning = self.reasoning_tokens  # counted inside completion_tokens
        parts = [
            self.head,
            b'[{"index":0,"delta":{},"logprobs":null,"finish_reason":"%b"}],"usage":null'
            % FINISH_REASONS[finish],
            self.end(4),
        ]
        if self.include_usage:
            parts += [
                self.head,
                b'[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,'
                b'"prompt_tokens_details":{"cached_tokens":0,"audio_tokens":0},'
                b'"completion_tokens_details":{"reasoning_tokens":%d,"audio_tokens":0,'
                b'"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}'
                % (
                    self.input_tokens,
                    emitted + reasoning,
                    self.input_tokens + emitted + reasoning,
                    reasoning,
                ),
                self.end(9),
            ]
        parts.append(DONE)
        return b"".join(parts)

    def error(self) -> bytes:
        return (
            b'data: {"error":{"message":"The server experienced an error while processing your request. '
            b'We apologize for the inconvenience!","type":"server_error","param":null,"code":null}}\n\n'
            + DONE
        )
