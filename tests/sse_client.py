"""Reading the gateway's event streams in tests, and checking the contract's invariants."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import orjson


@dataclass
class Event:
    id: int | None
    name: str
    data: dict


@dataclass
class Stream:
    events: list[Event] = field(default_factory=list)
    retry: int | None = None
    comments: list[str] = field(default_factory=list)

    def named(self, name: str) -> list[Event]:
        return [e for e in self.events if e.name == name]

    def text(self, provider: str) -> str:
        return "".join(
            e.data["text"]
            for e in self.events
            if e.name == "delta" and e.data["provider"] == provider
        )

    def done(self, provider: str) -> dict:
        (event,) = [e for e in self.events if e.name == "done" and e.data["provider"] == provider]
        return event.data


async def iter_events(
    response: httpx.Response, stream: Stream | None = None
) -> AsyncIterator[Event]:
    """Parse SSE as a browser would (fields, blank-line dispatch, comments)."""
    stream = stream or Stream()
    fields: dict[str, list[str]] = {}
    async for line in response.aiter_lines():
        if line == "":
            if "data" in fields:
                event = Event(
                    id=int(fields["id"][-1]) if "id" in fields else None,
                    name=fields.get("event", ["message"])[-1],
                    data=orjson.loads("\n".join(fields["data"])),
                )
                stream.events.append(event)
                yield event
            elif "retry" in fields:
                stream.retry = int(fields["retry"][-1])
            fields = {}
        elif line.startswith(":"):
            stream.comments.append(line[1:].strip())
        else:
            name, _, value = line.partition(":")
            fields.setdefault(name, []).append(value[1:] if value.startswith(" ") else value)


async def read_stream(response: httpx.Response, until: int | None = None) -> Stream:
    """Every event of a response (or the first ``until`` of them)."""
    stream = Stream()
    async for _ in iter_events(response, stream):
        if until is not None and len(stream.events) >= until:
            break
    return stream


def check_invariants(stream: Stream, providers: list[str]) -> None:
    """The contract's rules for one complete stream (§3.1)."""
    events = stream.events
    ids = [e.id for e in events]
    assert all(isinstance(i, int) for i in ids), "every event has an id"
    assert ids == sorted(set(ids)), f"ids strictly increase: {ids}"
    assert events[0].name == "turn", "turn comes first"
    assert [p["provider"] for p in events[0].data["providers"]] == providers
    assert events[-1].name == "end", "end comes last"
    assert [e.name for e in events].count("turn") == 1 and [e.name for e in events].count(
        "end"
    ) == 1
    assert sorted(e.data["provider"] for e in stream.named("done")) == sorted(providers), (
        "one done per leg"
    )
    assert "error" not in {e.name for e in events}, "no event is named error"
    for provider in providers:
        done = stream.done(provider)
        assert stream.text(provider) == done["content"], (
            f"{provider}: deltas add up to done.content"
        )
        done_index = events.index(
            next(e for e in stream.named("done") if e.data["provider"] == provider)
        )
        later = [e for e in events[done_index + 1 :] if e.data.get("provider") == provider]
        assert not later, f"{provider}: nothing after its done"
    assert events[-1].data["statuses"] == {p: stream.done(p)["status"] for p in providers}
