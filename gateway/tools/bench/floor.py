"""The floor: nginx relaying the simulators' own streams, as the gateway's peer in each run.

nginx (one process, ``proxy_buffering off``, keep-alive to the upstream, as in
docs/nginx.conf) parses nothing, stores nothing and merges nothing: what it spends per token is
about the least a relay on this machine can spend (one wake-up, one read, one write). The
gateway's figures are reported as ratios to it, measured on the same core in the same run, so
that they mean the same on a quiet machine and on a busy one.

Debian's ``nginx-light`` (``.ci/run`` installs it); without it the floor is skipped, said once.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import BinaryIO

from gateway.tools.bench.measure import ProcStat
from gateway.tools.bench.processes import free_port, poll_until_ready

CONFIG = """\
daemon off;
master_process off;  # one process, the relay itself: its CPU is the floor's CPU
{user}
worker_rlimit_nofile 65536;
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
events {{ worker_connections 20000; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    upstream simulators {{
        server {upstream};
        keepalive 1024;
    }}
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location / {{
            proxy_pass http://simulators;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_buffering off;
            proxy_read_timeout 1h;
            client_max_body_size 2m;
        }}
    }}
}}
"""


def nginx_binary() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


class Nginx:
    """nginx in front of the simulators, pinned to the given cores, gone with ``stop``."""

    def __init__(self, directory: Path, log: Path) -> None:
        self.directory = directory
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.output: BinaryIO | None = None

    def start(self, upstream_url: str, cores: set[int] | None) -> None:
        binary = nginx_binary()
        if binary is None:
            raise FileNotFoundError("nginx (Debian's nginx-light)")
        self.directory.mkdir(parents=True, exist_ok=True)
        upstream = upstream_url.removeprefix("http://").rstrip("/")
        # As root, nginx would switch to nobody, who cannot read the bench's folder.
        user = "user root;" if os.geteuid() == 0 else ""
        config = self.directory / "nginx.conf"
        config.write_text(
            CONFIG.format(dir=self.directory, user=user, upstream=upstream, port=self.port)
        )
        self.output = open(self.log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [binary, "-p", str(self.directory), "-c", str(config)],
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )
        if cores:
            os.sched_setaffinity(self.process.pid, cores)
        self.stat = ProcStat(self.process.pid)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self) -> str:
        error_log = self.directory / "error.log"
        return error_log.read_text(errors="replace")[-2000:] if error_log.exists() else ""

    async def wait_until_ready(self) -> None:
        await poll_until_ready(self, f"{self.url}/_sim/stats", "nginx")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.output is not None:
            self.output.close()
