"""The event-stream response: sse-starlette with the contract's headers, pings and timeouts."""

from __future__ import annotations

from collections.abc import AsyncIterator

from sse_starlette import EventSourceResponse, ServerSentEvent

from gateway.settings import Settings

STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def event_stream(
    settings: Settings, content: AsyncIterator[bytes], source: str = "memory"
) -> EventSourceResponse:
    """Events arrive already encoded; sse-starlette adds pings and the send timeout.
    ``X-Multichat-Source`` tells operators where they came from: this worker's memory, its
    mirror of another worker's turn (Redis), or the database's replay."""
    return EventSourceResponse(
        content,
        headers={**STREAM_HEADERS, "X-Multichat-Source": source},
        ping=settings.ping_interval,
        ping_message_factory=lambda: ServerSentEvent(comment="ping", sep="\n"),
        send_timeout=settings.send_timeout,
        sep="\n",
    )


async def replay(chunks: list[bytes]) -> AsyncIterator[bytes]:
    yield b"".join(chunks)
