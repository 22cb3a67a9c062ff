"""``python -m gateway.tools.bench.reliability``: what issue #23 asked to measure, on this
machine, with real processes (an embedded PostgreSQL or DATABASE_URL, redis-server, the
simulators, gateways with their default settings):

* **takeover**: two gateways sharing Redis; ``TURNS`` turns run on one, each read by a
  listener on the other; the owner is killed (SIGKILL). For each stream: the seconds from the
  kill to its ``end``, and the characters its listener was shown that the stored answers lack.
* **big heads**: ``HEADS`` connections each sending a 10 MB request header, at once: how many
  got 431, and the gateway's resident memory at its peak and after the spike.
* **slow readers**: ``SLOW_READERS`` clients that never read, on large streams: the peak and
  the after, as above (what ``LISTENER_BUFFER_TOTAL`` bounds, and ``malloc_trim`` gives back).

It prints one JSON object. The figures are the host's: on a shared 2-core machine the
takeover times include waiting for a core.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import orjson

from gateway.tools.bench.database import Database
from gateway.tools.bench.processes import (
    Child,
    free_port,
    gateway_environment,
    wait_until_ready,
)
from gateway.tools.bench.scale import RedisServer, redis_binary

TURNS = 100
HEADS = 100
HEAD_BYTES = 10_000_000
SLOW_READERS = 30
MODELS = ["claude:claude-sonnet-5+tokens=3000,gap=20", "gemini:gemini-3.5-flash+tokens=3000,gap=20"]
API = "/api/v1"
MB = 1024 * 1024


class Reading:
    """One listener's stream: what it was shown, and when its end came."""

    def __init__(self, turn_id: str) -> None:
        self.turn_id = turn_id
        self.shown: dict[str, list[str]] = {}
        self.deltas = 0
        self.ended_at: float | None = None
        self.dones = 0

    def take(self, name: str, data: dict) -> None:
        if name == "delta":
            self.shown.setdefault(data["provider"], []).append(data["text"])
            self.deltas += 1
        elif name == "done":
            self.dones += 1
        elif name == "end":
            self.ended_at = time.monotonic()


async def read(client: httpx.AsyncClient, url: str, reading: Reading) -> None:
    name, data = "", b""
    async with client.stream("GET", url) as response:
        async for line in response.aiter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = line[6:].encode()
            elif not line and name:
                reading.take(name, orjson.loads(data))
                name = ""


async def until(condition, interval: float = 0.05) -> None:
    """Poll ``condition`` (sync or async) until it holds."""
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return
        await asyncio.sleep(interval)


def resident(pid: int, field: str = "VmRSS") -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def reset_peak(pid: int) -> None:
    with contextlib.suppress(OSError), open(f"/proc/{pid}/clear_refs", "w") as refs:
        refs.write("5")  # VmHWM starts again from the current RSS


class Run:
    def __init__(self, work: Path) -> None:
        self.work = work
        self.database = Database(work)
        self.children: list[Child] = []
        self.redis: RedisServer | None = None

    async def start(self) -> None:
        self.dsn = self.database.start()
        port = free_port()
        self.simulator = Child(["simulate", "--port", str(port)], self.work / "simulator.log", None)
        self.children.append(self.simulator)
        self.simulator_url = f"http://127.0.0.1:{port}"
        await wait_until_ready(self.simulator, f"{self.simulator_url}/_sim/stats", "simulator")

    async def gateway(self, name: str, **env: str) -> tuple[Child, str]:
        port = free_port()
        environment = gateway_environment(self.dsn, self.simulator_url, port, self.work / name)
        environment.update(env)
        child = Child(["serve"], self.work / f"{name}.log", None, env=environment)
        self.children.append(child)
        url = f"http://127.0.0.1:{port}"
        await wait_until_ready(child, f"{url}{API}/health", name)
        return child, url

    def stop(self) -> None:
        for child in self.children:
            child.stop()
        if self.redis is not None:
            self.redis.stop()
        self.database.stop()

    # -- takeover ---------------------------------------------------------------------------------

    async def takeover(self) -> dict:
        binary = redis_binary()
        if binary is None:
            return {"skipped": "redis-server is not installed"}
        self.redis = RedisServer(binary, self.work / "redis.log", self.work)
        await self.redis.wait_until_ready()
        env = {"REDIS_URL": self.redis.url, "MAX_CONCURRENT_TURNS": "2000"}
        owner, owner_url = await self.gateway("owner", **env)
        _, other_url = await self.gateway("other", **env)
        limits = httpx.Limits(max_connections=TURNS + 20)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            created = await asyncio.gather(
                *(
                    client.post(
                        f"{owner_url}{API}/turns", json={"prompt": f"t{i}", "models": MODELS}
                    )
                    for i in range(TURNS)
                )
            )
            turns = [response.json()["turn_id"] for response in created]
            readings = [Reading(turn_id) for turn_id in turns]
            tasks = [
                asyncio.create_task(read(client, f"{other_url}{API}/turns/{t}/events", r))
                for t, r in zip(turns, readings, strict=True)
            ]
            await until(lambda: min(r.deltas for r in readings) >= 20)
            owner.process.send_signal(signal.SIGKILL)
            killed = time.monotonic()
            await asyncio.wait(tasks, timeout=90)
        stored = await self.stored_texts(turns)
        seconds = [r.ended_at - killed for r in readings if r.ended_at is not None]
        lost = []
        for reading in readings:
            for provider, parts in reading.shown.items():
                shown = "".join(parts)
                kept = stored.get((reading.turn_id, provider), "")
                common = len(os.path.commonprefix([shown, kept]))
                lost.append(len(shown) - common)
        return {
            "turns": TURNS,
            "streams_ended": len(seconds),
            "streams_with_every_done": sum(r.dones == 2 for r in readings),
            "seconds_to_end_median": round(statistics.median(seconds), 2) if seconds else None,
            "seconds_to_end_max": round(max(seconds), 2) if seconds else None,
            "characters_shown": sum(len("".join(p)) for r in readings for p in r.shown.values()),
            "characters_lost_total": sum(lost),
            "characters_lost_max": max(lost) if lost else None,
        }

    async def stored_texts(self, turns: list[str]) -> dict[tuple[str, str], str]:
        import asyncpg

        connection = await asyncpg.connect(self.dsn)
        try:
            rows = await connection.fetch(
                "SELECT turn_id, provider, content FROM messages"
                " WHERE role = 'assistant' AND turn_id = ANY($1::text[]) ORDER BY id",
                turns,
            )
        finally:
            await connection.close()
        return {(row["turn_id"], row["provider"]): row["content"] for row in rows}

    # -- hostile clients --------------------------------------------------------------------------

    async def big_heads(self, url: str, pid: int) -> dict:
        port = int(url.rsplit(":", 1)[1])
        baseline = resident(pid)
        reset_peak(pid)

        def one() -> bytes:
            with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
                sock.sendall(b"GET /api/v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
                with contextlib.suppress(OSError):
                    sock.sendall(b"a" * HEAD_BYTES + b"\r\n\r\n")
                with contextlib.suppress(OSError):
                    return sock.recv(64)
                return b""

        answers = await asyncio.gather(*(asyncio.to_thread(one) for _ in range(HEADS)))
        peak = resident(pid, "VmHWM")
        await asyncio.sleep(12)  # one check of the memory trimmer
        return {
            "connections": HEADS,
            "header_bytes": HEAD_BYTES,
            "answered_431": sum(a.startswith(b"HTTP/1.1 431") for a in answers),
            "rss_before_mb": round(baseline / MB, 1),
            "rss_peak_mb": round(peak / MB, 1),
            "rss_after_mb": round(resident(pid) / MB, 1),
        }

    async def slow_readers(self, url: str, pid: int) -> dict:
        port = int(url.rsplit(":", 1)[1])
        baseline = resident(pid)
        reset_peak(pid)
        flood = ["chatgpt:gpt-5.5+tokens=60000,chunk=1,gap=0"]
        sockets = []
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            turns = [
                (
                    await client.post(f"{API}/turns", json={"prompt": f"f{i}", "models": flood})
                ).json()
                for i in range(3)
            ]
            for n in range(SLOW_READERS):
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.connect(("127.0.0.1", port))
                path = turns[n % len(turns)]["events_url"]
                sock.sendall(b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path.encode())
                sockets.append(sock)
            for turn in turns:
                state = f"{API}/turns/{turn['turn_id']}"

                async def ended(state: str = state) -> bool:
                    return (await client.get(state)).json()["status"] != "running"

                await until(ended)
        peak = resident(pid, "VmHWM")
        for sock in sockets:
            sock.close()
        await asyncio.sleep(12)
        return {
            "readers": SLOW_READERS,
            "rss_before_mb": round(baseline / MB, 1),
            "rss_peak_mb": round(peak / MB, 1),
            "rss_after_mb": round(resident(pid) / MB, 1),
        }


async def main() -> dict:
    with tempfile.TemporaryDirectory(prefix="multichat-reliability-") as work:
        run = Run(Path(work))
        try:
            await run.start()
            result: dict = {"takeover": await run.takeover()}
            env = {"CHATGPT_MAX_TOKENS": "60000", "SEND_TIMEOUT": "600"}
            hostile, url = await run.gateway("hostile", **env)
            pid = hostile.process.pid
            result["big_heads"] = await run.big_heads(url, pid)
            result["slow_readers"] = await run.slow_readers(url, pid)
            return result
        finally:
            run.stop()


if __name__ == "__main__":
    json.dump(asyncio.run(main()), sys.stdout, indent=2)
    print()
