"""One turn's event stream, as a Locust user reads it: decoded, checked and timed.

The stream may come over two connections (the EventSource user drops the first and resumes
with ``Last-Event-ID``): the checker goes on across them, so a gap or a repeated event at the
seam is a violation like any other.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.tools.streamcheck import StreamChecker
from providers.sse import SSEFieldDecoder

MESSAGE = b"message"  # the SSE standard's name for an event without ``event:``


class TurnReader:
    """Every event of one turn through the ``StreamChecker``; per provider, when its first and
    last deltas arrived and how many there were (times in ``time.perf_counter`` seconds)."""

    __slots__ = ("decoder", "checker", "sent", "first", "last", "deltas", "last_id")

    def __init__(self, providers: Sequence[str], sent: float) -> None:
        self.decoder = SSEFieldDecoder()
        self.checker = StreamChecker(providers)
        self.sent = sent
        self.first: dict[str, float] = {}
        self.last: dict[str, float] = {}
        self.deltas: dict[str, int] = {}
        self.last_id = b""  # the id of the last event read: what a resume sends

    def reconnected(self) -> None:
        """A new connection is a new SSE stream: its framing starts afresh, not the checks."""
        self.decoder = SSEFieldDecoder()

    def feed(self, data: bytes, now: float) -> None:
        checker = self.checker
        for ident, name, payload in self.decoder.feed(data):
            if ident is not None:
                self.last_id = ident
            provider = checker.event(ident, name or MESSAGE, payload)
            if provider is not None:
                if provider not in self.first:
                    self.first[provider] = now
                    self.deltas[provider] = 0
                self.last[provider] = now
                self.deltas[provider] += 1

    @property
    def ended(self) -> bool:
        return self.checker.ended

    @property
    def total_deltas(self) -> int:
        return sum(self.deltas.values())

    def problem(self) -> str | None:
        """After the stream ended: why the turn failed, in words that group well in Locust's
        failure table (no ids), or None for a clean turn."""
        violations = self.checker.finish()
        if violations:
            kinds = sorted({v.kind for v in violations})
            return "protocol violation: " + ", ".join(kinds)
        if self.checker.failures:
            return "; ".join(
                f"{provider} {status}: {kind}"
                for provider, status, kind in sorted(self.checker.failures)
            )
        return None

    def ttft_ms(self) -> dict[str, float]:
        """Each provider's time to first token, from the moment the turn was sent."""
        return {p: (t - self.sent) * 1000.0 for p, t in self.first.items()}

    def tokens_per_second(self) -> dict[str, float]:
        """Each provider's streaming rate: deltas after its first, over the time they took."""
        rates = {}
        for provider, first in self.first.items():
            span = self.last[provider] - first
            if self.deltas[provider] > 1 and span > 0:
                rates[provider] = (self.deltas[provider] - 1) / span
        return rates
