"""Reading one of the gateway's event streams: decoded, checked, and timed per provider."""

from __future__ import annotations

from collections.abc import Sequence

from gateway.tools.loadtest.client import Sink
from gateway.tools.loadtest.stats import Stats
from gateway.tools.streamcheck import StreamChecker
from providers.sse import SSEFieldDecoder

MESSAGE = b"message"  # the SSE standard's name for an event without ``event:``


class GatewayStream(Sink):
    """The sink of one gateway response: every event goes through the ``StreamChecker``; each
    valid delta is timed (time to first token, then the gap since the provider's last one)."""

    __slots__ = ("decoder", "checker", "stats", "sent", "last", "ended_at", "accepted")

    def __init__(self, stats: Stats, sent: int, expected: Sequence[str]) -> None:
        self.decoder = SSEFieldDecoder()
        self.checker = StreamChecker(expected)
        self.stats = stats
        self.sent = sent
        self.last: dict[str, int] = {}
        self.ended_at = 0
        self.accepted = False

    def feed(self, data: bytes, now: int) -> None:
        for ident, name, payload in self.decoder.feed(data):
            self.on_event(ident, name or MESSAGE, payload, now)

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
        elif name == b"turn" and not self.accepted and self.checker.announced:
            # Counted as it comes, not when the stream ends: a turn whose stream is then cut
            # or times out still has its answers stored, and they are expected.
            self.accepted = True
            self.stats.turns_accepted += 1
