"""A gateway in its own process, run as users run it (``python -m gateway serve``), for what
only a process can show: SIGTERM, SIGKILL, file limits, and what it prints."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.credentials import accepting, stopped, takes_test_key
from tests.support.servers import free_port


class GatewayProcess:
    def __init__(
        self,
        tmp_path: Path,
        env: dict[str, str],
        *,
        files_limit: tuple[int, int] | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp_path / f"gateway-{self.port}.log"
        environment = {
            **os.environ,
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "DATA_DIR": str(tmp_path / "data"),
            **env,
        }
        accepting(self.port, takes_test_key(environment))

        def limit_files() -> None:
            if files_limit is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, files_limit)

        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gateway", "serve", *args],
                cwd=tmp_path,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=limit_files,  # noqa: PLW1509 - only setrlimit, before exec
            )

    def wait_ready(self, within: float = 60.0) -> GatewayProcess:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the gateway exited at start-up:\n{self.output()}")
            try:
                if httpx.get(f"{self.url}/api/v1/health", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise TimeoutError(f"the gateway did not answer within {within} s:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def signal(self, number: int) -> None:
        self.process.send_signal(number)

    def wait(self, within: float = 30.0) -> int:
        return self.process.wait(within)

    def stop(self) -> None:
        """Whatever state it is in: gone afterwards."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        stopped(self.port)
