"""``multichat loadtest``: many streaming clients against a gateway, every stream checked.

N clients each run turns in a loop (``POST /api/v1/chat/stream``, or with ``--eventsource`` the
two-step ``POST /api/v1/turns`` then ``GET events_url``) and the run reports what a streaming
gateway is judged by: turns and tokens per second, time to first token per provider, the gap
between consecutive deltas of one provider, total turn time, and errors by kind. Every event
of every stream goes through ``StreamChecker`` (the contract's invariants, spec §3.1); a
violation is counted and the first few are printed.

``--direct --simulator-url URL`` runs the same load shape against the provider simulators'
native APIs (per turn, one request per provider, concurrently), timed the same way: the
benchmark's baseline, so that gateway minus direct is what the gateway adds.

Cheaper than what it measures, so that it is never the bottleneck: one ``asyncio.Protocol`` per
keep-alive connection (the loop calls ``data_received`` directly; no StreamReader, no task per
read), chunked decoding and SSE parsing on bytes, one clock read per socket read (events that
arrive in one read arrived together), one ``orjson.loads`` per gateway event and none per
native event, samples appended to ``array('q')`` in nanoseconds and percentiles computed once
at the end. uvloop when it is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import time
from array import array
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import orjson

from providers.registry import PROVIDERS, SIMULATOR_KEY

DEFAULT_PROMPT = "Load test: name three rivers"
ANTHROPIC_VERSION = "2023-06-01"  # the header the simulator, like the API, insists on
DIRECT_MAX_TOKENS = 1024  # what the gateway's adapters send by default (<PROVIDER>_MAX_TOKENS)
NS_PER_MS = 1_000_000
SSE_ACCEPT = "Accept: text/event-stream"

# -- configuration --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LoadConfig:
    url: str = "http://127.0.0.1:8000"
    clients: int = 1
    turns: int | None = None  # per client; with neither turns nor duration, one turn each
    duration: float | None = None  # seconds (from the start, ramp-up included) to start turns in
    ramp_up: float = 0.0  # client i starts at i * ramp_up / clients
    providers: tuple[str, ...] = ("claude",)
    model_suffix: str = ""  # simulator knobs riding on the model name: "+tokens=200,gap=5"
    prompt: str = DEFAULT_PROMPT
    eventsource: bool = False
    direct: bool = False  # read the simulators' native streams instead of the gateway's
    simulator_url: str | None = None
    turn_timeout: float = 120.0
    connect_timeout: float = 10.0
    show_violations: int = 5  # violations printed to stderr as they happen (all are counted)
    progress: bool | None = None  # a live line on stderr; None = only when stderr is a TTY

    @property
    def mode(self) -> str:
        return "direct" if self.direct else "eventsource" if self.eventsource else "stream"

    def suffix(self) -> str:
        suffix = self.model_suffix.strip().lstrip("+")
        return "+" + suffix if suffix else ""

    def model(self, provider: str) -> str:
        """The model name sent upstream: the registry's default model with the knob suffix."""
        return PROVIDERS[provider].model + self.suffix()

    def gateway_models(self) -> list[str]:
        # Without knobs, the bare provider name lets the gateway use its configured model.
        return [f"{p}:{self.model(p)}" if self.suffix() else p for p in self.providers]

    def validate(self) -> None:
        unknown = [p for p in self.providers if p not in PROVIDERS]
        if unknown or not self.providers:
            raise ValueError(
                f"providers: unknown {', '.join(unknown) or '(none given)'}; "
                f"known: {', '.join(PROVIDERS)}"
            )
        if len(set(self.providers)) != len(self.providers):
            raise ValueError("providers: each provider at most once")
        if self.clients < 1:
            raise ValueError("clients must be at least 1")
        if self.direct and not self.simulator_url:
            raise ValueError("--direct needs --simulator-url")
        if self.turns is not None and self.turns < 1:
            raise ValueError("turns must be at least 1")
        if self.duration is not None and self.duration <= 0:
            raise ValueError("duration must be positive")


# -- samples --------------------------------------------------------------------------------------


def percentile(ordered: Sequence[float], point: float) -> float:
    """Linear interpolation between closest ranks (numpy's default) of sorted values."""
    if not ordered:
        return math.nan
    rank = (len(ordered) - 1) * point / 100.0
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summarise(samples: Sequence[int], points: Sequence[float] = (50, 95, 99)) -> dict[str, Any]:
    """Nanosecond samples as ``{"n", "p50", ...}`` in milliseconds (None when there are none)."""
    ordered = sorted(samples)
    summary: dict[str, Any] = {"n": len(ordered)}
    for point in points:
        value = percentile(ordered, point)
        summary[f"p{point:g}"] = None if math.isnan(value) else round(value / NS_PER_MS, 3)
    summary["max"] = round(ordered[-1] / NS_PER_MS, 3) if ordered else None
    return summary


class Stats:
    """Everything the clients of one run measure; one event loop, so no locks."""

    def __init__(self, config: LoadConfig) -> None:
        self.config = config
        self.turns_started = 0
        self.turns_ok = 0
        self.turns_failed = 0
        self.deltas = 0
        self.turns_accepted = 0  # gateway: turns that got a `turn` event (answers expected)
        self.ttft: defaultdict[str, array] = defaultdict(lambda: array("q"))
        self.gaps: defaultdict[str, array] = defaultdict(lambda: array("q"))
        self.turn_time = array("q")
        # done.ttft_ms, the gateway's own measure from starting a leg to its first token: the
        # rest of the client's TTFT is the gateway's work before and after the upstream.
        self.reported_ttft = array("d")
        self.errors: Counter[str] = Counter()
        self.violations = 0
        self.violation_examples: list[str] = []
        self.open_turns = 0
        self.peak_open_turns = 0

    def error(self, kind: str, count: int = 1) -> None:
        self.errors[kind] += count

    def violation(self, kind: str, detail: str, where: str) -> None:
        self.violations += 1
        self.errors[f"violation: {kind}"] += 1
        if len(self.violation_examples) < self.config.show_violations:
            line = f"protocol violation ({where}): {kind}: {detail}"
            self.violation_examples.append(line)
            print(f"multichat loadtest: {line}", file=sys.stderr)


# -- HTTP/1.1 over an asyncio Protocol ------------------------------------------------------------


class BrokenStream(Exception):
    """The connection failed before the response was complete; ``kind`` names how."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(f"{kind}: {detail}" if detail else kind)
        self.kind = kind


class Sink:
    """Receives the body of a 2xx response as it arrives, with the arrival time (ns)."""

    __slots__ = ()

    def feed(self, data: bytes, now: int) -> None:
        raise NotImplementedError


@dataclass(slots=True)
class Response:
    status: int
    headers: dict[bytes, bytes]
    body: bytes = b""  # collected when there was no sink, or the status was not 2xx


# Body framings
_LENGTH, _CHUNKED, _UNTIL_CLOSE = 1, 2, 3


class Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time.

    A 2xx body goes to the request's sink as it arrives (chunked transfer decoded); any other
    body is collected into the Response. Pipelining is not needed: a client waits for each
    response before it sends its next request.
    """

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.reusable = False
        self.buffer = bytearray()
        self.waiter: asyncio.Future[Response] | None = None
        self.sink: Sink | None = None
        self.response: Response | None = None
        self.collected: list[bytes] = []
        self.framing = 0
        self.remaining = 0  # _LENGTH: body bytes still to come; _CHUNKED: of the current chunk
        self.chunk_state = 0  # 0 size line, 1 data, 2 CRLF after data, 3 trailers

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        _, protocol = await asyncio.get_running_loop().create_connection(cls, host, port)
        return protocol

    # -- asyncio.Protocol --

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        now = time.perf_counter_ns()
        buffer = self.buffer
        buffer += data
        if self.response is None and not self._head():
            return
        if self.framing == _CHUNKED:
            self._chunked(now)
        elif self.framing == _LENGTH:
            take = min(self.remaining, len(buffer))
            self._body(bytes(buffer[:take]), now)
            del buffer[:take]
            self.remaining -= take
            if self.remaining == 0:
                self._finish()
        elif self.framing == _UNTIL_CLOSE:
            self._body(bytes(buffer), now)
            buffer.clear()

    def eof_received(self) -> bool | None:
        return None  # close the transport; connection_lost settles the response

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        waiter = self.waiter
        if waiter is None or waiter.done():
            return
        if self.framing == _UNTIL_CLOSE and exc is None:
            self._finish()
            return
        kind = "reset" if exc is not None else "eof"
        where = "before the response" if self.response is None else "mid-body"
        waiter.set_exception(BrokenStream(kind, where))

    # -- requests --

    def send(self, request: bytes, sink: Sink | None = None) -> asyncio.Future[Response]:
        assert self.transport is not None and (self.waiter is None or self.waiter.done())
        self.waiter = asyncio.get_running_loop().create_future()
        self.sink, self.response, self.framing = sink, None, 0
        self.collected = []
        self.transport.write(request)  # type: ignore[union-attr]
        return self.waiter

    def close(self) -> None:
        """Drop the connection; a response still awaited is abandoned (cancelled), so that an
        unread exception is never left behind."""
        self.reusable = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.cancel()
        if self.transport is not None:
            self.transport.abort()

    # -- parsing --

    def _head(self) -> bool:
        buffer = self.buffer
        end = buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        lines = bytes(buffer[:end]).split(b"\r\n")
        del buffer[: end + 4]
        parts = lines[0].split(b" ", 2)
        try:
            status = int(parts[1])
        except (IndexError, ValueError):
            self._fail(BrokenStream("bad_response", repr(lines[0][:80])))
            return False
        headers: dict[bytes, bytes] = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        self.response = Response(status, headers)
        self.reusable = headers.get(b"connection", b"").lower() != b"close"
        if not 200 <= status < 300:
            self.sink = None  # an error body is collected for the report
        if b"chunked" in headers.get(b"transfer-encoding", b"").lower():
            self.framing, self.chunk_state = _CHUNKED, 0
        elif b"content-length" in headers:
            self.framing, self.remaining = _LENGTH, int(headers[b"content-length"])
            if self.remaining == 0:
                self._finish()
                return False
        elif status in (204, 304) or 100 <= status < 200:
            self.framing = _LENGTH
            self._finish()
            return False
        else:
            self.framing, self.reusable = _UNTIL_CLOSE, False
        return True

    def _chunked(self, now: int) -> None:
        buffer = self.buffer
        size = len(buffer)
        position = 0
        pieces: list[bytes] = []
        state = self.chunk_state
        while position < size:
            if state == 1:  # chunk data
                take = min(self.remaining, size - position)
                pieces.append(bytes(buffer[position : position + take]))
                position += take
                self.remaining -= take
                if self.remaining:
                    break
                state = 2
            elif state == 2:  # the CRLF after the data
                if size - position < 2:
                    break
                position += 2
                state = 0
            else:  # a size line (state 0), or a trailer line after the last chunk (state 3)
                eol = buffer.find(b"\r\n", position)
                if eol < 0:
                    break
                line = bytes(buffer[position:eol])
                position = eol + 2
                if state == 3:
                    if not line:  # the blank line that ends the body
                        del buffer[:position]
                        self.chunk_state = 0
                        self._body(b"".join(pieces), now)
                        self._finish()
                        return
                    continue
                try:
                    self.remaining = int(line.split(b";", 1)[0], 16)
                except ValueError:
                    self._fail(BrokenStream("bad_chunk", repr(line[:40])))
                    return
                state = 1 if self.remaining else 3
        del buffer[:position]
        self.chunk_state = state
        if pieces:
            self._body(pieces[0] if len(pieces) == 1 else b"".join(pieces), now)

    def _body(self, data: bytes, now: int) -> None:
        if not data:
            return
        if self.sink is not None:
            self.sink.feed(data, now)
        else:
            self.collected.append(data)

    def _finish(self) -> None:
        response = self.response
        assert response is not None
        response.body = b"".join(self.collected)
        self.collected = []
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(response)

    def _fail(self, error: BrokenStream) -> None:
        self.reusable = False
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(error)
        self.close()


def build_request(
    method: str, host: str, path: str, body: bytes | None = None, headers: Sequence[str] = ()
) -> bytes:
    """The bytes of one request, built once and sent for every turn."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", *headers]
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


# -- server-sent events ---------------------------------------------------------------------------


class SseParser(Sink):
    """A byte-level SSE parser (any line ending, comments, multi-line data) that hands each
    event to ``on_event(id, name, data, now)``; ``id`` is the event's own ``id:`` field or None.

    The gateway's shape (``id:``, ``event:``, one ``data:`` line) is sliced out directly; other
    shapes take the general line-by-line path.
    """

    __slots__ = ("pending", "after_cr")

    def __init__(self) -> None:
        self.pending: list[bytes] = []  # an unfinished event, LF-normalised
        self.after_cr = False

    def feed(self, data: bytes, now: int) -> None:
        if 13 in data or self.after_cr:  # 13 is CR: normalise CRLF and CR to LF
            if self.after_cr and data[:1] == b"\n":
                data = data[1:]
            self.after_cr = data[-1:] == b"\r"
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        pending = self.pending
        if pending:
            pending.append(data)
            data = b"".join(pending)
            pending.clear()
        cut = data.rfind(b"\n\n")
        if cut < 0:
            if data:
                pending.append(data)
            return
        if cut + 2 < len(data):
            pending.append(data[cut + 2 :])
        on_event = self.on_event
        for block in data[:cut].split(b"\n\n"):
            lines = block.split(b"\n")
            if (
                len(lines) == 3
                and lines[0][:4] == b"id: "
                and lines[1][:7] == b"event: "
                and lines[2][:6] == b"data: "
            ):
                on_event(lines[0][4:], lines[1][7:], lines[2][6:], now)
            else:
                self.general(lines, now)

    def general(self, lines: list[bytes], now: int) -> None:
        ident: bytes | None = None
        name = b"message"
        data: list[bytes] = []
        for line in lines:
            if not line or line[0] == 58:  # a blank line left over, or a ":" comment
                continue
            key, colon, value = line.partition(b":")
            if colon and value[:1] == b" ":
                value = value[1:]
            if key == b"data":
                data.append(value)
            elif key == b"event":
                name = value or b"message"
            elif key == b"id":
                ident = value
        if data:  # an event without data is not dispatched (the SSE standard)
            self.on_event(ident, name, b"\n".join(data), now)

    def on_event(self, ident: bytes | None, name: bytes, data: bytes, now: int) -> None:
        raise NotImplementedError


# -- the gateway's event contract -----------------------------------------------------------------

STATUSES = frozenset(("complete", "failed", "cancelled"))
EVENT_NAMES = frozenset((b"turn", b"start", b"delta", b"done", b"end"))


@dataclass(slots=True)
class Violation:
    kind: str
    detail: str


class StreamChecker:
    """The contract's rules (spec §3.1) for one stream, checked event by event: well-formed
    events, integer ids strictly increasing, ``turn`` first and once, deltas and one ``done``
    per announced provider and nothing of a provider after its ``done``, concatenated deltas
    equal to ``done.content``, ``end`` last and once with the statuses of the ``done`` events,
    no event named ``error``. ``finish()`` adds what only the end of the stream can tell.
    """

    __slots__ = (
        "expected",
        "last_id",
        "first_seen",
        "announced",
        "ended",
        "texts",
        "statuses",
        "started",
        "failures",
        "reported_ttft",
        "violations",
        "turn_id",
        "events",
    )

    def __init__(self, expected: Sequence[str] | None = None) -> None:
        self.expected = frozenset(expected) if expected else None
        self.last_id = 0
        self.first_seen = False  # the first event was looked at (it must be `turn`)
        self.announced = False  # a well-formed `turn` event named the providers
        self.ended = False
        self.texts: dict[str, list[str]] = {}  # announced provider -> its delta texts
        self.statuses: dict[str, str] = {}  # provider -> done.status
        self.started: set[str] = set()
        self.failures: list[tuple[str, str, str]] = []  # (provider, status, error type)
        self.reported_ttft: list[float] = []  # done.ttft_ms: the gateway's own upstream TTFT
        self.violations: list[Violation] = []
        self.turn_id = ""
        self.events = 0

    def violation(self, kind: str, detail: str) -> None:
        self.violations.append(Violation(kind, detail))

    def event(self, ident: bytes | None, name: bytes, data: bytes) -> str | None:
        """Check one event; returns the provider of a valid delta (for timing), else None."""
        self.events += 1
        if ident is None:
            self.violation("missing_id", f"{name.decode(errors='replace')} event without an id")
        else:
            try:
                number = int(ident)
            except ValueError:
                number = -1
                self.violation("bad_id", repr(ident[:20]))
            if 0 <= number <= self.last_id:
                self.violation("id_not_increasing", f"id {number} after {self.last_id}")
            elif number > self.last_id:
                self.last_id = number
        if self.ended:
            self.violation("event_after_end", name.decode(errors="replace"))
        if not self.first_seen:
            self.first_seen = True
            if name != b"turn":
                self.violation("turn_not_first", f"first event is {name.decode(errors='replace')}")
        if name == b"delta":  # the per-token path: keep it short
            try:
                payload = orjson.loads(data)
                provider, text = payload["provider"], payload["text"]
            except (orjson.JSONDecodeError, KeyError, TypeError):
                self.violation("malformed_delta", repr(data[:80]))
                return None
            pieces = self.texts.get(provider)
            if pieces is None or type(text) is not str:
                self.violation("delta_unannounced_or_bad", repr(data[:80]))
                return None
            if provider in self.statuses:
                self.violation("event_after_done", f"delta of {provider}")
                return None
            pieces.append(text)
            return provider
        payload = self._payload(name, data)
        if payload is None:
            return None
        if name == b"turn":
            self._turn(payload)
        elif name == b"start":
            self._start(payload)
        elif name == b"done":
            self._done(payload)
        elif name == b"end":
            self._end(payload)
        return None

    def _payload(self, name: bytes, data: bytes) -> dict | None:
        if name == b"error":
            self.violation("event_named_error", repr(data[:80]))
            return None
        if name not in EVENT_NAMES:
            self.violation("unknown_event", name.decode(errors="replace"))
            return None
        try:
            payload = orjson.loads(data)
        except orjson.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):
            self.violation("malformed_data", f"{name.decode()}: {data[:80]!r}")
            return None
        return payload

    def _turn(self, payload: dict) -> None:
        if self.announced:
            self.violation("duplicate_turn", "a second turn event")
            return
        self.announced = True
        self.turn_id = str(payload.get("turn_id", ""))
        announced = payload.get("providers")
        try:
            names = [entry["provider"] for entry in announced]  # type: ignore[union-attr]
        except (KeyError, TypeError):
            self.violation("malformed_data", f"turn.providers: {announced!r:.80}")
            return
        self.texts = {name: [] for name in names}
        if self.expected is not None and set(names) != self.expected:
            self.violation("turn_providers_mismatch", f"{sorted(names)} != {sorted(self.expected)}")

    def _start(self, payload: dict) -> None:
        provider = payload.get("provider")
        if provider not in self.texts:
            self.violation("start_unannounced", repr(provider))
        elif provider in self.statuses:
            self.violation("event_after_done", f"start of {provider}")
        elif provider in self.started:
            self.violation("duplicate_start", provider)
        else:
            self.started.add(provider)

    def _done(self, payload: dict) -> None:
        provider, status = payload.get("provider"), payload.get("status")
        content = payload.get("content")
        if provider not in self.texts:
            self.violation("done_unannounced", repr(provider))
            return
        if provider in self.statuses:
            self.violation("duplicate_done", provider)
            return
        if status not in STATUSES or not isinstance(content, str):
            self.violation("malformed_done", f"{provider}: status {status!r}")
            status = str(status)
        self.statuses[provider] = status
        ttft = payload.get("ttft_ms")
        if type(ttft) is float or type(ttft) is int:
            self.reported_ttft.append(ttft)
        if isinstance(content, str) and "".join(self.texts[provider]) != content:
            self.violation(
                "content_mismatch",
                f"{provider}: deltas {len(''.join(self.texts[provider]))} chars, "
                f"done.content {len(content)} chars",
            )
        if status != "complete":
            error = payload.get("error")
            kind = error.get("type") if isinstance(error, dict) else None
            self.failures.append((provider, status, str(kind or "-")))

    def _end(self, payload: dict) -> None:
        if self.ended:
            self.violation("duplicate_end", "a second end event")
            return
        self.ended = True
        missing = [p for p in self.texts if p not in self.statuses]
        if missing:
            self.violation("end_before_done", ", ".join(missing))
        if payload.get("statuses") != self.statuses:
            self.violation(
                "end_statuses_mismatch", f"{payload.get('statuses')!r:.80} != {self.statuses!r:.80}"
            )

    def finish(self) -> list[Violation]:
        """After the body ended normally: what a complete stream must have had."""
        if not self.announced:
            self.violation("missing_turn", "the stream had no valid turn event")
        for provider in self.texts:
            if provider not in self.statuses:
                self.violation("missing_done", provider)
        if not self.ended:
            self.violation("missing_end", "the stream ended without an end event")
        return self.violations


class GatewayStream(SseParser):
    """Reads one gateway event stream: checks it, and times each provider's deltas."""

    __slots__ = ("checker", "stats", "sent", "last", "ended_at")

    def __init__(self, stats: Stats, sent: int, expected: Sequence[str]) -> None:
        super().__init__()
        self.checker = StreamChecker(expected)
        self.stats = stats
        self.sent = sent
        self.last: dict[str, int] = {}
        self.ended_at = 0

    def on_event(self, ident: bytes | None, name: bytes, data: bytes, now: int) -> None:
        provider = self.checker.event(ident, name, data)
        if provider is not None:
            stats = self.stats
            stats.deltas += 1
            last = self.last.get(provider)
            if last is None:
                stats.ttft[provider].append(now - self.sent)
            else:
                stats.gaps[provider].append(now - last)
            self.last[provider] = now
        elif name == b"end":
            self.ended_at = now


# -- the simulators' native streams (direct mode) -------------------------------------------------

TEXT, END, FAILED = 1, 2, 4


def _literal_not_empty(data: bytes, marker: bytes) -> bool:
    """Whether ``marker`` (ending with the opening quote of a JSON string) is followed by at
    least one character: the text event of every native format, minus its empty ones."""
    at = data.find(marker)
    return at >= 0 and data[at + len(marker) : at + len(marker) + 1] != b'"'


def classify_anthropic(name: bytes, data: bytes) -> int:
    if name == b"content_block_delta":
        return TEXT if _literal_not_empty(data, b'"text":"') else 0
    if name == b"message_stop":
        return END
    return FAILED if name == b"error" else 0


def classify_chat(name: bytes, data: bytes) -> int:
    """OpenAI and xAI: ``[DONE]`` ends the stream."""
    if data == b"[DONE]":
        return END
    if data[:9] == b'{"error":':
        return FAILED
    return TEXT if _literal_not_empty(data, b'"delta":{"content":"') else 0


def classify_perplexity(name: bytes, data: bytes) -> int:
    """No ``[DONE]``: the chunk with a finish reason is the last."""
    if data[:10] == b'{"error": ':
        return FAILED
    kind = TEXT if _literal_not_empty(data, b'"delta": {"role": "assistant", "content": "') else 0
    return kind if b'"finish_reason": null' in data else kind | END


def classify_gemini(name: bytes, data: bytes) -> int:
    """No terminator: the event with a finishReason is the last."""
    if data[:10] == b'{"error": ':
        return FAILED
    kind = TEXT if _literal_not_empty(data, b'"parts": [{"text": "') else 0
    return kind | END if b'"finishReason"' in data else kind


CLASSIFIERS: dict[str, Callable[[bytes, bytes], int]] = {
    "anthropic": classify_anthropic,
    "openai": classify_chat,
    "xai": classify_chat,
    "perplexity": classify_perplexity,
    "gemini": classify_gemini,
}


class NativeStream(SseParser):
    """One provider's native stream: finds its text events (one per token at chunk=1), its
    end and in-stream errors, without decoding JSON."""

    __slots__ = ("classify", "provider", "stats", "sent", "last", "ended_at", "failed")

    def __init__(self, provider: str, stats: Stats, sent: int) -> None:
        super().__init__()
        self.classify = CLASSIFIERS[PROVIDERS[provider].flavour]
        self.provider = provider
        self.stats = stats
        self.sent = sent
        self.last = 0
        self.ended_at = 0
        self.failed = False

    def on_event(self, ident: bytes | None, name: bytes, data: bytes, now: int) -> None:
        kind = self.classify(name, data)
        if kind & TEXT:
            stats = self.stats
            stats.deltas += 1
            if self.last:
                stats.gaps[self.provider].append(now - self.last)
            else:
                stats.ttft[self.provider].append(now - self.sent)
            self.last = now
        if kind & END:
            self.ended_at = now
        if kind & FAILED:
            self.failed = True


def native_request(provider: str, model: str, prompt: str, host: str, root: str) -> bytes:
    """The request the gateway's adapter would send for a one-message thread."""
    spec = PROVIDERS[provider]
    messages = [{"role": "user", "content": prompt}]
    headers = ["Accept: text/event-stream", "Accept-Encoding: identity"]
    base = root + spec.simulator_prefix
    if spec.flavour == "anthropic":
        path = f"{base}/v1/messages"
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": DIRECT_MAX_TOKENS,
            "messages": messages,
            "stream": True,
        }
        headers += [f"x-api-key: {SIMULATOR_KEY}", f"anthropic-version: {ANTHROPIC_VERSION}"]
    elif spec.flavour == "gemini":
        path = f"{base}/v1beta/models/{model}:streamGenerateContent?alt=sse"
        body = {
            "contents": [{"role": "user", "parts": [{"text": prompt}]}],
            "generationConfig": {"maxOutputTokens": DIRECT_MAX_TOKENS},
        }
        headers.append(f"x-goog-api-key: {SIMULATOR_KEY}")
    else:
        path = f"{base}/chat/completions"
        body = {"model": model, "messages": messages, "stream": True}
        if spec.flavour == "perplexity":
            body["max_tokens"] = DIRECT_MAX_TOKENS
        else:
            body["stream_options"] = {"include_usage": True}
            body["max_completion_tokens"] = DIRECT_MAX_TOKENS
        headers.append(f"Authorization: Bearer {SIMULATOR_KEY}")
    return build_request("POST", host, path, orjson.dumps(body), headers)


# -- clients --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Endpoint:
    host: str
    port: int
    root: str  # a path prefix, "" for none

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"only http:// URLs are supported, not {url!r}")
        return cls(parts.hostname, parts.port or 80, parts.path.rstrip("/"))

    @property
    def authority(self) -> str:
        return f"{self.host}:{self.port}"


class Client:
    """One simulated user: a keep-alive connection (one per provider in direct mode) and a loop
    of turns, each timed from the moment its request is written."""

    def __init__(self, config: LoadConfig, stats: Stats) -> None:
        self.config = config
        self.stats = stats
        self.connections: dict[str, Connection] = {}
        if config.direct:
            assert config.simulator_url is not None
            self.target = Endpoint.parse(config.simulator_url)
            self.requests = {
                provider: native_request(
                    provider,
                    config.model(provider),
                    config.prompt,
                    self.target.authority,
                    self.target.root,
                )
                for provider in config.providers
            }
        else:
            self.target = Endpoint.parse(config.url)
            body = orjson.dumps(
                {
                    "prompt": config.prompt,
                    "conversation_id": None,
                    "models": config.gateway_models(),
                }
            )
            path = "/api/v1/turns" if config.eventsource else "/api/v1/chat/stream"
            accept = ["Accept: application/json" if config.eventsource else SSE_ACCEPT]
            self.requests = {"": build_request("POST", self.target.authority, path, body, accept)}

    async def run(self, delay: float, deadline: float | None, turns: int | None) -> None:
        if delay:
            await asyncio.sleep(delay)
        done = 0
        try:
            while (turns is None or done < turns) and (
                deadline is None or time.monotonic() < deadline
            ):
                done += 1
                if not await self.turn():
                    await asyncio.sleep(0.05)  # a refused or broken turn: do not spin
        finally:
            for connection in self.connections.values():
                connection.close()

    async def connection(self, key: str) -> Connection:
        connection = self.connections.get(key)
        if connection is None or connection.closed or not connection.reusable:
            if connection is not None:
                connection.close()
            async with asyncio.timeout(self.config.connect_timeout):
                connection = await Connection.open(self.target.host, self.target.port)
            connection.reusable = True
            self.connections[key] = connection
        return connection

    async def turn(self) -> bool:
        """One turn; True when it completed cleanly (every leg complete, no violation)."""
        stats = self.stats
        stats.turns_started += 1
        stats.open_turns += 1
        stats.peak_open_turns = max(stats.peak_open_turns, stats.open_turns)
        try:
            async with asyncio.timeout(self.config.turn_timeout):
                if self.config.direct:
                    ok = await self.direct_turn()
                elif self.config.eventsource:
                    ok = await self.eventsource_turn()
                else:
                    ok = await self.stream_turn()
        except TimeoutError:
            ok = self.broken("timeout")
        except BrokenStream as error:
            ok = self.broken(error.kind)
        except OSError as error:  # refused, reset while writing ...
            ok = self.broken(f"socket {type(error).__name__}")
        finally:
            stats.open_turns -= 1
        if ok:
            stats.turns_ok += 1
        else:
            stats.turns_failed += 1
        return ok

    def broken(self, kind: str) -> bool:
        self.stats.error(f"broken stream: {kind}")
        for connection in self.connections.values():
            connection.close()
        self.connections.clear()
        return False

    async def stream_turn(self) -> bool:
        connection = await self.connection("")
        reader = GatewayStream(self.stats, time.perf_counter_ns(), self.config.providers)
        response = await connection.send(self.requests[""], reader)
        return self.settle_gateway(response, reader)

    async def eventsource_turn(self) -> bool:
        connection = await self.connection("")
        sent = time.perf_counter_ns()
        created = await connection.send(self.requests[""])
        if created.status != 201:
            self.stats.error(f"http {created.status}")
            return False
        events_url = orjson.loads(created.body)["events_url"]
        reader = GatewayStream(self.stats, sent, self.config.providers)
        request = build_request("GET", self.target.authority, events_url, None, [SSE_ACCEPT])
        connection = await self.connection("")
        response = await connection.send(request, reader)
        return self.settle_gateway(response, reader)

    def settle_gateway(self, response: Response, reader: GatewayStream) -> bool:
        stats = self.stats
        if response.status != 200:
            stats.error(f"http {response.status}")
            return False
        checker = reader.checker
        if checker.announced:
            stats.turns_accepted += 1
        violations = checker.finish()
        where = f"turn {checker.turn_id or '?'}"
        for violation in violations:
            stats.violation(violation.kind, violation.detail, where)
        stats.reported_ttft.extend(checker.reported_ttft)
        for _, status, kind in checker.failures:
            stats.error(f"leg {status}: {kind}")
        if reader.ended_at:
            stats.turn_time.append(reader.ended_at - reader.sent)
        return not violations and not checker.failures

    async def direct_turn(self) -> bool:
        """One request per provider, all written before any is awaited (like the gateway's
        legs), each on its own kept-alive connection."""
        pending: list[tuple[str, NativeStream, asyncio.Future[Response]]] = []
        connections = [await self.connection(p) for p in self.config.providers]
        first = time.perf_counter_ns()
        for provider, connection in zip(self.config.providers, connections, strict=True):
            reader = NativeStream(provider, self.stats, time.perf_counter_ns())
            pending.append((provider, reader, connection.send(self.requests[provider], reader)))
        ok, last_end = True, 0
        for provider, reader, future in pending:
            try:
                response = await future
            except BrokenStream as error:
                self.stats.error(f"broken stream: {error.kind}")
                self.connections.pop(provider).close()
                ok = False
                continue
            if response.status != 200:
                self.stats.error(f"http {response.status}")
                ok = False
            elif reader.failed:
                self.stats.error("leg failed: in-stream error")
                ok = False
            elif not reader.ended_at:
                self.stats.error("broken stream: no end marker")
                ok = False
            last_end = max(last_end, reader.ended_at)
        if ok:
            self.stats.turn_time.append(last_end - first)
        return ok


# -- running --------------------------------------------------------------------------------------


@dataclass
class LoadReport:
    config: LoadConfig
    elapsed: float
    cpu_seconds: float  # this process's user+sys time during the run
    stats: Stats
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.stats.turns_failed == 0 and self.stats.violations == 0

    def as_dict(self) -> dict[str, Any]:
        stats, config = self.stats, self.config
        elapsed = max(self.elapsed, 1e-9)
        every_ttft = array("q")
        every_gap = array("q")
        for samples in stats.ttft.values():
            every_ttft.extend(samples)
        for samples in stats.gaps.values():
            every_gap.extend(samples)
        return {
            "mode": config.mode,
            "url": config.simulator_url if config.direct else config.url,
            "clients": config.clients,
            "turns_per_client": config.turns,
            "duration_s": config.duration,
            "ramp_up_s": config.ramp_up,
            "providers": list(config.providers),
            "model_suffix": config.suffix(),
            "elapsed_s": round(self.elapsed, 3),
            "turns": {
                "started": stats.turns_started,
                "ok": stats.turns_ok,
                "failed": stats.turns_failed,
                "accepted": stats.turns_accepted,
            },
            "tokens": stats.deltas,
            "turns_per_s": round(stats.turns_ok / elapsed, 2),
            "tokens_per_s": round(stats.deltas / elapsed, 1),
            "ttft_ms": {
                "all": summarise(every_ttft),
                **{p: summarise(stats.ttft[p]) for p in config.providers},
            },
            "gap_ms": {
                "all": summarise(every_gap, (50, 99)),
                **{p: summarise(stats.gaps[p], (50, 99)) for p in config.providers},
            },
            "turn_ms": summarise(stats.turn_time, (50, 99)),
            "reported_upstream_ttft_ms": summarise(
                [round(ms * NS_PER_MS) for ms in stats.reported_ttft], (50, 99)
            ),
            "errors": dict(sorted(stats.errors.items())),
            "error_count": sum(stats.errors.values()),
            "violations": stats.violations,
            "violation_examples": stats.violation_examples,
            "peak_open_turns": stats.peak_open_turns,
            "client_cpu_s": round(self.cpu_seconds, 3),
            "client_cpu_percent": round(100.0 * self.cpu_seconds / elapsed, 1),
            "client_cpu_us_per_token": round(self.cpu_seconds * 1e6 / stats.deltas, 2)
            if stats.deltas
            else None,
        }


async def run_load(config: LoadConfig) -> LoadReport:
    """Run the configured load and return its report (the caller's event loop is used)."""
    config.validate()
    turns = config.turns if config.turns is not None or config.duration is not None else 1
    stats = Stats(config)
    started, cpu_started = time.monotonic(), time.process_time()
    deadline = started + config.duration if config.duration is not None else None
    step = config.ramp_up / config.clients
    clients = [Client(config, stats) for _ in range(config.clients)]
    tasks = [
        asyncio.create_task(client.run(index * step, deadline, turns))
        for index, client in enumerate(clients)
    ]
    show = sys.stderr.isatty() if config.progress is None else config.progress
    progress = asyncio.create_task(show_progress(stats, started)) if show else None
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        if progress is not None:
            progress.cancel()
            print(file=sys.stderr)
    return LoadReport(config, time.monotonic() - started, time.process_time() - cpu_started, stats)


async def show_progress(stats: Stats, started: float, every: float = 1.0) -> None:
    """One rewritten line on stderr, once a second: cheap next to the streams."""
    previous_tokens, previous_time = 0, started
    while True:
        await asyncio.sleep(every)
        now = time.monotonic()
        rate = (stats.deltas - previous_tokens) / max(now - previous_time, 1e-9)
        previous_tokens, previous_time = stats.deltas, now
        sys.stderr.write(
            f"\r[{now - started:6.1f}s] turns {stats.turns_ok} ok {stats.turns_failed} failed, "
            f"open {stats.open_turns}, tokens {stats.deltas} ({rate:,.0f}/s), "
            f"errors {sum(stats.errors.values())}, violations {stats.violations}   "
        )
        sys.stderr.flush()


def format_table(report: dict[str, Any]) -> str:
    """The report as an aligned plain-text table."""

    def ms(summary: dict[str, Any], *points: str) -> str:
        return " / ".join("-" if summary.get(p) is None else f"{summary[p]:.2f}" for p in points)

    turns = report["turns"]
    rows = [
        ("mode", f"{report['mode']} -> {report['url']}"),
        ("clients", f"{report['clients']} (ramp-up {report['ramp_up_s']} s)"),
        ("providers", ", ".join(report["providers"]) + f" {report['model_suffix']}".rstrip()),
        ("elapsed", f"{report['elapsed_s']:.2f} s"),
        ("turns", f"{turns['ok']} ok, {turns['failed']} failed, {turns['started']} started"),
        ("turns/s", f"{report['turns_per_s']:,.2f}"),
        ("tokens", f"{report['tokens']:,} ({report['tokens_per_s']:,.0f}/s)"),
        ("TTFT ms p50/p95/p99", ms(report["ttft_ms"]["all"], "p50", "p95", "p99")),
    ]
    if len(report["providers"]) > 1:
        rows += [
            (f"  {p}", ms(report["ttft_ms"][p], "p50", "p95", "p99")) for p in report["providers"]
        ]
    rows += [
        ("gap ms p50/p99", ms(report["gap_ms"]["all"], "p50", "p99")),
        ("turn ms p50/p99", ms(report["turn_ms"], "p50", "p99")),
        ("gateway's ttft_ms p50/p99", ms(report["reported_upstream_ttft_ms"], "p50", "p99")),
        ("client CPU", f"{report['client_cpu_s']:.2f} s ({report['client_cpu_percent']}%)"),
        ("errors", str(report["error_count"]) if report["error_count"] else "none"),
    ]
    rows += [(f"  {kind}", str(count)) for kind, count in report["errors"].items()]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.new_event_loop
    return uvloop.new_event_loop


# -- command line ---------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the gateway")
    parser.add_argument("--clients", type=int, default=1, help="concurrent streaming clients")
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--turns", type=int, help="turns per client (default: 1)")
    amount.add_argument("--duration", type=float, help="seconds to keep starting turns")
    parser.add_argument("--ramp-up", type=float, default=0.0, help="seconds to start all clients")
    parser.add_argument("--providers", default="claude", help="comma-separated provider names")
    parser.add_argument(
        "--model-suffix", default="", help='simulator knobs on the model name: "+tokens=200,gap=5"'
    )
    parser.add_argument("--prompt", default=DEFAULT_PROMPT)
    parser.add_argument(
        "--eventsource", action="store_true", help="POST /turns then GET events_url"
    )
    parser.add_argument(
        "--direct", action="store_true", help="read the simulators' native streams (baseline)"
    )
    parser.add_argument("--simulator-url", help="the simulators, for --direct")
    parser.add_argument("--turn-timeout", type=float, default=120.0)
    parser.add_argument("--show-violations", type=int, default=5, help="violations to print")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def config_from_args(args: argparse.Namespace) -> LoadConfig:
    return LoadConfig(
        url=args.url,
        clients=args.clients,
        turns=args.turns,
        duration=args.duration,
        ramp_up=args.ramp_up,
        providers=tuple(p.strip() for p in args.providers.split(",") if p.strip()),
        model_suffix=args.model_suffix,
        prompt=args.prompt,
        eventsource=args.eventsource,
        direct=args.direct,
        simulator_url=args.simulator_url,
        turn_timeout=args.turn_timeout,
        show_violations=args.show_violations,
    )


def main(args: argparse.Namespace) -> int:
    """Exit status 0 when every turn completed cleanly, 1 when any failed or broke the
    contract, 2 for a bad command line."""
    try:
        config = config_from_args(args)
        config.validate()
        Endpoint.parse(config.simulator_url if config.direct else config.url)  # type: ignore[arg-type]
    except ValueError as error:
        print(f"multichat loadtest: {error}", file=sys.stderr)
        return 2
    raise_open_files_limit()
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        report = runner.run(run_load(config))
    result = report.as_dict()
    if args.json:
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(format_table(result))
    return 0 if report.ok else 1


def raise_open_files_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard limit (each stream holds a socket)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or hard > soft:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            return target
        except (ValueError, OSError):
            return soft
    return soft


__all__ = [
    "LoadConfig",
    "LoadReport",
    "StreamChecker",
    "Violation",
    "format_table",
    "run_load",
]
