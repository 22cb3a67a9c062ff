"""One server-sent-events decoder for every upstream, and for reading the gateway's own streams.

It works on raw bytes and makes no per-line objects on the common path: a chunk is normalised
to LF framing only when it holds a CR, cut after its last blank line, and the two event shapes
upstreams send (one ``data:`` line; ``event:`` then ``data:``) are sliced out directly.
Anything else (comments, ``id:``, multi-line data) takes a general line-by-line path.

Events are ``(name, data)``: ``name`` is the ``event:`` field as bytes, or None when there is
none (the SSE default, "message"); ``data`` is the ``data:`` lines joined with LF. ``id:``,
``retry:``, unknown fields and comment lines are ignored. Names and data stay bytes because the
adapters compare names to byte literals and hand data straight to orjson.

An event still open at EOF is dropped, as the SSE standard says: a stream cut in the middle of
an event is truncated, and adapters report that from the missing terminator or finish reason.

``SSEFieldDecoder`` is the same decoder (the same framing code, inherited) for the clients of
the gateway's streams, the load generator and the tests: those need what the upstream path
ignores, so its events are ``(id, name, data)`` with the event's own ``id:`` field (None when
it has none), it keeps the last ``retry:`` value, and, when asked, the comment lines. The
gateway's shape (``id:``, ``event:``, one ``data:`` line) is recognised by three prefixes
before the general line-by-line path.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from typing import TYPE_CHECKING

SSEEvent = tuple[bytes | None, bytes]
SSEFields = tuple[bytes | None, bytes | None, bytes]  # (id, name, data)


class SSEDecoder:
    """Incremental decoder: ``feed`` each raw chunk, get back the events it completes."""

    __slots__ = ("_pending", "_after_cr")

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # the unfinished event, already LF-normalised
        self._after_cr = False  # the previous chunk ended in CR: an LF now is the same newline

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        # Searches are chosen by cost: ``13 in`` is a memchr, and ``rfind`` stops at once on a
        # chunk that ends with its blank line (the usual case); a forward ``b"\n\n" in`` would
        # walk every chunk at about 1 ns a byte.
        if 13 in chunk or self._after_cr:  # 13 is CR
            chunk = self._normalise(chunk)
        if not chunk:
            return []
        pending = self._pending
        if pending:
            pending.append(chunk)
            # A blank line may straddle the chunk boundary ("...\n" | "\n...").
            if chunk.rfind(b"\n\n") == -1 and not (
                chunk[:1] == b"\n" and pending[-2][-1:] == b"\n"
            ):
                return []
            chunk = b"".join(pending)
            pending.clear()
        cut = chunk.rfind(b"\n\n")
        if cut == -1:
            pending.append(chunk)
            return []
        if cut + 2 < len(chunk):
            pending.append(chunk[cut + 2 :])
        return self._decode(chunk[:cut])

    def _decode(self, complete: bytes) -> list[SSEEvent]:
        """The events in the bytes before a blank line: usually one, sometimes several.
        A method, not a function, so that ``SSEFieldDecoder`` reuses ``feed`` unchanged."""
        if event := _simple_event(complete):
            return [event]
        return [
            event
            for block in complete.split(b"\n\n")
            if (event := _simple_event(block) or _decode_block(block))
        ]

    def _normalise(self, chunk: bytes) -> bytes:
        if self._after_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]  # the LF of a CRLF split across chunks
        self._after_cr = chunk[-1:] == b"\r"
        chunk = chunk.replace(b"\r\n", b"\n")
        return chunk.replace(b"\r", b"\n") if 13 in chunk else chunk


def _simple_event(block: bytes) -> SSEEvent | None:
    """The two shapes upstreams actually send, sliced out without splitting lines:
    one ``data:`` line (OpenAI-style, Gemini), or ``event: name`` then ``data: ...``
    (Anthropic). No LF after the data line also proves ``block`` is a single event."""
    if block[:5] == b"data:":
        if 10 not in block:
            return None, block[6:] if block[5:6] == b" " else block[5:]
    elif block[:7] == b"event: ":
        head, _, data = block.partition(b"\n")
        if data[:6] == b"data: " and 10 not in data:
            return head[7:] or None, data[6:]
    return None


def _decode_block(block: bytes) -> SSEEvent | None:
    """The general case: multi-line data, ``id:``/``retry:``, comments, unknown fields.

    A comment (":...") is a line with an empty field name, so it falls through with the
    unknown fields; so does a blank line left at the start of a block."""
    name = None
    data_lines: list[bytes] = []
    for line in block.split(b"\n"):
        field, _, value = line.partition(b":")
        if field == b"data":
            data_lines.append(value[1:] if value[:1] == b" " else value)
        elif field == b"event":
            name = (value[1:] if value[:1] == b" " else value) or None
    if not data_lines:
        return None  # an event without data is not dispatched
    return name, b"\n".join(data_lines)


class SSEFieldDecoder(SSEDecoder):
    """``SSEDecoder`` for clients of the gateway's streams: events are ``(id, name, data)``,
    ``retry`` is the last ``retry:`` value seen, and with ``keep_comments`` the text of each
    comment line is kept in ``comments`` (off by default: a long stream's pings add up)."""

    __slots__ = ("retry", "comments")

    def __init__(self, keep_comments: bool = False) -> None:
        super().__init__()
        self.retry: int | None = None
        self.comments: list[bytes] | None = [] if keep_comments else None

    if TYPE_CHECKING:

        def feed(self, chunk: bytes) -> list[SSEFields]:  # type: ignore[override]  # fields, not pairs
            ...

    def _decode(self, complete: bytes) -> list[SSEFields]:  # type: ignore[override]  # fields, not pairs
        # Splitting in C and comparing three prefixes is the cheapest test of the gateway's
        # shape found (the load generator reads every event of thousands of streams).
        events: list[SSEFields] = []
        for block in complete.split(b"\n\n"):
            lines = block.split(b"\n")
            if (
                len(lines) == 3
                and lines[0][:4] == b"id: "
                and lines[1][:7] == b"event: "
                and lines[2][:6] == b"data: "
            ):
                events.append((lines[0][4:], lines[1][7:] or None, lines[2][6:]))
            elif event := self._decode_fields(lines):
                events.append(event)
        return events

    def _decode_fields(self, lines: list[bytes]) -> SSEFields | None:
        """Every field of one block, line by line: the general case of ``_decode_block``."""
        ident = name = None
        data_lines: list[bytes] = []
        for line in lines:
            field, colon, value = line.partition(b":")
            if value[:1] == b" ":
                value = value[1:]
            if field == b"data":
                data_lines.append(value)
            elif field == b"event":
                name = value or None
            elif field == b"id":
                ident = value
            elif field == b"retry":
                if value.isdigit():  # the standard ignores anything but ASCII digits
                    self.retry = int(value)
            elif colon and not field and self.comments is not None:
                self.comments.append(value)
        if not data_lines:
            return None
        return ident, name, b"\n".join(data_lines)


async def iter_sse(chunks: AsyncIterable[bytes]) -> AsyncIterator[SSEEvent]:
    """The events of a byte stream, for callers that prefer an iterator to ``SSEDecoder``."""
    decoder = SSEDecoder()
    async for chunk in chunks:
        for event in decoder.feed(chunk):
            yield event
