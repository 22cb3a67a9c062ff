"""Serving as users run it: idle and slow connections, file limits, what the process prints,
turns nobody listens to (issue #9, points 7, 9, 10 and 11)."""

from __future__ import annotations

import asyncio
import contextlib
import socket

import httpx

from tests.support.credentials import AUTHORIZATION
from tests.support.gateways import start_gateway
from tests.support.turn_helpers import API, answers, eventually


@contextlib.contextmanager
def idle_sockets(port: int, count: int):
    """``count`` connections that never send a byte (the listen backlog takes what the
    gateway has not accepted)."""
    opened = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port))
            opened.append(sock)
        yield opened
    finally:
        for sock in opened:
            sock.close()


def read_response(sock: socket.socket) -> bytes:
    """One whole response with a Content-Length body (it may come in several segments)."""
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line for line in head.lower().split(b"\r\n") if line.startswith(b"content-length")
        ).split(b":")[1]
    )
    while len(body) < length:
        body += sock.recv(65536)
    return data


def closed_by_peer(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_idle_connections_are_closed_and_health_still_answers(processes, database_url, sim):
    # A file limit far below the idle sockets: only closing them lets health through.
    gateway = processes(
        {"DATABASE_URL": database_url, "SIMULATOR_URL": sim.url, "HEADER_TIMEOUT": "1"},
        files_limit=(160, 160),
    )
    with idle_sockets(gateway.port, 400) as opened:
        # At the limit, uvloop closes each connection it cannot take (libuv's EMFILE trick), so
        # health is refused until the idle connections it holds are closed, then answers.
        def health() -> bool:
            try:
                return httpx.get(f"{gateway.url}/api/v1/health", timeout=5).status_code == 200
            except httpx.TransportError:
                return False

        asyncio.run(eventually(health, within=30, interval=0.2))
        assert closed_by_peer(opened[0], within=10), "an idle connection is closed"


def test_half_a_request_head_is_not_waited_for(processes, database_url, sim):
    gateway = processes(
        {"DATABASE_URL": database_url, "SIMULATOR_URL": sim.url, "HEADER_TIMEOUT": "1"}
    )
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        assert closed_by_peer(sock, within=10)
    # The next request head on a kept-alive connection is bounded too.
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHo")
        assert closed_by_peer(sock, within=10)


def test_the_file_limit_is_raised_to_the_hard_limit(processes, database_url, sim):
    gateway = processes(
        {"DATABASE_URL": database_url, "SIMULATOR_URL": sim.url, "HEADER_TIMEOUT": "60"},
        files_limit=(160, 4096),
    )
    with idle_sockets(gateway.port, 600):
        # With the soft limit of 160 it could not accept this connection while 600 are held.
        assert httpx.get(f"{gateway.url}/api/v1/health", timeout=30).status_code == 200


def test_start_up_says_where_to_open_and_the_access_log_stays(processes, database_url):
    # No SIMULATOR_URL: the in-process simulators, which used to silence uvicorn's loggers.
    gateway = processes({"DATABASE_URL": database_url})
    with httpx.Client(timeout=10) as client:  # sends the suite's key (tests/credentials.py)
        client.get(f"{gateway.url}/api/v1/providers").raise_for_status()
    gateway.stop()
    output = gateway.output()
    assert f"Open http://127.0.0.1:{gateway.port}/" in output
    assert f"Uvicorn running on http://127.0.0.1:{gateway.port}" in output
    assert '"GET /api/v1/providers HTTP/1.1" 200' in output, output


def test_a_client_that_stops_reading_is_one_info_line(processes, database_url, sim):
    gateway = processes(
        {
            "DATABASE_URL": database_url,
            "SIMULATOR_URL": sim.url,
            "SEND_TIMEOUT": "0.5",
            "LISTENER_BUFFER_BYTES": "200000000",  # the send timeout, not the buffer, drops it
            # Else the answers stop at 1,024 tokens; two of 100,000 outgrow the socket buffers.
            "CHATGPT_MAX_TOKENS": "100000",
            "GROK_MAX_TOKENS": "100000",
        }
    )
    knobs = "+tokens=100000,chunk=1,gap=0"
    body = b'{"prompt":"flood","models":["chatgpt:gpt-5.5%s","grok:grok-4.3%s"]}' % (
        knobs.encode(),
        knobs.encode(),
    )
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: the window
        sock.connect(("127.0.0.1", gateway.port))
        sock.sendall(
            b"POST /api/v1/chat/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + AUTHORIZATION
            + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
        )
        # Never read. The gateway drops this client and the answer is stored all the same.

        async def stored() -> bool:
            async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
                listing = (await client.get(f"{API}/conversations/")).json()
                if not listing:
                    return False
                detail = (await client.get(f"{API}/conversations/{listing[0]['id']}")).json()
                done = [m for m in detail["messages"] if m["role"] == "assistant"]
                return len(done) == 2 and all(m["status"] == "complete" for m in done)

        asyncio.run(eventually(stored, within=60))
    gateway.stop()
    output = gateway.output()
    assert "dropped a client that stopped reading" in output, output
    assert "Traceback" not in output, output


async def test_a_turn_nobody_listens_to_stops_after_the_first_listener_timeout(database_url, sim):
    server = start_gateway(database_url, sim.url, first_listener_timeout=0.5)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            body = {"prompt": "nobody", "models": ["claude:claude-sonnet-5+tokens=400,gap=25"]}
            created = (await client.post(f"{API}/turns", json=body)).json()
        stored = await eventually(lambda: answers(database_url, created["turn_id"]), within=8)
        assert stored["claude"]["status"] == "cancelled"
    finally:
        server.stop()


async def test_a_listener_dropped_for_a_full_buffer_is_counted(database_url, sim, monkeypatch):
    from prometheus_client.parser import text_string_to_metric_families

    monkeypatch.setenv("CHATGPT_MAX_TOKENS", "100000")
    server = start_gateway(database_url, sim.url, listener_buffer_bytes=1024)
    try:
        body = b'{"prompt":"flood","models":["chatgpt:gpt-5.5+tokens=100000,chunk=1,gap=0"]}'
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.connect(("127.0.0.1", server.port))
            sock.sendall(
                b"POST /api/v1/chat/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                + AUTHORIZATION
                + b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s"
                % (len(body), body)
            )  # and never read

            async def dropped() -> float:
                async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
                    text = (await client.get("/metrics")).text
                for family in text_string_to_metric_families(text):
                    for sample in family.samples:
                        if sample.name == "multichat_listeners_dropped_total" and (
                            sample.labels.get("reason") == "buffer_full"
                        ):
                            return sample.value
                return 0.0

            assert await eventually(dropped, within=60) == 1.0
    finally:
        server.stop()


# -- bounded requests (issue #23 point 3) ---------------------------------------------------------


def read_head(sock: socket.socket, within: float = 10) -> bytes:
    sock.settimeout(within)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def send_all_until_closed(sock: socket.socket, data: bytes) -> None:
    """Send as much as the gateway takes; it may answer and close before all is sent."""
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        sock.sendall(data)


def test_a_request_head_over_the_limit_gets_431_and_the_connection_closes(
    processes, database_url, sim
):
    gateway = processes(
        {"DATABASE_URL": database_url, "SIMULATOR_URL": sim.url, "MAX_HEAD_BYTES": "8192"}
    )
    # One megabyte of a single header: refused from its first 8 KB, never buffered whole.
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
        send_all_until_closed(sock, b"a" * 1_000_000 + b"\r\n\r\n")
        answer = read_head(sock)
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        assert closed_by_peer(sock, within=10)
    # Many headers adding up count the same; just under the limit is served.
    many = b"".join(b"X-H%d: %s\r\n" % (n, b"v" * 100) for n in range(100))  # ~10 KB
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        send_all_until_closed(
            sock, b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + many + b"\r\n"
        )
        assert read_head(sock).startswith(b"HTTP/1.1 431 ")
    fits = b"".join(b"X-H%d: %s\r\n" % (n, b"v" * 100) for n in range(70))  # ~7.5 KB
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + fits + b"\r\n")
        assert read_response(sock).startswith(b"HTTP/1.1 200")


def test_a_stalled_request_body_is_closed_within_the_body_timeout(processes, database_url, sim):
    gateway = processes(
        {"DATABASE_URL": database_url, "SIMULATOR_URL": sim.url, "BODY_TIMEOUT": "1"}
    )
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        sock.sendall(
            b"POST /api/v1/turns HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + AUTHORIZATION
            + b'Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt":'
        )  # 9 of 100 bytes, and nothing more
        assert closed_by_peer(sock, within=10)
    gateway.stop()
    assert "request body did not come (BODY_TIMEOUT)" in gateway.output()


def test_a_declared_body_over_the_limit_is_refused_before_it_is_sent(processes, database_url, sim):
    gateway = processes({"DATABASE_URL": database_url, "SIMULATOR_URL": sim.url})
    with socket.create_connection(("127.0.0.1", gateway.port)) as sock:
        sock.sendall(
            b"POST /api/v1/turns HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            + AUTHORIZATION
            + b"Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n"
        )  # not one byte of the body
        assert read_head(sock).startswith(b"HTTP/1.1 413 ")
