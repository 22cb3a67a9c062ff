"""The benchmark's child processes: started as `multichat` subcommands, pinned to their cores,
waited for until they answer, and given an environment that cannot reach a real provider."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from gateway.tools.bench.measure import ProcStat
from gateway.tools.loadtest.client import http_get
from providers.registry import PROVIDERS

READY_TIMEOUT = 90.0  # seconds for the simulators or a gateway to answer after start


def core_plan() -> tuple[set[int] | None, set[int] | None]:
    """(gateway cores, load-side cores), or (None, None) when there is one core to share."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, None
    return {cores[0]}, set(cores[1:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def multichat_command() -> list[str]:
    script = Path(sys.executable).with_name("multichat")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gateway"]


class Child:
    """A ``multichat`` subprocess, pinned to ``cores``, its output in a log file."""

    def __init__(
        self,
        args: Sequence[str],
        log: Path,
        cores: set[int] | None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.log = log
        self.output = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [*multichat_command(), *args],
            stdout=self.output,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )
        if cores:
            # Pinned right after the fork: the interpreter is still starting, and any thread
            # it creates later inherits the mask.
            os.sched_setaffinity(self.process.pid, cores)
        self.stat = ProcStat(self.process.pid)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output.close()

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


async def wait_until_ready(child: Child, url: str, what: str) -> None:
    await poll_until_ready(child, url, what)


class Started(Protocol):
    def alive(self) -> bool: ...
    def tail(self) -> str: ...


async def poll_until_ready(child: Started, url: str, what: str) -> None:
    """Until ``url`` answers 200, or ``child`` has exited (its last output in the error)."""
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            while True:
                if not child.alive():
                    raise RuntimeError(f"{what} exited at start-up:\n{child.tail()}")
                with contextlib.suppress(OSError, TimeoutError):
                    async with asyncio.timeout(2.0):
                        status, _ = await http_get(url)
                    if status == 200:
                        return
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise RuntimeError(
            f"{what} did not answer {url} within {READY_TIMEOUT:.0f} s:\n{child.tail()}"
        ) from None


# The client key of the bench's gateways and load (MULTICHAT_KEY): the gateways are measured
# as they are deployed, authenticating every request. An admin key, so the per-key limits
# (KEY_TURNS_PER_MINUTE ...) are not what is measured.
BENCH_KEY = "bench-" + secrets.token_urlsafe(32)


def gateway_environment(dsn: str, simulator_url: str, port: int, data_dir: Path) -> dict[str, str]:
    """The process environment minus every gateway and provider setting, plus the bench's: so
    that no key in the developer's shell sends load to a real provider."""
    from gateway.settings import Settings

    settings = {name.upper() for name in Settings.model_fields}
    prefixes = tuple(f"{name.upper()}_" for name in PROVIDERS)
    environment = {
        name: value
        for name, value in os.environ.items()
        if name.upper() not in settings and not name.upper().startswith(prefixes)
    }
    environment.update(
        DATABASE_URL=dsn,
        SIMULATOR_URL=simulator_url,
        HOST="127.0.0.1",
        PORT=str(port),
        DATA_DIR=str(data_dir),
        LOG_LEVEL="warning",
        MAX_CONCURRENT_TURNS="20000",  # above hold's 1,000 turns: the limit must not be measured
        MULTICHAT_KEY=BENCH_KEY,
        DB_POOL_MIN="2",
        DB_POOL_MAX="20",
    )
    for name, spec in PROVIDERS.items():
        environment[spec.key_env] = ""  # an empty key means simulated
        # hold sends one token a second: both timeouts well above that
        environment[f"{name.upper()}_FIRST_TOKEN_TIMEOUT"] = "30"
        environment[f"{name.upper()}_IDLE_TIMEOUT"] = "30"
    return environment
