"""Reading the gateway's event streams in tests, and checking the contract's invariants.

Both with the gateway's own tools: the events are decoded by ``providers.sse.SSEFieldDecoder``
(the decoder of the upstream streams, reporting ids, retry and comments too), and a stream is
checked by ``gateway.tools.streamcheck``, the same checker the load generator runs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import orjson

from gateway.tools.streamcheck import check_stream
from providers import SSEFieldDecoder


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
    decoder = SSEFieldDecoder(keep_comments=True)
    async for chunk in response.aiter_bytes():
        for ident, name, data in decoder.feed(chunk):
            event = Event(
                id=int(ident) if ident is not None else None,
                name=name.decode() if name is not None else "message",
                data=orjson.loads(data),
            )
            stream.events.append(event)
            yield event
        if decoder.retry is not None:
            stream.retry = decoder.retry
        assert decoder.comments is not None
        stream.comments += (comment.decode().strip() for comment in decoder.comments)
        decoder.comments.clear()


async def read_stream(response: httpx.Response, until: int | None = None) -> Stream:
    """Every event of a response (or the first ``until`` of them)."""
    stream = Stream()
    async for _ in iter_events(response, stream):
        if until is not None and len(stream.events) >= until:
            break
    return stream


def check_invariants(stream: Stream, providers: list[str]) -> None:
    """The contract's rules for one complete stream (§3.1), by the load generator's checker:
    ids strictly increasing, ``turn`` first and once announcing ``providers`` (in this order),
    one ``done`` per leg with nothing of it after, deltas adding up to ``done.content``, no
    event named ``error``, ``end`` last and once with every leg's status."""
    checker = check_stream(
        (
            None if e.id is None else str(e.id).encode(),
            e.name.encode(),
            orjson.dumps(e.data),
        )
        for e in stream.events
    )
    assert checker.violations == [], checker.violations
    assert checker.providers == providers, "turn announces the providers, in order"
    assert sorted(checker.statuses) == sorted(providers), "one done per leg"


async def read_turn_stream(
    client: httpx.AsyncClient, url: str, after: int = 0
) -> tuple[int, Stream]:
    """GET a turn's events (after ``after``, as a reconnect would): the status, and every
    event until the stream ends (none unless the status is 200)."""
    stream = Stream()
    headers = {"last-event-id": str(after)} if after else {}
    async with client.stream("GET", url, headers=headers) as response:
        if response.status_code == 200:
            async for _ in iter_events(response, stream):
                pass
        return response.status_code, stream
