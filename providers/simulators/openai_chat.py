"""Chat Completions, three ways: OpenAI, xAI and Perplexity share the request and differ on the wire.

* OpenAI: ``null`` for unset keys, ``obfuscation`` on every chunk, the usage chunk only when
  ``stream_options.include_usage`` is true, ``data: [DONE]``.
* xAI: unset keys omitted, the role on the first text chunk, a usage chunk always, ``[DONE]``,
  and its own error body ``{"code", "error"}`` (a wrong key is a 400).
* Perplexity: spaced JSON, accumulated ``message.content`` beside ``delta.content``, cumulative
  usage, citations and search results on every chunk, no ``[DONE]``; a wrong key gets openresty's
  HTML 401.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from typing import Any

import orjson

from providers.simulators.text import input_token_count
from providers.simulators.wire import (
    JSON,
    NOT_STREAMING,
    SSE,
    SSE_UTF8,
    EventStream,
    Headers,
    RejectedRequest,
    Reply,
    SimulatedApi,
    SimulatedCall,
    bearer_token,
    content_text,
    int_or_none,
    last_user_text,
    load_object,
    mask_key,
    model_of,
    phrase,
    random_id,
    seconds_text,
)

FINISH_REASONS = {"stop": b"stop", "length": b"length"}
DONE = b"data: [DONE]\n\n"


class ChatCompletionsApi(SimulatedApi):
    """The request side all three flavours share; subclasses add keys, errors and the stream."""

    endpoint = "/chat/completions"

    def check_key(self, headers: dict[bytes, bytes], query: bytes, key: str) -> Reply | None:
        token = bearer_token(headers)
        return None if token == key else self.bad_key(token)

    def bad_key(self, token: str | None) -> Reply:
        raise NotImplementedError

    def validate(self, model: str, data: dict[str, Any], messages: list[Any]) -> None:
        """Refuse what this provider refuses beyond the shared shape (raise RejectedRequest)."""

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
        limit = int_or_none(data.get("max_completion_tokens"))
        if limit is None:
            limit = int_or_none(data.get("max_tokens"))
        texts = [content_text(m.get("content")) for m in messages if isinstance(m, dict)]
        return SimulatedCall(
            model, knobs, last_user_text(messages), input_token_count(texts), limit, data
        )


# -- OpenAI ---------------------------------------------------------------------------------------

OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {  # status: (type, code, message)
    400: ("invalid_request_error", None, "We could not parse the JSON body of your request."),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
    ),
    403: (
        "request_forbidden",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model `{model}` does not exist or you do not have access to it.",
    ),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for {model} in organization org-simulated on requests per min (RPM): "
        "Limit 10000, Used 10000, Requested 1. Please try again in {retry_after}s. "
        "Visit https://platform.openai.com/account/rate-limits to learn more.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    503: ("server_error", None, "The server is overloaded or not ready yet."),
}
OPENAI_QUOTA = (
    "insufficient_quota",
    "insufficient_quota",
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
)
OPENAI_BAD_KEY = (
    "Incorrect API key provided: {key}. You can find your API key at "
    "https://platform.openai.com/account/api-keys."
)
OPENAI_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from "
    "https://platform.openai.com/account/api-keys."
)
# Reasoning models refuse the legacy max_tokens and any non-default temperature.
OPENAI_REASONING_MODEL = re.compile(r"gpt-5|o\d")


class OpenAIApi(ChatCompletionsApi):
    flavour = "openai"

    def bad_key(self, token: str | None) -> Reply:
        if token is None:
            return self.reply(401, "invalid_request_error", None, OPENAI_NO_KEY)
        return self.error(401, OPENAI_BAD_KEY.format(key=mask_key(token, 3, 4)))

    def validate(self, model: str, data: dict[str, Any], messages: list[Any]) -> None:
        if not OPENAI_REASONING_MODEL.match(model):
            return
        if "max_tokens" in data:
            raise RejectedRequest(
                self.reply(
                    400,
                    "invalid_request_error",
                    "unsupported_parameter",
                    "Unsupported parameter: 'max_tokens' is not supported with this model. "
                    "Use 'max_completion_tokens' instead.",
                    param="max_tokens",
                )
            )
        temperature = data.get("temperature")
        if temperature is not None and temperature != 1:
            raise RejectedRequest(
                self.reply(
                    400,
                    "invalid_request_error",
                    "unsupported_value",
                    f"Unsupported value: 'temperature' does not support {temperature} with this model. "
                    "Only the default (1) is supported.",
                    param="temperature",
                )
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
        code: str | None
        if status == 429 and quota:
            kind, code, stock = OPENAI_QUOTA
        else:
            kind, code, stock = OPENAI_ERRORS.get(status) or (
                "server_error" if status >= 500 else "invalid_request_error",
                None,
                phrase(status),
            )
        text = message or stock.format(model=model, retry_after=seconds_text(retry_after))
        rate_limited = status == 429 and not quota  # out of quota is final: no retry hints
        return self.reply(
            status, kind, code, text, retry_after=retry_after if rate_limited else None
        )

    def reply(
        self,
        status: int,
        kind: str,
        code: str | None,
        message: str,
        *,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> Reply:
        body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
        headers = self.headers(retry_after)
        return Reply(status, orjson.dumps(body), b"application/json; charset=utf-8", tuple(headers))

    def headers(self, retry_after: float | None = None) -> Headers:
        # A rate-limited reply says so in the x-ratelimit-* headers too, with a Go-style duration.
        remaining, reset = (
            (b"0", seconds_text(retry_after).encode() + b"s") if retry_after else (b"9999", b"6ms")
        )
        headers = [
            (b"x-request-id", b"req_" + random_id(32).encode()),
            (b"openai-organization", b"user-simulated"),
            (b"openai-project", b"proj_simulated"),
            (b"openai-processing-ms", b"12"),
            (b"openai-version", b"2020-10-01"),
            (b"x-ratelimit-limit-requests", b"10000"),
            (b"x-ratelimit-limit-tokens", b"30000000"),
            (b"x-ratelimit-remaining-requests", remaining),
            (b"x-ratelimit-remaining-tokens", b"29999000"),
            (b"x-ratelimit-reset-requests", reset),
            (b"x-ratelimit-reset-tokens", b"0s"),
        ]
        if retry_after is not None:
            headers.append((b"retry-after", seconds_text(retry_after).encode()))
        return headers

    def stream_headers(self) -> Headers:
        return [(b"content-type", SSE_UTF8), *self.headers()]

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
    __slots__ = ("head", "input_tokens", "include_usage", "obfuscate")

    def __init__(self, request: SimulatedCall) -> None:
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
                b'"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,'
                b'"accepted_prediction_tokens":0,"rejected_prediction_tokens":0}}'
                % (self.input_tokens, emitted, self.input_tokens + emitted),
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


# -- xAI ------------------------------------------------------------------------------------------

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


class XaiApi(ChatCompletionsApi):
    flavour = "xai"

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

    def stream_headers(self) -> Headers:
        return [(b"content-type", SSE)]

    def event_stream(self, request: SimulatedCall) -> EventStream:
        return XaiStream(request)


class XaiStream(EventStream):
    __slots__ = ("head", "tail", "input_tokens", "role_sent")

    def __init__(self, request: SimulatedCall) -> None:
        self.input_tokens = request.input_tokens
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

    def text(self, piece: bytes, emitted: int) -> bytes:
        # xAI puts the role on the first text chunk instead of sending a role-only chunk.
        if self.role_sent:
            delta = b"}}]"
        else:
            self.role_sent = True
            delta = b',"role":"assistant"}}]'
        return b"".join((self.head, b'[{"index":0,"delta":{"content":', piece, delta, self.tail))

    def ending(self, finish: str, emitted: int) -> bytes:
        prompt = self.input_tokens
        return b"".join(
            (
                self.head,
                b'[{"index":0,"delta":{},"finish_reason":"%b"}]' % FINISH_REASONS[finish],
                self.tail,
                self.head,
                b'[],"usage":{"prompt_tokens":%d,"completion_tokens":%d,"total_tokens":%d,'
                b'"prompt_tokens_details":{"text_tokens":%d,"audio_tokens":0,"image_tokens":0,"cached_tokens":0},'
                b'"completion_tokens_details":{"reasoning_tokens":0,"audio_tokens":0,'
                b'"accepted_prediction_tokens":0,"rejected_prediction_tokens":0},'
                b'"num_sources_used":0,"cost_in_usd_ticks":%d}'
                % (prompt, emitted, prompt + emitted, prompt, prompt * 2000 + emitted * 5000),
                self.tail,
                DONE,
            )
        )

    def error(self) -> bytes:
        return b'data: {"error":{"message":"Internal server error","type":"server_error"}}\n\n'


# -- Perplexity -----------------------------------------------------------------------------------

PERPLEXITY_ERRORS: dict[int, tuple[str, str]] = {  # status: (type, message)
    400: ("bad_request", "Bad request"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Model '{model}' not found"),
    429: ("rate_limit_exceeded", "Rate limit exceeded. Please try again later."),
    500: ("internal_server_error", "Internal server error"),
    503: ("service_unavailable", "Service temporarily unavailable"),
}
OPENRESTY_401 = (
    b"<html>\r\n<head><title>401 Authorization Required</title></head>\r\n<body>\r\n"
    b"<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>openresty/1.27.4</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
ALTERNATION = "After the (optional) system message(s), user or tool message(s) should alternate with assistant message(s)."
SOURCES = [
    {
        "title": f"Simulated source {number}",
        "url": f"https://example.com/simulated/source-{number}",
        "date": f"2026-01-0{number}",
        "last_updated": f"2026-02-0{number}",
        "snippet": f"A simulated search result, number {number}.",
        "source": "web",
    }
    for number in (1, 2)
]
# Perplexity's JSON is what Python's json.dumps writes (", " and ": "), so the fixed parts are too.
SEARCH_FIELDS = (
    b', "citations": '
    + json.dumps([source["url"] for source in SOURCES]).encode()
    + b', "search_results": '
    + json.dumps(SOURCES).encode()
)


class PerplexityApi(ChatCompletionsApi):
    flavour = "perplexity"

    def bad_key(self, token: str | None) -> Reply:
        return self.error(401)

    def validate(self, model: str, data: dict[str, Any], messages: list[Any]) -> None:
        roles = [message.get("role") if isinstance(message, dict) else None for message in messages]
        turns = roles[next((i for i, role in enumerate(roles) if role != "system"), len(roles)) :]
        for index, role in enumerate(turns):
            if role != ("user" if index % 2 == 0 else "assistant"):
                raise RejectedRequest(self.invalid_message(ALTERNATION))
        if not turns or turns[-1] != "user":
            raise RejectedRequest(self.invalid_message("Last message must have role `user`."))

    def invalid_message(self, message: str) -> Reply:
        body = {"error": {"message": message, "type": "invalid_message", "code": 400}}
        return Reply(400, orjson.dumps(body), JSON)

    def error(
        self,
        status: int,
        message: str | None = None,
        *,
        model: str = "",
        retry_after: float = 1.0,
        quota: bool = False,
    ) -> Reply:
        if status == 401:  # openresty refuses the key before the API sees the request
            return Reply(401, OPENRESTY_401, b"text/html", ((b"server", b"openresty/1.27.4"),))
        kind, stock = PERPLEXITY_ERRORS.get(status) or (
            phrase(status).lower().replace(" ", "_"),
            phrase(status),
        )
        body = {
            "error": {"message": message or stock.format(model=model), "type": kind, "code": status}
        }
        headers = ((b"retry-after", seconds_text(retry_after).encode()),) if status == 429 else ()
        return Reply(status, orjson.dumps(body), JSON, headers)

    def stream_headers(self) -> Headers:
        return [(b"content-type", SSE)]

    def event_stream(self, request: SimulatedCall) -> EventStream:
        return PerplexityStream(request)


class PerplexityStream(EventStream):
    __slots__ = ("head", "input_tokens", "said")

    def __init__(self, request: SimulatedCall) -> None:
        self.input_tokens = request.input_tokens
        self.said = bytearray()  # the JSON-escaped text so far, for message.content
        self.head = b'data: {"id": "%b", "model": %b, "created": %d, ' % (
            str(uuid.uuid4()).encode(),
            json.dumps(request.model).encode(),
            int(time.time()),
        )

    def chunk(self, usage: bytes, finish: bytes, delta: bytes) -> bytes:
        return b"".join(
            (
                self.head,
                usage,
                SEARCH_FIELDS,
                b', "object": "chat.completion.chunk", "choices": [{"index": 0, "finish_reason": ',
                finish,
                b', "message": {"role": "assistant", "content": "',
                self.said,
                b'"}, "delta": {"role": "assistant", "content": ',
                delta,
                b"}}]}\n\n",
            )
        )

    def usage(self, emitted: int) -> bytes:
        prompt = self.input_tokens
        return (
            b'"usage": {"prompt_tokens": %d, "completion_tokens": %d, "total_tokens": %d, "search_context_size": "low"'
            % (
                prompt,
                emitted,
                prompt + emitted,
            )
        )

    def text(self, piece: bytes, emitted: int) -> bytes:
        # The inside of a JSON string literal escapes each character on its own, so the escaped
        # text so far is the escaped pieces laid end to end.
        self.said += piece[1:-1]
        return self.chunk(self.usage(emitted) + b"}", b"null", piece)

    def ending(self, finish: str, emitted: int) -> bytes:
        prompt_cost, answer_cost = self.input_tokens / 1e6, emitted * 1.5e-5
        cost = {
            "input_tokens_cost": round(prompt_cost, 6),
            "output_tokens_cost": round(answer_cost, 6),
            "request_cost": 0.006,
            "total_cost": round(prompt_cost + answer_cost + 0.006, 6),
        }
        usage = self.usage(emitted) + b', "cost": ' + json.dumps(cost).encode() + b"}"
        return self.chunk(usage, b'"%b"' % FINISH_REASONS[finish], b'""')

    def error(self) -> bytes:
        return b'data: {"error": {"message": "Internal server error", "type": "internal_server_error", "code": 500}}\n\n'
