"""A small HTTP/1.1 client over ``asyncio.Protocol``, cheaper than what it measures.

One ``Connection`` per keep-alive connection: the loop calls ``data_received`` directly (no
StreamReader, no task per read), chunked transfer is decoded on bytes, and each socket read
is stamped with one clock read, so events that arrived in one read arrived together. A 2xx
body goes to a ``Sink`` as it arrives; any other body is collected for the report.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

SSE_ACCEPT = "Accept: text/event-stream"
JSON_CONTENT = "Content-Type: application/json"


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
        self.transport = transport  # type: ignore[assignment]  # asyncio names a BaseTransport; TCP gives a Transport

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
        self.transport.write(request)
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
    method: str, host: str, target: str, body: bytes | None = None, headers: Sequence[str] = ()
) -> bytes:
    """The bytes of one request (``target`` is the path and query), built once and sent for
    every turn. ``headers`` are whole lines, e.g. ``"Accept: text/event-stream"``."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", *headers]
    if body is not None:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


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


async def http_get(url: str) -> tuple[int, bytes]:
    """A GET on a fresh connection (callers bound it with asyncio.timeout): the benchmark's
    readiness and statistics probes, with the same client as the load."""
    endpoint = Endpoint.parse(url)
    path = url.split(endpoint.authority, 1)[1] or "/"
    connection = await Connection.open(endpoint.host, endpoint.port)
    try:
        response = await connection.send(build_request("GET", endpoint.authority, path))
    finally:
        connection.close()
    return response.status, response.body
