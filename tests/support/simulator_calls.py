"""Calling the simulators the way each vendor's own client does, and reading what they send
back: the events of a raw response, the answer text and the finish reason in them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import httpx

from providers.registry import SIMULATOR_KEY
from providers.simulators import Knobs

PROMPT = "Why is the sky blue? <script>alert('x')</script>"
FAST = Knobs(ttft=0, gap=0)
FLAVOURS = ("anthropic", "openai", "xai", "perplexity", "gemini")


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


def call(
    flavour: str,
    knobs: str = "",
    *,
    key: str | None = SIMULATOR_KEY,
    header_knobs: str | None = None,
) -> Call:
    """A streaming request for ``flavour``; ``knobs`` goes in the model name, ``header_knobs``
    in x-simulator."""
    suffix = f"+{knobs}" if knobs else ""
    headers: dict[str, str] = {}
    if header_knobs is not None:
        headers["x-simulator"] = header_knobs
    messages = [{"role": "user", "content": PROMPT}]
    if flavour == "anthropic":
        if key is not None:
            headers["x-api-key"] = key
        headers["anthropic-version"] = "2023-06-01"
        body = {
            "model": "claude-sonnet-5" + suffix,
            "max_tokens": 1024,
            "messages": messages,
            "stream": True,
        }
        return Call("/anthropic/v1/messages", headers, body)
    if flavour == "gemini":
        if key is not None:
            headers["x-goog-api-key"] = key
        path = f"/gemini/v1beta/models/gemini-3.5-flash{suffix}:streamGenerateContent?alt=sse"
        return Call(path, headers, {"contents": [{"role": "user", "parts": [{"text": PROMPT}]}]})
    if key is not None:
        headers["authorization"] = f"Bearer {key}"
    base, model = {
        "openai": ("/openai/v1", "gpt-5.5"),
        "xai": ("/xai/v1", "grok-4.3"),
        "perplexity": ("/perplexity", "sonar-pro"),
    }[flavour]
    body = {"model": model + suffix, "messages": messages, "stream": True}
    if flavour == "openai":
        body["stream_options"] = {"include_usage": True}
    return Call(base + "/chat/completions", headers, body)


def post(client: httpx.Client, request: Call, **kwargs: Any) -> httpx.Response:
    return client.post(request.path, headers=request.headers, json=request.body, **kwargs)


@dataclass
class Event:
    name: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


def parse_events(raw: str) -> list[Event]:
    events = []
    for block in raw.replace("\r\n", "\n").split("\n\n"):
        if not block.strip():
            continue
        name, data = None, []
        for line in block.split("\n"):
            field, _, value = line.partition(": ")
            if field == "event":
                name = value
            elif field == "data":
                data.append(value)
        events.append(Event(name, "\n".join(data)))
    return events


def event_text(flavour: str, event: Event) -> str | None:
    """The answer text an event carries, if any."""
    if event.data == "[DONE]":
        return None
    data = event.json()
    if flavour == "anthropic":
        return data["delta"]["text"] if data["type"] == "content_block_delta" else None
    if flavour == "gemini":
        return (
            data["candidates"][0]["content"]["parts"][0]["text"] or None
            if "candidates" in data
            else None
        )
    choices = data.get("choices")
    return (choices[0]["delta"].get("content") or None) if choices else None


def texts(flavour: str, raw: str) -> list[str]:
    return [text for event in parse_events(raw) if (text := event_text(flavour, event)) is not None]


def finish_reason(flavour: str, raw: str) -> str | None:
    for event in parse_events(raw):
        if event.data == "[DONE]":
            continue
        data = event.json()
        if flavour == "anthropic":
            reason = data["delta"]["stop_reason"] if data["type"] == "message_delta" else None
        elif flavour == "gemini":
            reason = data["candidates"][0].get("finishReason")
        else:
            reason = data["choices"][0].get("finish_reason") if data.get("choices") else None
        if reason:
            return reason
    return None


class SimulatorClient:
    """The test's handle on the session's simulator: its counters and its request log."""

    def __init__(self, url: str) -> None:
        self.url = url

    def reset(self) -> SimulatorClient:
        httpx.post(f"{self.url}/_sim/reset").raise_for_status()
        return self

    def stats(self) -> dict:
        return httpx.get(f"{self.url}/_sim/stats").json()

    def requests(self, api: str) -> list[dict]:
        return httpx.get(f"{self.url}/_sim/requests", params={"api": api}).json()
