"""A turn's event stream in OpenAI's streaming shape (``chat.completion.chunk``).

The turn's log hands its listeners the contract's SSE events, already encoded. A delta is the
per-token path: its text is already JSON inside the event (``gateway.turns.events``), so it is
cut out and put between the two halves of its choice's chunk, built once per call. No parse,
no encode per token. Other events (a few per answer) are parsed once each.

Reasoning (``thinking`` events, cut out the same way) becomes ``delta.reasoning_content`` for
a client that asked for it (``reasoning_effort``), and is left out otherwise.

A fan-out streams every choice interleaved, as its deltas arrive: role chunks first, then
content chunks, each choice's finish chunk after its ``done``, a failed one with
``finish_reason: "error"`` and the error in the choice. A one-provider call says nothing until
its provider's first word: if it fails first, the call answers with an error status instead
(``ChunkShaper.refused``), as OpenAI would; if it fails later, the stream carries OpenAI's
in-stream error (``data: {"error": ...}``), on which the SDKs raise.
"""

from __future__ import annotations

import orjson

from gateway.api.openai_compat.errors import error_body
from gateway.api.openai_compat.shapes import extras, finish_reason, usage_of
from gateway.turns import delta_prefix

DONE = b"data: [DONE]\n\n"


class ChunkShaper:
    """One call's chunks, fed the turn's encoded events as its listener receives them."""

    def __init__(
        self,
        completion_id: str,
        created: int,
        model: str,
        legs: list[tuple[str, str]],
        *,
        fan_out: bool,
        include_usage: bool,
        reasoning: bool = False,
    ) -> None:
        self.top = b'{"id":%s,"object":"chat.completion.chunk","created":%d,"model":%s' % (
            orjson.dumps(completion_id),
            created,
            orjson.dumps(model),
        )
        self.include_usage = include_usage
        self.usage_null = b',"usage":null' if include_usage else b""
        self.fan_out = fan_out
        self.index = {provider: i for i, (provider, _) in enumerate(legs)}
        self.models = dict(legs)
        # Per choice: what its delta events hold before their text (its thinking events'
        # too, whose text is its reasoning), and the two halves of the chunk that carries
        # that text (none for reasoning the client did not ask for: it is left out).
        answers, reasonings = [], []
        for index, (provider, _) in enumerate(legs):
            tail = b'},"logprobs":null,"finish_reason":null%s}]%s}\n\n' % (
                self.named(provider),
                self.usage_null,
            )
            head = b'data: %s,"choices":[{"index":%d,"delta":{' % (self.top, index)
            answers.append((delta_prefix(provider), head + b'"content":', tail))
            thinking = head + b'"reasoning_content":' if reasoning else None
            reasonings.append((delta_prefix(provider, None, b"thinking"), thinking, tail))
        self.deltas: list[tuple[bytes, bytes | None, bytes]] = answers + reasonings
        self.dones: dict[str, dict] = {}
        self.committed = fan_out  # a one-provider call commits to a 200 at its first word
        self.refused: dict | None = None  # its done, when it failed before that word
        self.finished = False

    def named(self, provider: str) -> bytes:
        return b',"provider":%s,"model":%s' % (
            orjson.dumps(provider),
            orjson.dumps(self.models[provider]),
        )

    # -- the chunks ------------------------------------------------------------------------

    def chunk(self, choices: list[dict], usage: dict | None = None) -> bytes:
        body = orjson.dumps(choices)
        if usage is not None:
            return b'data: %s,"choices":%s,"usage":%s}\n\n' % (self.top, body, orjson.dumps(usage))
        return b'data: %s,"choices":%s%s}\n\n' % (self.top, body, self.usage_null)

    def choice(self, provider: str, delta: dict, reason: str | None = None, **more) -> dict:
        return {
            "index": self.index[provider],
            "delta": delta,
            "logprobs": None,
            "finish_reason": reason,
            "provider": provider,
            "model": self.models[provider],
            **more,
        }

    def opening(self) -> bytes:
        """Each choice's first chunk: the role, as OpenAI begins every choice."""
        role = {"role": "assistant", "content": "", "refusal": None}
        return b"".join(self.chunk([self.choice(p, role)]) for p in self.index)

    # -- the turn's events -----------------------------------------------------------------

    def feed(self, data: bytes) -> bytes:
        """The chunks for what a listener received (one or more whole events)."""
        out = []
        for block in data.split(b"\n\n"):
            if not block:
                continue
            cut = block.find(b"\n")  # the end of the id line
            for prefix, head, tail in self.deltas:
                if block.startswith(prefix, cut):
                    if head is not None:
                        if not self.committed:
                            out.append(self.commit())
                        out.append(head + block[cut + len(prefix) : -1] + tail)
                    break
            else:
                out.append(self.event(block, cut))
        return b"".join(out)

    def commit(self) -> bytes:
        self.committed = True
        return self.opening()

    def event(self, block: bytes, cut: int) -> bytes:
        name_end = block.find(b"\n", cut + 1)
        name = block[cut + 8 : name_end]  # after "\nevent: "
        if name == b"done":
            return self.done(orjson.loads(block[name_end + 7 :]))  # after "\ndata: "
        if name == b"end":
            self.finished = True
            usage = (
                self.chunk([], usage_of(list(self.dones.values()))) if self.include_usage else b""
            )
            return usage + DONE
        return b""  # turn, start, status: nothing OpenAI says

    def done(self, done: dict) -> bytes:
        provider = done["provider"]
        self.dones[provider] = done
        failed = done["status"] != "complete"
        if not self.committed:
            if failed:
                self.refused = done
                return b""
            opening = self.commit()
        else:
            opening = b""
        if failed and not self.fan_out:
            return opening + b"data: %s\n\n" % orjson.dumps(error_body(502, *stream_error(done)))
        more = extras(done)
        if self.include_usage:
            more["usage"] = usage_of([done])
        return opening + self.chunk([self.choice(provider, {}, finish_reason(done), **more)])

    def cut_short(self) -> bytes:
        """The stream ended before the turn did (this listener fell too far behind)."""
        error = error_body(503, "the stream fell behind and was closed; try again", "stream_lost")
        return b"data: %s\n\n" % orjson.dumps(error)


def stream_error(done: dict) -> tuple[str, str]:
    error = done.get("error")
    if error is None:
        return f"{done['provider']}: the answer was cancelled", "cancelled"
    return error["message"], error["type"]
