"""Reading a process's CPU time and memory from /proc, and sampling the gateway during a round."""

from __future__ import annotations

import asyncio
import contextlib
import os

import orjson

from gateway.tools.loadtest.client import http_get

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
KB = 1024


class ProcStat:
    """A process's CPU time and memory, read from /proc (Linux)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def cpu_seconds(self) -> float:
        """The CPU time of every thread of the process, in nanoseconds where the kernel keeps
        scheduler statistics (at one turn a round spends a few clock ticks of 10 ms: too
        coarse to divide by tokens), else user + sys in clock ticks."""
        try:
            total = 0
            for task in os.listdir(f"/proc/{self.pid}/task"):
                with open(f"/proc/{self.pid}/task/{task}/schedstat", "rb") as file:
                    total += int(file.read().split()[0])
            return total / 1e9
        except (OSError, IndexError, ValueError):
            pass
        with open(f"/proc/{self.pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime

    def user_system_seconds(self) -> tuple[float, float]:
        """user and sys time (clock ticks of 10 ms): what the process did itself, and what the
        kernel did for it (system calls, the TCP stack, waking it up)."""
        with open(f"/proc/{self.pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
        return int(fields[11]) / CLOCK_TICKS, int(fields[12]) / CLOCK_TICKS

    def cpu_wait_seconds(self) -> float:
        """Time the main thread (the event loop) spent runnable but waiting for a CPU: high
        when something else, on this machine, competes for the core."""
        try:
            with open(f"/proc/{self.pid}/schedstat", "rb") as file:
                return int(file.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return 0.0

    def memory(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak RSS) in bytes."""
        values = {}
        with open(f"/proc/{self.pid}/status", "rb") as file:
            for line in file:
                if line.startswith((b"VmRSS:", b"VmHWM:")):
                    name, amount, _ = line.split()
                    values[name[:-1].decode()] = int(amount) * KB
        return values

    def reset_peak(self) -> bool:
        """Reset VmHWM to the current RSS ("5" to clear_refs); False when not allowed."""
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as file:
                file.write("5")
            return True
        except OSError:
            return False


class GatewaySampler:
    """While the gateway serves a round: its RSS every ``every`` seconds and the simulators'
    open streams, both cheap next to the load."""

    def __init__(self, gateway: ProcStat, simulator_url: str, every: float = 0.5) -> None:
        self.gateway = gateway
        self.simulator_url = simulator_url
        self.every = every
        self.peak_rss = 0
        self.peak_open_streams = 0
        self.rss_at_peak_streams = 0  # RSS sampled when the most streams were open
        self.task: asyncio.Task[None] | None = None

    def __enter__(self) -> GatewaySampler:
        self.task = asyncio.create_task(self.run())
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self.task is not None
        self.task.cancel()

    async def run(self) -> None:
        while True:
            self.peak_rss = max(self.peak_rss, self.gateway.memory()["VmRSS"])
            with contextlib.suppress(OSError, TimeoutError, ValueError):
                async with asyncio.timeout(2.0):
                    status, body = await http_get(f"{self.simulator_url}/_sim/stats")
                if status == 200:
                    stats = orjson.loads(body)
                    opened = sum(flavour["open"] for flavour in stats.values())
                    if opened >= self.peak_open_streams:
                        self.peak_open_streams = opened
                        self.rss_at_peak_streams = self.gateway.memory()["VmRSS"]
            await asyncio.sleep(self.every)


async def idle_figures(gateway: ProcStat, seconds: float = 2.0) -> tuple[int, float]:
    """The gateway's RSS and CPU use with nothing to do, after the warm-up: the base that
    per-stream memory is counted from, and the background CPU included in per-token CPU."""
    before = gateway.cpu_seconds()
    await asyncio.sleep(seconds)
    cpu_percent = round(100 * (gateway.cpu_seconds() - before) / seconds, 2)
    return gateway.memory()["VmRSS"], cpu_percent
