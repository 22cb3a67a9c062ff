"""Anthropic Messages API: ``POST {prefix}/v1/messages``, named SSE events, ``message_stop`` at the end.

With ``thinking`` on, a thinking block comes first (index 0: ``thinking_delta``s, an empty
one, then one ``signature_delta`` just before it stops), then the text block (index 1); the
usage counts the thinking in ``output_tokens`` and says how much in
``output_tokens_details.thinking_tokens``. ``display: "omitted"`` streams the block with its
signature and no text. Images come as base64 ``image`` blocks. What the real API refuses is
refused here in its words (anthropic_checks.py): a thinking mode the model does not take, a
budget out of range, a temperature while thinking, an image over 5 MB, of another type than
declared or not one at all, and a thinking block whose signature is not the one it was sent.
"""

from __future__ import annotations

import time
from typing import Any

import orjson

from providers.base import RETRYABLE_STATUS
from providers.simulators.anthropic_checks import check_request, signature
from providers.simulators.text import input_token_count
from providers.simulators.thoughts import expected_thinking
from providers.simulators.wire import (
    JSON,
    NOT_STREAMING,
    SSE_UTF8,
    EventStream,
    Headers,
    Reply,
    SimulatedApi,
    SimulatedCall,
    bearer_token,
    content_text,
    last_user_text,
    load_object,
    model_of,
    phrase,
    random_id,
    seconds_text,
)

ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "Your request is invalid."),
    401: ("authentication_error", "invalid x-api-key"),
    402: ("billing_error", "Your credit balance is too low to access the Anthropic API."),
    403: (
        "permission_error",
        "Your API key does not have permission to use the specified resource.",
    ),
    404: ("not_found_error", "model: {model}"),
    413: ("request_too_large", "Request exceeds the maximum allowed number of bytes."),
    429: (
        "rate_limit_error",
        "This request would exceed your organization's rate limit. Please try again later.",
    ),
    500: ("api_error", "Internal server error"),
    504: ("timeout_error", "Request timed out"),
    529: ("overloaded_error", "Overloaded"),
}

STOP_REASONS = {"stop": b"end_turn", "length": b"max_tokens"}

# The 2026 API pads some events with spaces before the final "}" to blur their sizes; adapters
# must cope, so the simulator does it too (on the events the recordings show padded).
CONTENT_BLOCK_START = (
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"text","text":""}}\n\n'
)
PING = b'event: ping\ndata: {"type": "ping"}\n\n'
DELTA_PREFIX = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"text_delta","text":'
)
DELTA_SUFFIX = b"}}\n\n"
CONTENT_BLOCK_STOP = b'event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n'
# With thinking: the thinking block is index 0 and the text block index 1.
THINKING_BLOCK_START = (
    b'event: content_block_start\ndata: {"type":"content_block_start","index":0,'
    b'"content_block":{"type":"thinking","thinking":"","signature":""}       }\n\n'
)
THINKING_PREFIX = (
    b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
    b'"delta":{"type":"thinking_delta","thinking":'
)
THINKING_SUFFIX = b"}      }\n\n"
TEXT_BLOCK_START_1 = (
    b'event: content_block_start\ndata: {"type":"content_block_start","index":1,'
    b'"content_block":{"type":"text","text":""}}\n\n'
)
DELTA_PREFIX_1 = DELTA_PREFIX.replace(b'"index":0', b'"index":1')
CONTENT_BLOCK_STOP_1 = CONTENT_BLOCK_STOP.replace(b'"index":0', b'"index":1')
MESSAGE_STOP = b'event: message_stop\ndata: {"type":"message_stop"       }\n\n'
OVERLOADED = b'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n'


class AnthropicApi(SimulatedApi):
    flavour = "anthropic"
    endpoint = "/v1/messages"

    def check_key(self, headers: dict[bytes, bytes], query: bytes, key: str) -> Reply | None:
        given = headers.get(b"x-api-key")
        # The API also takes OAuth tokens as a bearer, so accept the key that way too.
        token = given.decode("latin-1") if given is not None else bearer_token(headers)
        if token is None:
            return self.error(401, "x-api-key header is required")
        return None if token == key else self.error(401)

    def parse(
        self, body: bytes, headers: dict[bytes, bytes], query: bytes, rest: str
    ) -> SimulatedCall:
        if b"anthropic-version" not in headers:
            raise self.invalid("anthropic-version: header is required")
        data = load_object(self, body)
        model, knobs = model_of(self, data)
        messages = data.get("messages")
        if not isinstance(messages, list) or not messages:
            raise self.invalid("messages: Field required")
        max_tokens = data.get("max_tokens")
        if type(max_tokens) is not int or max_tokens < 1:
            raise self.invalid("max_tokens: Field required")
        if data.get("stream") is not True:
            raise self.invalid(NOT_STREAMING)
        level, visible, images, image_tokens = check_request(self, model, data, messages)
        texts = [content_text(data.get("system"))]
        texts += [content_text(m.get("content")) for m in messages if isinstance(m, dict)]
        return SimulatedCall(
            model,
            knobs,
            last_user_text(messages),
            input_token_count(texts) + image_tokens,
            max_tokens,
            data,
            images=images,
            reasoning_level=level,
            reasoning_visible=visible,
        )

    def error(
        self,
        status: int,
        message: str | None = None,
        *,
        model: str = "",
        retry_after: float = 1.0,
        quota: bool = False,
    ) -> Reply:
        kind, stock = ERRORS.get(status) or (
            "api_error" if status >= 500 else "invalid_request_error",
            phrase(status),
        )
        request_id = "req_011" + random_id(21)
        body: dict[str, Any] = {
            "type": "error",
            "error": {"type": kind, "message": message or stock.format(model=model)},
            "request_id": request_id,
        }
        headers = [
            (b"request-id", request_id.encode()),
            (b"x-should-retry", b"true" if status in RETRYABLE_STATUS else b"false"),
        ]
        if status == 429:
            headers.append((b"retry-after", seconds_text(retry_after).encode()))
        return Reply(status, orjson.dumps(body), JSON, tuple(headers))

    def stream_headers(self) -> Headers:
        reset = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1)).encode()
        headers = [
            (b"content-type", SSE_UTF8),
            (b"cache-control", b"no-cache"),
            (b"request-id", b"req_011" + random_id(21).encode()),
            (b"anthropic-organization-id", b"00000000-0000-4000-8000-000000000000"),
        ]
        for limit in (b"requests", b"tokens", b"input-tokens", b"output-tokens"):
            headers += [
                (b"anthropic-ratelimit-%b-limit" % limit, b"4000000"),
                (b"anthropic-ratelimit-%b-remaining" % limit, b"3999000"),
                (b"anthropic-ratelimit-%b-reset" % limit, reset),
            ]
        return headers

    def event_stream(self, request: SimulatedCall) -> EventStream:
        return AnthropicStream(request)


class AnthropicStream(EventStream):
    __slots__ = ("model", "input_tokens", "reasoning", "signed", "delta_prefix", "block_stop")

    def __init__(self, request: SimulatedCall) -> None:
        self.model = orjson.dumps(request.model)
        self.input_tokens = request.input_tokens
        self.reasoning = request.reasoning
        # The signature covers the thinking text as streamed, so an edited block is refused.
        if self.reasoning:
            thought = expected_thinking("anthropic", request.prompt, self.reasoning.shown)
            self.signed = signature(request.model, thought)
            self.delta_prefix, self.block_stop = DELTA_PREFIX_1, CONTENT_BLOCK_STOP_1
        else:
            self.signed = ""
            self.delta_prefix, self.block_stop = DELTA_PREFIX, CONTENT_BLOCK_STOP

    def opening(self) -> bytes:
        message_start = (
            b'event: message_start\ndata: {"type":"message_start","message":{"model":%b,'
            b'"id":"msg_01%b","type":"message","role":"assistant","content":[],'
            b'"stop_reason":null,"stop_sequence":null,"stop_details":null,'
            b'"usage":{"input_tokens":%d,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,'
            b'"cache_creation":{"ephemeral_5m_input_tokens":0,"ephemeral_1h_input_tokens":0},'
            b'"output_tokens":1,"service_tier":"standard","inference_geo":"not_available"}}   }\n\n'
        ) % (self.model, random_id(22).encode(), self.input_tokens)
        first = THINKING_BLOCK_START if self.reasoning else CONTENT_BLOCK_START
        return message_start + first + PING

    def thinking(self, piece: bytes) -> bytes:
        return b"".join((THINKING_PREFIX, piece, THINKING_SUFFIX))

    def thinking_end(self) -> bytes:
        if not self.reasoning:
            return b""
        return b"".join(
            (
                self.thinking(b'""'),
                b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
                b'"delta":{"type":"signature_delta","signature":%b}            }\n\n'
                % orjson.dumps(self.signed),
                CONTENT_BLOCK_STOP,
                TEXT_BLOCK_START_1,
            )
        )

    def text(self, piece: bytes, emitted: int) -> bytes:
        return b"".join((self.delta_prefix, piece, DELTA_SUFFIX))

    def ending(self, finish: str, emitted: int) -> bytes:
        thinking = self.reasoning.tokens
        details = b',"output_tokens_details":{"thinking_tokens":%d}' % thinking if thinking else b""
        message_delta = (
            b'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"%b",'
            b'"stop_sequence":null,"stop_details":null},"usage":{"input_tokens":%d,'
            b'"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":%d%b}            }\n\n'
        ) % (STOP_REASONS[finish], self.input_tokens, emitted + thinking, details)
        return self.block_stop + message_delta + MESSAGE_STOP

    def error(self) -> bytes:
        return OVERLOADED
