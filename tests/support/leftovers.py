"""No process the test session started may outlive it.

At import (from conftest, before any fixture runs) the session puts a unique marker in
``os.environ``; every subprocess inherits it, and so does every PostgreSQL that pgserver's pg_ctl
starts and every browser Playwright launches. After the session fixtures are torn down,
``pytest_sessionfinish`` scans ``/proc/*/environ`` for the marker: stragglers get a few seconds to
exit, then are listed, killed, and the run fails.

One exception: the session's shared PostgreSQL (``.data/test-postgres``) may have been started by
this session and joined by another one running in the same checkout; pgserver stops it when its
last user leaves, so while a living process outside this session holds a handle on it, it is not
a leftover.

PostgreSQL's workers write their process titles over their environment, so of a server only the
postmaster carries the marker; stopping it stops them.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.processes import wait_for_exit

MARKER_ENV = "MULTICHAT_TEST_SESSION"
PROC = Path("/proc")
GRACE = 5.0  # seconds a straggler gets to exit by itself before it is called a leftover


def install_marker() -> str:
    """A marker unique to this session, in the environment every child inherits."""
    marker = f"{os.getpid()}-{secrets.token_hex(8)}"
    os.environ[MARKER_ENV] = marker
    return marker


@dataclass(frozen=True)
class Leftover:
    pid: int
    cmdline: str

    def __str__(self) -> str:
        return f"pid {self.pid}: {self.cmdline}"


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None  # gone meanwhile, or another user's process (never ours)


def marked_processes(marker: str) -> list[Leftover]:
    """Living processes (not this one) whose environment carries ``marker``."""
    if not (PROC / "self" / "environ").exists():
        # Cannot check: fail loudly rather than pass without looking.
        raise RuntimeError("no /proc: cannot check for processes that outlived the tests")
    entry = f"{MARKER_ENV}={marker}".encode()
    found = []
    for path in PROC.iterdir():
        if not path.name.isdigit() or int(path.name) == os.getpid():
            continue
        environ = _read(path / "environ")  # empty for a zombie: it is dead, only not reaped
        if not environ or entry not in environ.split(b"\0"):
            continue
        cmdline = _read(path / "cmdline") or b""
        text = cmdline.replace(b"\0", b" ").decode(errors="replace").strip()
        found.append(Leftover(int(path.name), text or "?"))
    return found


def _parent(pid: int) -> int | None:
    stat = _read(PROC / str(pid) / "stat")
    if not stat:
        return None
    return int(stat.rsplit(b")", 1)[1].split()[1])  # the field after the state


def _pgdata(cmdline: str) -> Path | None:
    words = cmdline.split()
    if not words or not words[0].endswith("/postgres") or "-D" not in words[:-1]:
        return None
    return Path(words[words.index("-D") + 1])


def _alive(pid: int) -> bool:
    stat = _read(PROC / str(pid) / "stat")
    return bool(stat) and stat.rsplit(b")", 1)[1].split()[0] not in (b"Z", b"X")


def shared_with_others(leftovers: list[Leftover], marker: str) -> set[int]:
    """The pids of PostgreSQL servers (and their workers) that a living process outside this
    session still has a pgserver handle on."""
    ours = {p.pid for p in leftovers} | {os.getpid()}
    by_pid = {p.pid: p for p in leftovers}
    shared: set[int] = set()
    for process in leftovers:
        pid: int | None = process.pid
        for _ in range(3):  # a worker's parent is the postmaster
            if pid is None or pid not in by_pid:
                break
            pgdata = _pgdata(by_pid[pid].cmdline)
            if pgdata is not None:
                handles = _read(pgdata / ".handle_pids.json")
                with contextlib.suppress(ValueError):
                    users = json.loads(handles) if handles else []
                    if any(u not in ours and _alive(u) for u in users):
                        shared.add(process.pid)
                break
            pid = _parent(pid)
    return shared


def stragglers(marker: str) -> list[Leftover]:
    found = marked_processes(marker)
    shared = shared_with_others(found, marker)
    return [p for p in found if p.pid not in shared]


def kill(leftovers: list[Leftover], within: float = 5.0) -> None:
    for process in leftovers:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(process.pid, signal.SIGTERM)
    wait_for_exit([p.pid for p in leftovers], within)
    for process in leftovers:
        if _alive(process.pid):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(process.pid, signal.SIGKILL)


def check(marker: str, grace: float = GRACE) -> list[Leftover]:
    """The marked processes still running after ``grace`` seconds; they are killed."""
    deadline = time.monotonic() + grace
    while True:
        left = stragglers(marker)
        remaining = deadline - time.monotonic()
        if not left or remaining <= 0:
            break
        wait_for_exit([p.pid for p in left], remaining, all_of=False)  # then look again
    if left:
        kill(left)
    return left
