"""A frozen PostgreSQL (SIGSTOP: it accepts connections and never answers) costs each API call at
most one deadline, never a hang; the writer keeps the answers it could not store yet; and after
SIGCONT everything recovers by itself.

Time is bounded by the clients' timeouts, never by asserting a duration: a call that hangs past
its bound fails with httpx's timeout error.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from pathlib import Path

import httpx
import psutil  # pgserver's own dependency
import pytest

from gateway.app import create_app
from storage import EmbeddedPostgres
from tests.support.gateways import make_settings
from tests.support.servers import ServerThread, free_port
from tests.support.sse_client import Stream, iter_events
from tests.support.turn_helpers import answers, eventually

API = "/api/v1"
COMMAND_TIMEOUT = 2.0
HEALTH_BOUND = 3.0  # the health check's own deadline is DB_HEALTH_TIMEOUT, 1 s
CALL_BOUND = COMMAND_TIMEOUT + 3  # one database operation's deadline, and some slack
POOL_MAX = 4
# Gemini through the simulator, answering 1.5 s after it starts: the database is frozen by then.
SLOW_MODEL = "gemini:gemini-3.5-flash+ttft=1500,tokens=12,gap=5"


class Freezer:
    """SIGSTOP / SIGCONT a PostgreSQL server: its postmaster and every backend process."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.stopped: dict[int, psutil.Process] = {}

    def _postmaster(self) -> psutil.Process:
        pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        return psutil.Process(pid)

    def freeze(self) -> None:
        postmaster = self._postmaster()
        # The postmaster first: once it is stopped it forks no new backend.
        for process in [postmaster, *postmaster.children(recursive=True)]:
            process.send_signal(signal.SIGSTOP)
            self.stopped[process.pid] = process

    def thaw(self) -> None:
        with contextlib.suppress(Exception):
            postmaster = self._postmaster()
            for process in [postmaster, *postmaster.children(recursive=True)]:
                self.stopped.setdefault(process.pid, process)
        for process in self.stopped.values():
            with contextlib.suppress(psutil.NoSuchProcess):
                process.send_signal(signal.SIGCONT)
        self.stopped.clear()


@pytest.fixture
def frozen_postgres(tmp_path):
    # Its own server: freezing the shared one would stall every other test.
    embedded = EmbeddedPostgres(tmp_path / "pg")
    dsn = embedded.start()
    freezer = Freezer(embedded.data_dir)
    try:
        yield dsn, freezer
    finally:
        freezer.thaw()  # never leave a process stopped, whatever happened
        embedded.stop()


@pytest.fixture
def frozen_gateway(frozen_postgres, sim):
    dsn, freezer = frozen_postgres
    port = free_port()
    settings = make_settings(
        database_url=dsn,
        port=port,
        simulator_url=sim.url,
        db_command_timeout=COMMAND_TIMEOUT,
        db_pool_max=POOL_MAX,
        database_wait=5,
    )
    server = ServerThread(create_app(settings), port=port).start()
    try:
        yield server, dsn, freezer
    finally:
        freezer.thaw()  # before stopping: a gateway cannot close its pool on a frozen server
        server.stop()


async def expect_503(call, bound: float) -> None:
    response = await call(timeout=bound)
    assert response.status_code == 503, response.text
    if not response.request.url.path.endswith("/health"):
        assert response.json()["error"]["type"] == "database_unavailable"
        assert response.headers["retry-after"]


async def test_frozen_database_answers_503_fast_then_recovers(frozen_gateway):
    server, dsn, freezer = frozen_gateway
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        created = await client.post(f"{API}/conversations/", json={"title": "before"})
        assert created.status_code == 201
        conversation = created.json()["id"]
        assert (await client.get(f"{API}/health")).status_code == 200

        # A turn still streaming when the database freezes: its answer must wait in the
        # writer, not be lost.
        stream = Stream()
        started = asyncio.Event()

        async def read_turn() -> None:
            body = {"prompt": "Name a river", "models": [SLOW_MODEL]}
            async with client.stream(
                "POST", f"{API}/chat/stream", json=body, timeout=60
            ) as response:
                assert response.status_code == 200
                async for event in iter_events(response, stream):
                    if event.name == "start":
                        started.set()

        turn = asyncio.create_task(read_turn())
        try:
            await asyncio.wait_for(started.wait(), 10)
            freezer.freeze()
            try:
                await calls_while_frozen(client, conversation)
                assert not turn.done()  # the answer is waiting for the database
            finally:
                freezer.thaw()

            async def healthy() -> bool:
                response = await client.get(f"{API}/health", timeout=HEALTH_BOUND)
                return response.status_code == 200

            async def listed() -> bool:
                response = await client.get(f"{API}/conversations/", timeout=CALL_BOUND)
                return response.status_code == 200 and "before" in [
                    c["title"] for c in response.json()
                ]

            await eventually(healthy, within=20, interval=0.2)
            await eventually(listed, within=20, interval=0.2)
            await asyncio.wait_for(asyncio.shield(turn), 30)
        finally:
            turn.cancel()
            await asyncio.gather(turn, return_exceptions=True)

    done = stream.done("gemini")
    assert done["status"] == "complete" and done["message_id"] is not None
    assert done["content"] == stream.text("gemini")
    assert stream.named("end")
    stored = (await answers(dsn, stream.named("turn")[0].data["turn_id"]))["gemini"]
    assert (stored["id"], stored["content"]) == (done["message_id"], done["content"])


async def calls_while_frozen(client: httpx.AsyncClient, conversation: int) -> None:
    await expect_503(lambda **kw: client.get(f"{API}/health", **kw), HEALTH_BOUND)
    await expect_503(lambda **kw: client.get(f"{API}/conversations/", **kw), CALL_BOUND)
    await expect_503(
        lambda **kw: client.get(f"{API}/conversations/{conversation}", **kw), CALL_BOUND
    )
    await expect_503(
        lambda **kw: client.post(f"{API}/conversations/", json={"title": "x"}, **kw), CALL_BOUND
    )
    # More callers than connections: those waiting for a free connection get their 503 within
    # the same one deadline, not after the ones ahead of them.
    await asyncio.gather(
        *(
            expect_503(lambda **kw: client.get(f"{API}/conversations/", **kw), CALL_BOUND)
            for _ in range(3 * POOL_MAX)
        )
    )
    # Every connection may now be busy cancelling: health still answers within its bound.
    await expect_503(lambda **kw: client.get(f"{API}/health", **kw), HEALTH_BOUND)
