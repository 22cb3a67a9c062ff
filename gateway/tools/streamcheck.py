"""The event protocol's invariants (README, "The event protocol"), checked event by event.

One checker for everything that reads the gateway's streams: the load generator runs every
event of every stream through it, and the tests check the streams they read with it, so what
a load test counts as a broken stream and what a test fails on are the same rules.

It works on the raw fields of each event (``id``, ``name``, ``data`` as bytes, as
``providers.sse.SSEFieldDecoder`` returns them) and parses JSON once per event, so that it is
cheap enough for the load generator's per-token path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import orjson

STATUSES = frozenset(("complete", "failed", "cancelled"))
EVENT_NAMES = frozenset(
    (b"turn", b"start", b"status", b"delta", b"thinking", b"done", b"reveal", b"end")
)


@dataclass(slots=True)
class Violation:
    kind: str
    detail: str


class StreamChecker:
    """The contract's rules (spec §3.1) for one stream, checked event by event: well-formed
    events, integer ids strictly increasing, ``turn`` first and once, deltas and one ``done``
    per announced provider (by label in a blind turn) and nothing of a provider after its ``done``, concatenated deltas
    equal to ``done.content`` and concatenated ``thinking`` events to ``done.thinking``,
    ``end`` last and once with the statuses of the ``done`` events, no event named ``error``.
    ``finish()`` adds what only the end of the stream can tell.
    """

    __slots__ = (
        "expected",
        "key",
        "last_id",
        "first_seen",
        "announced",
        "ended",
        "texts",
        "thoughts",
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
        self.key = "provider"  # what names a leg: "label" in a blind turn
        self.last_id = 0
        self.first_seen = False  # the first event was looked at (it must be `turn`)
        self.announced = False  # a well-formed `turn` event named the providers
        self.ended = False
        self.texts: dict[str, list[str]] = {}  # announced provider -> its delta texts
        self.thoughts: dict[str, list[str]] = {}  # provider -> its thinking texts
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
                provider, text = payload[self.key], payload["text"]
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
        if name == b"thinking":
            self._thinking(payload)
        elif name == b"turn":
            self._turn(payload)
        elif name == b"start":
            self._start(payload)
        elif name == b"status":
            self._status(payload)
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
        if payload.get("blind") is True:
            self.key = "label"
        try:
            names = [entry[self.key] for entry in announced]  # type: ignore[union-attr]  # a bad payload is caught below and reported
        except (KeyError, TypeError):
            self.violation("malformed_data", f"turn.providers: {announced!r:.80}")
            return
        self.texts = {name: [] for name in names}
        if self.expected is not None and set(names) != self.expected:
            self.violation("turn_providers_mismatch", f"{sorted(names)} != {sorted(self.expected)}")

    def _start(self, payload: dict) -> None:
        provider = payload.get(self.key)
        if provider not in self.texts:
            self.violation("start_unannounced", repr(provider))
        elif provider in self.statuses:
            self.violation("event_after_done", f"start of {provider}")
        elif provider in self.started:
            self.violation("duplicate_start", provider)
        else:
            self.started.add(provider)

    def _thinking(self, payload: dict) -> None:
        provider, text = payload.get(self.key), payload.get("text")
        if provider not in self.texts or type(text) is not str:
            self.violation("thinking_unannounced_or_bad", repr(provider))
        elif provider in self.statuses:
            self.violation("event_after_done", f"thinking of {provider}")
        else:
            self.thoughts.setdefault(provider, []).append(text)

    def _status(self, payload: dict) -> None:
        provider = payload.get(self.key)
        if provider not in self.texts:
            self.violation("status_unannounced", repr(provider))
        elif provider in self.statuses:
            self.violation("event_after_done", f"status of {provider}")

    def _done(self, payload: dict) -> None:
        provider, status = payload.get(self.key), payload.get("status")
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
        thought = "".join(self.thoughts.get(provider, ()))
        if thought and payload.get("thinking") != thought:
            self.violation(
                "thinking_mismatch",
                f"{provider}: thinking {len(thought)} chars, done.thinking differs",
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

    @property
    def providers(self) -> list[str]:
        """The providers the ``turn`` event announced, in its order."""
        return list(self.texts)


def check_stream(
    events: Iterable[tuple[bytes | None, bytes, bytes]], expected: Sequence[str] | None = None
) -> StreamChecker:
    """A whole stream at once: every ``(id, name, data)`` in order, then ``finish()``; the
    violations are in the returned checker's ``violations``."""
    checker = StreamChecker(expected)
    for ident, name, data in events:
        checker.event(ident, name, data)
    checker.finish()
    return checker
