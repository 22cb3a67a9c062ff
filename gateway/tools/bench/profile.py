"""``BENCH_PROFILE``: a profile of each measured round, beside the round's figures.

* ``py-spy``: py-spy (``pip install py-spy``) samples the gateway's Python and native stacks
  (``--native``: uvloop's and the interpreter's C frames too), idle samples included, in
  py-spy's raw format (collapsed stacks, one line per stack and count);
* ``perf``: Linux ``perf record -g`` of the gateway and of nginx, kernel frames included
  (``perf report -i FILE`` reads it);
* ``strace``: ``strace -c`` of the gateway and of nginx: how many system calls of each kind
  (reads, writes, epoll waits, getpid) each made, to divide by the tokens relayed. strace
  slows a process down many times: only its counts mean anything.

Files go to ``bench-results/logs/profile-<scenario>-<relay>-<round>.*``. A profiler costs the
process CPU, so a profiled run's CPU figures are not comparable to an unprofiled run's; the
share of each part of the per-token path is what a profile is for.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path


def profiler() -> str | None:
    chosen = os.environ.get("BENCH_PROFILE") or None
    if chosen not in (None, "py-spy", "perf", "strace"):
        raise SystemExit(f"BENCH_PROFILE: py-spy, perf or strace, not {chosen!r}")
    return chosen


def command(kind: str, pid: int, output: Path, python: bool) -> list[str] | None:
    if kind == "py-spy":
        binary = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        if not python or not Path(binary).exists():
            return None
        return [binary, "record", "--pid", str(pid), "--rate", "250", "--native", "--idle",
                "--format", "raw", "--output", f"{output}.txt"]  # fmt: skip
    binary = shutil.which(kind)
    if binary is None:
        return None
    if kind == "strace":
        return [binary, "-c", "-f", "-p", str(pid), "-o", f"{output}.strace"]
    return [binary, "record", "-F", "999", "-g", "-p", str(pid), "-o", f"{output}.perf"]


@contextlib.contextmanager
def profiling(pid: int, output: Path, *, python: bool) -> Iterator[None]:
    """Profile ``pid`` while the block runs, when ``BENCH_PROFILE`` asks for it."""
    kind = profiler()
    argv = command(kind, pid, output, python) if kind else None
    if argv is None:
        yield
        return
    log = open(f"{output}.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
