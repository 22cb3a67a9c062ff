"""Real processes for the scale-out tests: a Redis server, several gateways, nginx in front.

Redis and nginx are Debian's (``.ci/run`` installs them); without them these tests are skipped
with a reason, and under CI=true that is a failure. nginx runs the shipped docs/nginx.conf,
with its upstream list and port filled in.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from gateway.bus.wire import stream_key
from tests.support.credentials import accepting, takes_test_key
from tests.support.gateway_process import GatewayProcess
from tests.support.paths import ROOT
from tests.support.servers import free_port
from tests.support.sse_client import read_turn_stream
from tests.support.turn_helpers import API, eventually

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(program: str, package: str) -> str:
    found = shutil.which(program) or shutil.which(program, path="/usr/sbin:/usr/local/sbin")
    if found:
        return found
    reason = f"{program} is not installed (Debian's {package}; .ci/run installs it)"
    if IN_CI:
        pytest.fail(f"{reason}; under CI=true these tests must run")
    pytest.skip(reason)


def wait_for_port(port: int, process: subprocess.Popen, within: float = 30.0) -> None:
    import socket

    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {port}")


class Server:
    """A server process of ours on ``self.port``: started, waited for, stopped."""

    port: int
    process: subprocess.Popen | None = None

    def run(self, command: list[str]) -> None:
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_for_port(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)


class RedisServer(Server):
    def __init__(self, tmp_path: Path) -> None:
        self.binary = need("redis-server", "redis-server")
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.dir = tmp_path

    def start(self) -> RedisServer:
        self.run(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)]
        )  # fmt: skip
        return self


class Nginx(Server):
    def __init__(self, tmp_path: Path, upstream_ports: list[int]) -> None:
        self.binary = need("nginx", "nginx-light")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.dir = tmp_path / "nginx"
        (self.dir / "logs").mkdir(parents=True, exist_ok=True)
        site = self.site(upstream_ports)
        temp = self.dir / "temp"
        (self.dir / "nginx.conf").write_text(
            f"worker_processes 1;\nerror_log {self.dir}/logs/error.log;\npid {self.dir}/nginx.pid;\n"
            "events { worker_connections 1024; }\n"
            f"http {{\n  access_log off;\n  client_body_temp_path {temp}/body;\n"
            f"  proxy_temp_path {temp}/proxy;\n  fastcgi_temp_path {temp}/fastcgi;\n"
            f"  uwsgi_temp_path {temp}/uwsgi;\n  scgi_temp_path {temp}/scgi;\n{site}\n}}\n"
        )
        temp.mkdir(exist_ok=True)

    def site(self, upstream_ports: list[int]) -> str:
        """The shipped configuration, with its upstream list and port filled in."""
        shipped = (ROOT / "docs" / "nginx.conf").read_text()
        site = with_upstreams(shipped, upstream_ports)
        site = site.replace("listen 80;", f"listen 127.0.0.1:{self.port};")
        assert str(self.port) in site, "docs/nginx.conf changed shape"
        return site

    def start(self) -> Nginx:
        # As root, nginx's workers would run as nobody, who cannot read this test's folder.
        directives = "daemon off; user root;" if os.geteuid() == 0 else "daemon off;"
        self.run(
            [self.binary, "-p", str(self.dir), "-c", str(self.dir / "nginx.conf"), "-g", directives]
        )
        return self


def with_upstreams(shipped: str, upstream_ports: list[int]) -> str:
    servers = "".join(f"    server 127.0.0.1:{p};\n" for p in upstream_ports)
    site = re.sub(r"(upstream multichat \{\n)(?:    server .*;\n)+", rf"\g<1>{servers}", shipped)
    assert servers in site, "the shipped nginx configuration changed shape"
    return site


class Cluster:
    """Redis, ``size`` gateways on one database and simulator, nginx round-robin in front."""

    def __init__(self, tmp_path: Path, database_url: str, simulator_url: str, **env: str):
        self.tmp_path = tmp_path
        self.redis = RedisServer(tmp_path).start()
        self.env = {
            "DATABASE_URL": database_url,
            "SIMULATOR_URL": simulator_url,
            "REDIS_URL": self.redis.url,
            **env,
        }
        self.gateways: list[GatewayProcess] = []
        self.nginx: Nginx | None = None

    def start(self, size: int = 3) -> Cluster:
        started = [GatewayProcess(self.tmp_path, self.env) for _ in range(size)]
        self.gateways += [gateway.wait_ready() for gateway in started]
        self.nginx = Nginx(self.tmp_path, [g.port for g in self.gateways]).start()
        accepting(self.nginx.port, takes_test_key(self.env))
        return self

    def outputs(self) -> str:
        """Every gateway's log, for a failure's message."""
        return "\n".join(f"--- gateway {g.port}:\n{g.output()[-4000:]}" for g in self.gateways)

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        for gateway in self.gateways:
            gateway.stop()
        self.redis.stop()


async def expire_stream(redis: aioredis.Redis, turn_id: str, end: int) -> None:
    """Delete a finished turn's stream, as its retention would: once the owner has published
    its end (a listener of the owner's memory can see the end before it is in Redis, and a
    stream deleted then would start again at that end, which no expiry ever does)."""

    async def holds_the_end() -> bool:
        last = await redis.xrevrange(stream_key(turn_id), count=1)
        return bool(last) and last[0][0] == f"{end}-0".encode()

    await eventually(holds_the_end)
    assert await redis.delete(stream_key(turn_id)) == 1


async def mirrored_finished_turn(client, owner, other, body: dict) -> tuple[str, str, int]:
    """A turn run to its end on ``owner`` and read once on ``other``, which now holds a mirror
    of it: (its id, its events path, its end's id)."""
    created = (await client.post(f"{owner.url}{API}/turns", json=body)).json()
    path = f"{API}/turns/{created['turn_id']}/events"
    _, first = await read_turn_stream(client, f"{owner.url}{path}")
    end = first.events[-1].id
    _, mirrored = await read_turn_stream(client, f"{other.url}{path}")
    assert mirrored.events[-1].id == end
    return created["turn_id"], path, end
