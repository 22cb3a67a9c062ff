"""Direct mode: the simulators' native streams, read without the gateway, as the baseline.

Per turn, one request per provider, built by the provider's own adapter (``build_request``,
the same code the gateway calls), so that the baseline sends exactly what the gateway sends.
The responses are read without decoding JSON: each native format's text events, end marker
and in-stream errors are recognised by byte patterns.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from gateway.tools.loadtest.client import Sink, build_request
from gateway.tools.loadtest.stats import Stats
from providers import (
    PROVIDERS,
    SIMULATOR_KEY,
    Message,
    ProviderConfig,
    SSEDecoder,
    UpstreamRequest,
    make_adapter,
)

TEXT, END, FAILED = 1, 2, 4


def _literal_not_empty(data: bytes, marker: bytes) -> bool:
    """Whether ``marker`` (ending with the opening quote of a JSON string) is followed by at
    least one character: the text event of every native format, minus its empty ones."""
    at = data.find(marker)
    return at >= 0 and data[at + len(marker) : at + len(marker) + 1] != b'"'


def classify_anthropic(name: bytes | None, data: bytes) -> int:
    if name == b"content_block_delta":
        return TEXT if _literal_not_empty(data, b'"text":"') else 0
    if name == b"message_stop":
        return END
    return FAILED if name == b"error" else 0


def classify_chat(name: bytes | None, data: bytes) -> int:
    """OpenAI and xAI: ``[DONE]`` ends the stream."""
    if data == b"[DONE]":
        return END
    if data[:9] == b'{"error":':
        return FAILED
    return TEXT if _literal_not_empty(data, b'"delta":{"content":"') else 0


def classify_responses(name: bytes | None, data: bytes) -> int:
    """OpenAI Responses (ChatGPT): named events, ``response.completed`` (or ``.incomplete``)
    ends the stream."""
    if name == b"response.output_text.delta":
        return TEXT if _literal_not_empty(data, b'"delta":"') else 0
    if name in (b"response.completed", b"response.incomplete"):
        return END
    return FAILED if name in (b"error", b"response.failed") else 0


def classify_perplexity(name: bytes | None, data: bytes) -> int:
    """No ``[DONE]``: the chunk with a finish reason is the last."""
    if data[:10] == b'{"error": ':
        return FAILED
    kind = TEXT if _literal_not_empty(data, b'"delta": {"role": "assistant", "content": "') else 0
    return kind if b'"finish_reason": null' in data else kind | END


def classify_gemini(name: bytes | None, data: bytes) -> int:
    """No terminator: the event with a finishReason is the last."""
    if data[:10] == b'{"error": ':
        return FAILED
    kind = TEXT if _literal_not_empty(data, b'"parts": [{"text": "') else 0
    return kind | END if b'"finishReason"' in data else kind


# By wire format, then (Chat Completions) by flavour.
CLASSIFIERS: dict[str, Callable[[bytes | None, bytes], int]] = {
    "anthropic": classify_anthropic,
    "openai_responses": classify_responses,
    "openai": classify_chat,
    "xai": classify_chat,
    "perplexity": classify_perplexity,
    "gemini": classify_gemini,
}


class NativeStream(Sink):
    """One provider's native stream: finds its text events (one per token at chunk=1), its
    end and in-stream errors, without decoding JSON."""

    __slots__ = ("decoder", "classify", "provider", "stats", "sent", "last", "ended_at", "failed")

    def __init__(self, provider: str, stats: Stats, sent: int) -> None:
        self.decoder = SSEDecoder()
        spec = PROVIDERS[provider]
        self.classify = CLASSIFIERS.get(spec.wire) or CLASSIFIERS[spec.flavour]
        self.provider = provider
        self.stats = stats
        self.sent = sent
        self.last = 0
        self.ended_at = 0
        self.failed = False

    def feed(self, data: bytes, now: int) -> None:
        for name, payload in self.decoder.feed(data):
            self.on_event(name, payload, now)

    def on_event(self, name: bytes | None, data: bytes, now: int) -> None:
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


def simulated_config(provider: str, simulator_url: str) -> ProviderConfig:
    """The config the gateway builds for a provider without a key (``provider_configs`` in
    gateway/settings.py) with its default settings. Built here rather than read from the
    environment: a key in the developer's shell must never send load to a real provider."""
    spec = PROVIDERS[provider]
    return ProviderConfig(
        name=provider,
        base_url=simulator_url.rstrip("/") + spec.simulator_prefix,
        model=spec.model,
        api_key=SIMULATOR_KEY,
        simulated=True,
    )


def native_request(provider: str, model: str, prompt: str, simulator_url: str) -> bytes:
    """The request the gateway's adapter sends for a one-message thread, as bytes."""
    # build_request never touches the HTTP client: no client is needed to build a request.
    adapter = make_adapter(simulated_config(provider, simulator_url), None)  # type: ignore[arg-type]  # no client: only the request is built, never sent
    return request_bytes(adapter.build_request([Message("user", prompt)], model))


def request_bytes(upstream: UpstreamRequest) -> bytes:
    parts = urlsplit(upstream.url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = [f"{name}: {value}" for name, value in upstream.headers.items()]
    return build_request("POST", parts.netloc, target, upstream.body, headers)
