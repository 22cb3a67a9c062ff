"""OpenAI Responses API: ``POST {prefix}/responses`` (how ChatGPT is called), named events.

Every event is ``event: <type>`` then its JSON with the same ``type`` and a rising
``sequence_number``: ``response.created``, ``response.in_progress``, then each output item
(``response.output_item.added`` … ``.done``), ending with ``response.completed`` (or
``response.incomplete`` when the output limit cut it); no ``[DONE]``. With reasoning asked for
(``reasoning.effort``), a reasoning item comes first: with ``reasoning.summary`` its summary
streams as ``response.reasoning_summary_text.delta``s, and its ``encrypted_content`` (made and
checked here, so an edited or foreign one is refused) can be sent back in a later ``input``.
The usage counts reasoning inside ``output_tokens``. Images are ``input_image`` parts with a
data URI. Keys, errors and model rules are OpenAI's (openai_common.py).
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import orjson

from providers.simulators.images import (
    ImageError,
    ImageFacts,
    data_uri,
    image_tokens,
    inspect,
    strict_base64,
)
from providers.simulators.openai_chat import OBFUSCATION
from providers.simulators.openai_common import NO_VISION_MODELS, OpenAIErrors
from providers.simulators.text import input_token_count
from providers.simulators.wire import (
    NOT_STREAMING,
    EventStream,
    Reply,
    SimulatedApi,
    SimulatedCall,
    bearer_token,
    load_object,
    model_of,
    random_id,
)

MIN_OUTPUT_TOKENS = 16
SUMMARIES = ("auto", "concise", "detailed")
IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


def encrypted(model: str, item_id: str) -> str:
    mark = hashlib.sha256(f"simulated reasoning\0{model}\0{item_id}".encode()).hexdigest()[:24]
    return "gAAAAAB" + base64.urlsafe_b64encode(f"{item_id}.{mark}".encode()).decode()


def verified(model: str, content: object) -> bool:
    if not isinstance(content, str) or not content.startswith("gAAAAAB"):
        return False
    try:
        item_id = base64.urlsafe_b64decode(content[7:]).decode().partition(".")[0]
    except (ValueError, UnicodeDecodeError):
        return False
    return encrypted(model, item_id) == content


class ResponsesApi(OpenAIErrors, SimulatedApi):
    flavour = "openai"
    endpoint = "/responses"

    def check_key(self, headers: dict[bytes, bytes], query: bytes, key: str) -> Reply | None:
        token = bearer_token(headers)
        return None if token == key else self.bad_key(token)

    def parse(
        self, body: bytes, headers: dict[bytes, bytes], query: bytes, rest: str
    ) -> SimulatedCall:
        data = load_object(self, body)
        model, knobs = model_of(self, data)
        items = data.get("input")
        if isinstance(items, str):
            items = [{"role": "user", "content": items}]
        if not isinstance(items, list) or not items:
            raise self.unsupported(
                "Missing required parameter: 'input'.", "input", "missing_required_parameter"
            )
        if data.get("stream") is not True:
            raise self.invalid(NOT_STREAMING)
        self.check_temperature(model, data)
        limit = data.get("max_output_tokens")
        if limit is not None and (type(limit) is not int or limit < MIN_OUTPUT_TOKENS):
            raise self.unsupported(
                "Invalid 'max_output_tokens': integer below minimum value. Expected a value >= "
                f"{MIN_OUTPUT_TOKENS}, but got {limit} instead.",
                "max_output_tokens",
                "integer_below_min_value",
            )
        level, visible = self.reasoning_of(model, data.get("reasoning"))
        prompt, texts, images, tokens = self.read_input(model, items)
        instructions = data.get("instructions")
        if isinstance(instructions, str):
            texts.append(instructions)
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

    def reasoning_of(self, model: str, reasoning: Any) -> tuple[str | None, bool]:
        if not isinstance(reasoning, dict) or reasoning.get("effort") is None:
            return None, False
        effort = self.effort_of(model, reasoning["effort"], "reasoning.effort")
        summary = reasoning.get("summary")
        if summary is not None and summary not in SUMMARIES:
            raise self.unsupported(
                f"Invalid value: '{summary}'. Supported values are: 'auto', 'concise' and "
                "'detailed'.",
                "reasoning.summary",
                "invalid_value",
            )
        return effort, summary is not None

    def read_input(
        self, model: str, items: list[Any]
    ) -> tuple[str, list[str], tuple[ImageFacts, ...], int]:
        """(the last user text, every text, the last user message's images, image tokens)."""
        prompt, texts, last, tokens = "", [], (), 0
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                continue
            if item.get("type") == "reasoning":
                if not verified(model, item.get("encrypted_content")):
                    raise self.unsupported(
                        f"The encrypted content for item {item.get('id')} could not be verified.",
                        f"input[{i}].encrypted_content",
                        "invalid_encrypted_content",
                    )
                continue
            content = item.get("content")
            parts = (
                [{"type": "input_text", "text": content}] if isinstance(content, str) else content
            )
            text, images = [], []
            for j, part in enumerate(parts if isinstance(parts, list) else ()):
                if not isinstance(part, dict):
                    continue
                if isinstance(part.get("text"), str):
                    text.append(part["text"])
                elif part.get("type") == "input_image":
                    facts = self.image_of(model, part, f"input[{i}].content[{j}]")
                    images.append(facts)
                    tokens += image_tokens(facts)
            texts.append("".join(text))
            if item.get("role") == "user":
                prompt, last = "".join(text), tuple(images)  # type: ignore[assignment]  # the last user message's images
        return prompt, texts, last, tokens

    def image_of(self, model: str, part: dict[str, Any], where: str) -> ImageFacts:
        if model.startswith(NO_VISION_MODELS):
            raise self.image_refusal("no_vision", where)
        uri = data_uri(part.get("image_url"))
        if uri is None or uri[0] not in IMAGE_TYPES:
            raise self.image_refusal("type", where)
        try:
            return inspect(strict_base64(uri[1]), uri[0])
        except ImageError:
            raise self.image_refusal("type", where) from None

    def event_stream(self, request: SimulatedCall) -> EventStream:
        return ResponsesStream(request)


def sse(kind: bytes, data: bytes) -> bytes:
    return b"event: %b\ndata: %b\n\n" % (kind, data)


def obfuscation(size: int) -> bytes:
    return OBFUSCATION[: max(2, 18 - size)]


class ResponsesStream(EventStream):
    __slots__ = (
        "request",
        "seq",
        "id",
        "reasoning_id",
        "message_id",
        "created",
        "said",
        "thought",
        "message_index",
        "text_head",
    )

    def __init__(self, request: SimulatedCall) -> None:
        self.request = request
        self.seq = 0
        self.id = "resp_" + random_id(48)
        self.reasoning_id = "rs_" + random_id(48)
        self.message_id = "msg_" + random_id(48)
        self.created = int(time.time())
        self.said = bytearray()  # the answer's JSON-escaped text, for the .done events
        self.thought = bytearray()  # the same for the reasoning summary
        self.message_index = 1 if request.reasoning else 0
        self.text_head = (
            b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta",'
            b'"item_id":"%b","output_index":%d,"content_index":0,"logprobs":[],"delta":'
            % (self.message_id.encode(), self.message_index)
        )

    def event(self, kind: str, **fields: Any) -> bytes:
        data = {"type": kind, "sequence_number": self.seq, **fields}
        self.seq += 1
        return sse(kind.encode(), orjson.dumps(data))

    def response(self, status: str, output: list[Any], **extra: Any) -> dict[str, Any]:
        body = self.request.body
        reasoning = body.get("reasoning") if isinstance(body.get("reasoning"), dict) else {}
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created,
            "status": status,
            "error": None,
            "incomplete_details": None,
            "instructions": body.get("instructions"),
            "max_output_tokens": body.get("max_output_tokens"),
            "model": self.request.model,
            "output": output,
            "parallel_tool_calls": True,
            "previous_response_id": None,
            "reasoning": {"effort": reasoning.get("effort"), "summary": reasoning.get("summary")},
            "store": body.get("store", True),
            "temperature": body.get("temperature", 1.0),
            "text": {"format": {"type": "text"}},
            "tool_choice": "auto",
            "tools": [],
            "top_p": 1.0,
            "truncation": "disabled",
            "usage": None,
            "metadata": {},
            **extra,
        }

    def reasoning_item(self, done: bool) -> dict[str, Any]:
        summary = []
        if done and self.thought:
            summary = [{"type": "summary_text", "text": self.summary_text()}]
        return {
            "id": self.reasoning_id,
            "type": "reasoning",
            "summary": summary,
            "encrypted_content": encrypted(self.request.model, self.reasoning_id),
        }

    def message_item(self, text: str | None) -> dict[str, Any]:
        content = [] if text is None else [self.text_part(text)]
        status = "in_progress" if text is None else "completed"
        return {
            "id": self.message_id,
            "type": "message",
            "status": status,
            "content": content,
            "role": "assistant",
        }

    @staticmethod
    def text_part(text: str) -> dict[str, Any]:
        return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}

    def summary_text(self) -> str:
        return orjson.loads(b'"%b"' % bytes(self.thought))

    def answer_text(self) -> str:
        return orjson.loads(b'"%b"' % bytes(self.said))

    def open_message(self) -> bytes:
        index = self.message_index
        return self.event(
            "response.output_item.added", output_index=index, item=self.message_item(None)
        ) + self.event(
            "response.content_part.added",
            item_id=self.message_id,
            output_index=index,
            content_index=0,
            part=self.text_part(""),
        )

    def opening(self) -> bytes:
        events = [
            self.event("response.created", response=self.response("in_progress", [])),
            self.event("response.in_progress", response=self.response("in_progress", [])),
        ]
        reasoning = self.request.reasoning
        if not reasoning:
            events.append(self.open_message())
            return b"".join(events)
        events.append(
            self.event(
                "response.output_item.added", output_index=0, item=self.reasoning_item(False)
            )
        )
        if reasoning.shown:
            events.append(
                self.event(
                    "response.reasoning_summary_part.added",
                    item_id=self.reasoning_id,
                    output_index=0,
                    summary_index=0,
                    part={"type": "summary_text", "text": ""},
                )
            )
        return b"".join(events)

    def thinking(self, piece: bytes) -> bytes:
        self.thought += piece[1:-1]
        seq, self.seq = self.seq, self.seq + 1
        return (
            b'event: response.reasoning_summary_text.delta\ndata: {"type":'
            b'"response.reasoning_summary_text.delta","delta":%b,"item_id":"%b","obfuscation":'
            b'"%b","output_index":0,"sequence_number":%d,"summary_index":0}\n\n'
            % (piece, self.reasoning_id.encode(), obfuscation(len(piece)), seq)
        )

    def thinking_end(self) -> bytes:
        if not self.request.reasoning:
            return b""
        events = []
        if self.request.reasoning.shown:
            text = self.summary_text()
            events += [
                self.event(
                    "response.reasoning_summary_text.done",
                    item_id=self.reasoning_id,
                    output_index=0,
                    summary_index=0,
                    text=text,
                ),
                self.event(
                    "response.reasoning_summary_part.done",
                    item_id=self.reasoning_id,
                    output_index=0,
                    summary_index=0,
                    part={"type": "summary_text", "text": text},
                ),
            ]
        events.append(
            self.event("response.output_item.done", output_index=0, item=self.reasoning_item(True))
        )
        events.append(self.open_message())
        return b"".join(events)

    def text(self, piece: bytes, emitted: int) -> bytes:
        self.said += piece[1:-1]
        seq, self.seq = self.seq, self.seq + 1
        return b'%b%b,"sequence_number":%d,"obfuscation":"%b"}\n\n' % (
            self.text_head,
            piece,
            seq,
            obfuscation(len(piece)),
        )

    def ending(self, finish: str, emitted: int) -> bytes:
        text, index = self.answer_text(), self.message_index
        reasoning = self.request.reasoning.tokens
        output = [self.message_item(text)]
        if self.request.reasoning:
            output.insert(0, self.reasoning_item(True))
        prompt = self.request.input_tokens
        usage = {
            "input_tokens": prompt,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": emitted + reasoning,  # reasoning included
            "output_tokens_details": {"reasoning_tokens": reasoning},
            "total_tokens": prompt + emitted + reasoning,
        }
        closing = [
            self.event(
                "response.output_text.done",
                item_id=self.message_id,
                output_index=index,
                content_index=0,
                text=text,
                logprobs=[],
            ),
            self.event(
                "response.content_part.done",
                item_id=self.message_id,
                output_index=index,
                content_index=0,
                part=self.text_part(text),
            ),
            self.event("response.output_item.done", output_index=index, item=output[-1]),
        ]
        if finish == "length":
            incomplete = {"reason": "max_output_tokens"}
            response = self.response(
                "incomplete", output, usage=usage, incomplete_details=incomplete
            )
            closing.append(self.event("response.incomplete", response=response))
        else:
            response = self.response("completed", output, usage=usage)
            closing.append(self.event("response.completed", response=response))
        return b"".join(closing)

    def error(self) -> bytes:
        error = {
            "type": "server_error",
            "code": "server_error",
            "message": "The server had an error while processing your request. Sorry about that!",
            "param": None,
        }
        failed = self.response(
            "failed", [], error={"code": "server_error", "message": error["message"]}
        )
        return self.event("error", error=error) + self.event("response.failed", response=failed)
