"""Gemini native API: ``POST {prefix}/v1beta/models/{model}:streamGenerateContent?alt=sse`` (or v1).

Every event is a whole GenerateContentResponse with cumulative ``usageMetadata``, events end with
CRLF CRLF, the last one carries ``finishReason`` and there is no terminator. Errors are Google RPC
statuses, pretty-printed like Google's front end does, and a wrong key is a 400, not a 401.

Thinking (``generationConfig.thinkingConfig``): a ``thinkingBudget`` (Gemini 2.5; 0 is off,
-1 dynamic, 2.5 Pro cannot turn it off) or a ``thinkingLevel`` (Gemini 3; Pro takes only LOW
and HIGH), not both. With ``includeThoughts`` the thought summaries stream first as parts
marked ``"thought": true``; ``thoughtsTokenCount`` counts them apart from
``candidatesTokenCount``, and the last part carries a ``thoughtSignature``. Images are
``inlineData`` parts (camelCase or snake_case); GIF and other types are refused.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

import orjson

from providers.simulators.gemini_checks import signature, thinking_of
from providers.simulators.images import ImageError, inspect, strict_base64
from providers.simulators.knobs import split_model
from providers.simulators.text import input_token_count
from providers.simulators.wire import (
    SSE,
    EventStream,
    Headers,
    RejectedRequest,
    Reply,
    SimulatedApi,
    SimulatedCall,
    content_text,
    int_or_none,
    load_object,
    phrase,
    random_id,
    seconds_text,
)

ERROR_CONTENT_TYPE = b"application/json; charset=UTF-8"
ERRORS: dict[int, tuple[str, str]] = {  # status: (RPC status, message)
    400: ("INVALID_ARGUMENT", "Request contains an invalid argument."),
    401: ("UNAUTHENTICATED", "Request had invalid authentication credentials."),
    403: ("PERMISSION_DENIED", "The caller does not have permission"),
    404: (
        "NOT_FOUND",
        "models/{model} is not found for API version v1beta, or is not supported for generateContent. "
        "Call ListModels to see the list of available models and their supported methods.",
    ),
    429: (
        "RESOURCE_EXHAUSTED",
        "You exceeded your current quota, please check your plan and billing details. For more "
        "information on this error, head to: https://ai.google.dev/gemini-api/docs/rate-limits. "
        "Please retry in {retry_after}s.",
    ),
    500: (
        "INTERNAL",
        "An internal error has occurred. Please retry or report in "
        "https://developers.generativeai.google/guide/troubleshooting",
    ),
    503: ("UNAVAILABLE", "The model is overloaded. Please try again later."),
    504: ("DEADLINE_EXCEEDED", "Deadline expired before operation could complete."),
}
BAD_KEY = "API key not valid. Please pass a valid API key."
IMAGE_TYPES = ("image/png", "image/jpeg", "image/webp", "image/heic", "image/heif")
UNPROCESSABLE_IMAGE = (
    "Unable to process input image. Please retry or report in "
    "https://developers.generativeai.google/guide/troubleshooting"
)
FINISH_REASONS = {"stop": b"STOP", "length": b"MAX_TOKENS"}
STREAM_METHOD = "streamGenerateContent"
# python-genai calls v1beta or v1 depending on its version; both serve the same models.
ROUTE = re.compile(r"(?:v1|v1beta)/models/(?P<model>[^/:]+):(?P<method>\w+)")


class GeminiApi(SimulatedApi):
    flavour = "gemini"
    endpoint = "/"  # every path: parse() reads the API version, the model and the method

    def check_key(self, headers: dict[bytes, bytes], query: bytes, key: str) -> Reply | None:
        given = headers.get(b"x-goog-api-key")
        token = given.decode("latin-1") if given is not None else query_value(query, "key")
        if token == key:
            return None
        details: list[dict[str, Any]] = [
            {
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": {"service": "generativelanguage.googleapis.com"},
            },
            {
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": BAD_KEY,
            },
        ]
        return self.reply(400, "INVALID_ARGUMENT", BAD_KEY, details)

    def parse(
        self, body: bytes, headers: dict[bytes, bytes], query: bytes, rest: str
    ) -> SimulatedCall:
        route = ROUTE.fullmatch(rest)
        if route is None or route["method"] != STREAM_METHOD:
            # generateContent and the rest exist upstream, but the simulator only streams.
            message = (
                f"The simulator serves only v1beta/models/<model>:{STREAM_METHOD}, not {rest}."
            )
            raise RejectedRequest(self.error(404, message))
        model, knobs = split_model(route["model"])
        if query_value(query, "alt") != "sse":
            raise self.invalid("The simulator streams server-sent events only: add ?alt=sse.")
        data = load_object(self, body)
        contents = data.get("contents")
        if not isinstance(contents, list) or not contents:
            raise self.invalid("* GenerateContentRequest.contents: contents is not specified\n")
        turns = [turn for turn in contents if isinstance(turn, dict)]
        prompt = next(
            (parts_text(turn) for turn in reversed(turns) if turn.get("role", "user") == "user"), ""
        )
        system = data.get("systemInstruction") or data.get("system_instruction")
        texts = [parts_text(turn) for turn in turns]
        if isinstance(system, dict):
            texts.append(parts_text(system))
        config = data.get("generationConfig") or data.get("generation_config")
        config = config if isinstance(config, dict) else {}
        limit = int_or_none(config.get("maxOutputTokens", config.get("max_output_tokens")))
        level, visible = thinking_of(self, model, config)
        images, tokens = self.images_of(turns)
        return SimulatedCall(
            model,
            knobs,
            prompt,
            input_token_count(texts) + tokens,
            limit,
            data,
            images=images,
            reasoning_level=level,
            reasoning_visible=visible,
        )

    def images_of(self, turns: list[dict[str, Any]]) -> tuple[tuple[Any, ...], int]:
        """The last user turn's images (inline, camelCase or snake_case), and image tokens."""
        last: tuple[Any, ...] = ()
        tokens = 0
        for i, turn in enumerate(turns):
            images = []
            for j, part in enumerate(turn.get("parts") or ()):
                if not isinstance(part, dict):
                    continue
                if "fileData" in part or "file_data" in part:
                    raise self.invalid("Cannot fetch content from the provided URL.")
                blob = part.get("inlineData") or part.get("inline_data")
                if not isinstance(blob, dict):
                    continue
                mime = blob.get("mimeType") or blob.get("mime_type")
                if mime not in IMAGE_TYPES:
                    raise self.invalid(f"Unsupported MIME type: {mime}")
                field = f"contents[{i}].parts[{j}].inline_data.data"
                try:
                    facts = inspect(strict_base64(blob.get("data"), url_safe=True))
                except ImageError as error:
                    if error.reason == "base64":
                        raise self.bad_field(field, "Base64 decoding failed") from None
                    raise self.invalid(UNPROCESSABLE_IMAGE) from None
                images.append(facts)
                tokens += 258  # what Gemini counts per image, whatever its size
            if turn.get("role", "user") == "user":
                last = tuple(images)
        return last, tokens

    def bad_field(self, field: str, what: str) -> RejectedRequest:
        message = f"Invalid value at '{field}' (TYPE_BYTES), {what}"
        violation = {"field": field, "description": message}
        details = [
            {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [violation]}
        ]
        return RejectedRequest(self.reply(400, "INVALID_ARGUMENT", message, details))

    def error(
        self,
        status: int,
        message: str | None = None,
        *,
        model: str = "",
        retry_after: float = 1.0,
        quota: bool = False,
    ) -> Reply:
        rpc_status, stock = ERRORS.get(status) or (
            "INTERNAL" if status >= 500 else "FAILED_PRECONDITION",
            phrase(status),
        )
        delay = seconds_text(retry_after)
        details: list[dict[str, Any]] = []
        if status == 429:  # Gemini has no retry-after header: the delay is in RetryInfo
            details = [
                {
                    "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                    "violations": [
                        {
                            "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                            "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                            "quotaDimensions": {"location": "global", "model": model},
                            "quotaValue": "10",
                        }
                    ],
                },
                {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": f"{delay}s"},
            ]
        return self.reply(
            status, rpc_status, message or stock.format(model=model, retry_after=delay), details
        )

    def reply(
        self, status: int, rpc_status: str, message: str, details: list[dict[str, Any]]
    ) -> Reply:
        error: dict[str, Any] = {"code": status, "message": message, "status": rpc_status}
        if details:
            error["details"] = details
        body = orjson.dumps({"error": error}, option=orjson.OPT_INDENT_2) + b"\n"
        return Reply(status, body, ERROR_CONTENT_TYPE)

    def stream_headers(self) -> Headers:
        return [(b"content-type", SSE)]

    def event_stream(self, request: SimulatedCall) -> EventStream:
        return GeminiStream(request)


def query_value(query: bytes, name: str) -> str | None:
    values = parse_qs(query.decode("latin-1")).get(name) if query else None
    return values[-1] if values else None


def parts_text(turn: dict[str, Any]) -> str:
    return content_text(turn.get("parts"))


class GeminiStream(EventStream):
    __slots__ = ("tail", "input_tokens", "reasoning", "signature", "thoughts")

    separator = b"\r\n\r\n"

    def __init__(self, request: SimulatedCall) -> None:
        self.input_tokens = request.input_tokens
        self.reasoning = request.reasoning
        self.signature = signature(request.model) if request.reasoning else ""
        # What every event's usage adds for the thoughts (counted apart from the candidates).
        self.thoughts = (
            b',"thoughtsTokenCount": %d' % request.reasoning.tokens if request.reasoning else b""
        )
        self.tail = b'"modelVersion": %b,"responseId": "%b"}\r\n\r\n' % (
            orjson.dumps(request.model),
            random_id(22).encode(),
        )

    def event(self, part: bytes, finish: bytes, emitted: int) -> bytes:
        prompt = self.input_tokens
        total = prompt + emitted + self.reasoning.tokens
        return b"".join(
            (
                b'data: {"candidates": [{"content": {"parts": [',
                part,
                b'],"role": "model"},',
                finish,
                b'"index": 0}],"usageMetadata": {"promptTokenCount": %d,"candidatesTokenCount": %d,'
                b'"totalTokenCount": %d,"promptTokensDetails": [{"modality": "TEXT","tokenCount": %d}]%b},'
                % (prompt, emitted, total, prompt, self.thoughts),
                self.tail,
            )
        )

    def thinking(self, piece: bytes) -> bytes:
        # While only thoughts have come, candidatesTokenCount is absent (recorded).
        prompt, thoughts = self.input_tokens, self.reasoning.tokens
        return b"".join(
            (
                b'data: {"candidates": [{"content": {"parts": [{"text": ',
                piece,
                b',"thought": true}],"role": "model"},"index": 0}],"usageMetadata": '
                b'{"promptTokenCount": %d,"totalTokenCount": %d,"promptTokensDetails": '
                b'[{"modality": "TEXT","tokenCount": %d}]%b},'
                % (prompt, prompt + thoughts, prompt, self.thoughts),
                self.tail,
            )
        )

    def text(self, piece: bytes, emitted: int) -> bytes:
        return self.event(b'{"text": %b}' % piece, b"", emitted)

    def ending(self, finish: str, emitted: int) -> bytes:
        # Like gemini-3: a last event with empty text that carries the finish reason (and,
        # after thinking, the thought signature).
        part = b'{"text": ""}'
        if self.signature:
            part = b'{"text": "","thoughtSignature": %b}' % orjson.dumps(self.signature)
        return self.event(part, b'"finishReason": "%b",' % FINISH_REASONS[finish], emitted)

    def error(self) -> bytes:
        # The python-genai client spots an in-stream error by the chunk starting with {"error":.
        return (
            b'data: {"error": {"code": 500, "message": "An internal error has occurred. Please retry or '
            b'report in https://developers.generativeai.google/guide/troubleshooting", "status": "INTERNAL"}}\r\n\r\n'
        )
