"""Perplexity Sonar: ``POST {prefix}/chat/completions``, Chat Completions with search fields.

Spaced JSON, accumulated ``message.content`` beside ``delta.content``, cumulative usage,
citations and search results on every chunk, no ``[DONE]``; a wrong key gets openresty's HTML
401; user and assistant turns must alternate and end with the user. Reasoning:
sonar-reasoning-pro writes ``<think>…</think>`` at the start of the content (its tokens are
completion tokens); sonar-deep-research reasons unseen and reports ``usage.reasoning_tokens``
apart. Images: ``image_url`` parts (or a bare data URI string), PNG, JPEG, WebP or GIF.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import orjson

from providers.simulators.chat_completions import FINISH_REASONS, ChatCompletionsApi
from providers.simulators.wire import (
    JSON,
    SSE,
    EventStream,
    Headers,
    RejectedRequest,
    Reply,
    SimulatedCall,
    phrase,
    seconds_text,
)

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


DEEP_RESEARCH_EFFORTS = ("minimal", "low", "medium", "high")


class PerplexityApi(ChatCompletionsApi):
    flavour = "perplexity"
    limit_counts_reasoning = False

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

    def reasoning_of(self, model: str, data: dict[str, Any]) -> tuple[str | None, bool]:
        """sonar-reasoning(-pro) always reasons, in ``<think>`` at the start of the content;
        sonar-deep-research reasons unseen at the effort asked (medium by default); the
        other models take ``reasoning_effort`` and do nothing with it."""
        effort = data.get("reasoning_effort")
        if effort is not None and effort not in DEEP_RESEARCH_EFFORTS:
            raise self.invalid(
                f"Invalid reasoning_effort {effort!r}: expected one of "
                + ", ".join(DEEP_RESEARCH_EFFORTS)
            )
        if model.startswith("sonar-reasoning"):
            return "medium", True
        if model.startswith("sonar-deep-research"):
            return effort or "medium", False
        return None, False

    def refuse_image(self, model: str, reason: str, where: str) -> RejectedRequest:
        detail = {"url": "the URL must be public or a base64 data URI", "type": "unsupported type"}
        return self.invalid(
            f"Invalid image in {where}: {detail.get(reason, 'could not decode it')}"
        )

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


THINK_OPEN = b'"<think>\\n'
# The closing tag cut across two chunks, as a tokenizer may cut it: adapters must cope.
THINK_CLOSE = (b'"\\n</th"', b'"ink>\\n\\n"')


class PerplexityStream(EventStream):
    __slots__ = ("head", "input_tokens", "said", "reasoning", "thought")

    def __init__(self, request: SimulatedCall) -> None:
        self.input_tokens = request.input_tokens
        self.reasoning = request.reasoning
        self.thought = 0  # reasoning events streamed so far (their tokens are completion tokens)
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
        prompt, completion = self.input_tokens, emitted + self.reasoning.shown
        hidden = 0 if self.reasoning.shown else self.reasoning.tokens
        usage = (
            b'"usage": {"prompt_tokens": %d, "completion_tokens": %d, "total_tokens": %d, "search_context_size": "low"'
            % (prompt, completion, prompt + completion + hidden)
        )
        return usage + b', "reasoning_tokens": %d' % hidden if hidden else usage

    def thinking(self, piece: bytes) -> bytes:
        if not self.thought:
            piece = THINK_OPEN + piece[1:]
        self.thought += 1
        self.said += piece[1:-1]
        return self.chunk(self.usage(0) + b"}", b"null", piece)

    def thinking_end(self) -> bytes:
        if not self.thought:
            return b""
        chunks = []
        for piece in THINK_CLOSE:
            self.said += piece[1:-1]
            chunks.append(self.chunk(self.usage(0) + b"}", b"null", piece))
        return b"".join(chunks)

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
