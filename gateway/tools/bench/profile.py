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

INSTALL = {
    "py-spy": "pip install -e '.[profile]'",
    "perf": "Debian's linux-perf",
    "strace": "Debian's strace",
}


def profiler() -> str | None:
    """The profiler ``BENCH_PROFILE`` names, or None; a clear exit if it cannot run here."""
    chosen = os.environ.get("BENCH_PROFILE") or None
    if chosen is None:
        return None
    if chosen not in INSTALL:
        raise SystemExit(f"BENCH_PROFILE: one of {', '.join(INSTALL)}, not {chosen!r}")
    if binary(chosen) is None:
        raise SystemExit(f"BENCH_PROFILE={chosen} needs {chosen} ({INSTALL[chosen]})")
    return chosen


def binary(kind: str) -> str | None:
    beside_python = Path(sys.executable).with_name(kind)  # py-spy in this virtualenv
    return shutil.which(kind) or (str(beside_python) if beside_python.exists() else None)


def command(kind: str, pid: int, output: Path, python: bool) -> list[str] | None:
    program = binary(kind)
    if program is None or (kind == "py-spy" and not python):
        return None  # py-spy reads Python processes only: nginx is not profiled by it
    if kind == "py-spy":
        return [program, "record", "--pid", str(pid), "--rate", "250", "--native", "--idle",
                "--format", "raw", "--output", f"{output}.txt"]  # fmt: skip
    if kind == "strace":
        return [program, "-c", "-f", "-p", str(pid), "-o", f"{output}.strace"]
    return [program, "record", "-F", "999", "-g", "-p", str(pid), "-o", f"{output}.perf"]


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
