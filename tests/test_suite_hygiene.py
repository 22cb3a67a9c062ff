"""The check that no process outlives the tests: it finds what the session started, spares what
it did not start, kills the stragglers, and fails a pytest run that leaves one behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest

from tests.support import leftovers
from tests.support.no_leftovers import SESSION_MARKER, WORKER_MARKER
from tests.support.paths import ROOT
from tests.support.processes import wait_for_exit

pytestmark = pytest.mark.integration

UNMARKED = {k: v for k, v in os.environ.items() if k != leftovers.MARKER_ENV}
# The checks below run on a marker of their own: with the session's, they would find (and kill)
# the session's own PostgreSQL, which every later test needs.
OWN_MARKER = f"{os.getpid()}-hygiene-test"
MARKED = {**UNMARKED, leftovers.MARKER_ENV: OWN_MARKER}


def alive(pid: int) -> bool:
    return leftovers._alive(pid)


def reap(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(30)


def test_the_marker_is_in_the_environment_children_inherit(request):
    marker = os.environ[leftovers.MARKER_ENV]
    workerinput = getattr(request.config, "workerinput", None)
    if workerinput is None:
        assert marker == SESSION_MARKER
        assert marker.startswith(f"{os.getpid()}-")
    else:  # an xdist worker: the controller's, which the controller checks for at the end
        assert marker == workerinput[WORKER_MARKER]
        assert marker.startswith(f"{os.getppid()}-")


def test_a_marked_process_is_reported_and_killed():
    sleeper = subprocess.Popen(["sleep", "300"], env=MARKED)
    try:
        left = leftovers.check(OWN_MARKER, grace=0.2)
        assert [(p.pid, p.cmdline) for p in left] == [(sleeper.pid, "sleep 300")]
        assert sleeper.wait(30) == -signal.SIGTERM
        assert leftovers.check(OWN_MARKER, grace=0) == []
    finally:
        reap(sleeper)


def test_a_process_that_exits_within_the_grace_period_is_not_a_leftover():
    quick = subprocess.Popen(["sleep", "0.2"], env=MARKED)
    try:
        # Waited for, not raced: the grace period is far longer than the sleep. Not reaped
        # meanwhile, the child ends as a zombie, which is dead and not counted.
        assert leftovers.check(OWN_MARKER, grace=30) == []
    finally:
        reap(quick)


def test_processes_the_session_did_not_start_are_left_alone():
    stranger = subprocess.Popen(["sleep", "300"], env=UNMARKED)
    other = subprocess.Popen(["sleep", "300"], env={**UNMARKED, leftovers.MARKER_ENV: "1-other"})
    try:
        assert leftovers.check(OWN_MARKER, grace=0) == []
        assert alive(stranger.pid) and alive(other.pid)
    finally:
        reap(stranger)
        reap(other)


def test_a_postgres_another_session_still_uses_is_not_a_leftover(tmp_path, monkeypatch):
    """The shared .data/test-postgres: started by this session, joined by another one."""
    from storage import EmbeddedPostgres

    monkeypatch.setenv(leftovers.MARKER_ENV, OWN_MARKER)  # the server pg_ctl starts inherits it
    embedded = EmbeddedPostgres(tmp_path / "pg")
    embedded.start()
    code = (
        "import time; from pathlib import Path; from storage import EmbeddedPostgres;"
        f"EmbeddedPostgres(Path({str(tmp_path / 'pg')!r})).start(); print('joined', flush=True);"
        "time.sleep(600)"
    )
    other_session = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**UNMARKED, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert other_session.stdout is not None
        assert other_session.stdout.readline().strip() == "joined"
        embedded.stop()  # not the last user: the server keeps running
        postmaster = int((embedded.data_dir / "postmaster.pid").read_text().split()[0])
        assert alive(postmaster)
        assert postmaster in {p.pid for p in leftovers.marked_processes(OWN_MARKER)}
        assert leftovers.check(OWN_MARKER, grace=0) == []
        assert alive(postmaster)
    finally:
        reap(other_session)  # killed: its handle stays in the file, and is pruned below
    # Once the other user is gone, the server is a leftover of this session's unless stopped:
    # joining again and leaving stops it (the dead handle pruned).
    again = EmbeddedPostgres(tmp_path / "pg")
    again.start()
    again.stop()
    wait_for_exit([postmaster], 30)
    assert not alive(postmaster)


INNER_CONFTEST = """
from tests.support.no_leftovers import (  # noqa: F401
    pytest_configure,
    pytest_configure_node,
    pytest_sessionfinish,
    pytest_terminal_summary,
)


def pytest_addoption(parser):
    parser.addoption("--leak", action="store_true")
"""

INNER_TESTS = """
import subprocess
from pathlib import Path

import httpx
import pytest


@pytest.fixture(scope="session")
def tidy_session_process():
    process = subprocess.Popen(["sleep", "300"])
    yield process
    process.terminate()  # a session fixture's teardown runs before the check
    process.wait()


def test_tidy(tidy_session_process):
    assert tidy_session_process.poll() is None


def test_leaks(request):
    if request.config.getoption("--leak"):
        leaked = subprocess.Popen(["sleep", "300"])
        Path("leaked.pid").write_text(str(leaked.pid))
"""


def run_inner_session(tmp_path, *args: str) -> subprocess.CompletedProcess[str]:
    """A pytest session with this suite's check, in its own process (its own marker)."""
    (tmp_path / "conftest.py").write_text(INNER_CONFTEST)
    (tmp_path / "test_inner.py").write_text(INNER_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    # A --basetemp of its own: without one, pytest (xdist's controller at once) makes its
    # temporary root, /tmp/pytest-of-<user>, private again (0700), and a PostgreSQL of a test
    # running meanwhile, whose data is under it and which runs as another user when the suite
    # runs as root (pgserver), can no longer reach its files.
    inner_tmp = tmp_path / "inner-tmp"
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "--basetemp",
            str(inner_tmp),
            *args,
        ],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


# In one process, and over pytest-xdist's workers as `make test` runs (a worker's processes
# are the controller's to find, once every worker has exited).
PARALLEL = pytest.mark.parametrize("workers", [[], ["-n", "2"]], ids=["serial", "xdist"])


@PARALLEL
def test_a_session_that_leaves_a_process_behind_fails(tmp_path, workers):
    finished = run_inner_session(tmp_path, "--leak", *workers)
    output = finished.stdout + finished.stderr
    pid = int((tmp_path / "leaked.pid").read_text())
    try:
        assert finished.returncode == 1, output
        assert "2 passed" in output, output
        assert "processes that outlived the tests (now killed)" in output, output
        assert f"pid {pid}: sleep 300" in output, output
        assert not alive(pid), "the leftover was listed but not killed"
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


@PARALLEL
def test_a_session_whose_processes_all_ended_passes(tmp_path, workers):
    finished = run_inner_session(tmp_path, *workers)
    output = finished.stdout + finished.stderr
    assert finished.returncode == 0, output
    assert "no process started by the tests outlived them" in output, output


def test_a_port_used_again_by_a_keyless_gateway_gets_no_suite_key():
    """The suite adds its key to requests for ports whose gateway takes it. A port is used
    again by later servers: a key-less gateway there must get requests as sent (its bearer
    is checked before any cookie or token, so an added key made fresh credentials fail)."""
    from tests.support.credentials import accepting, add_test_key, stopped

    def sent(port: int) -> str | None:
        request = httpx.Request("GET", f"http://127.0.0.1:{port}/api/v1/session")
        add_test_key(request)
        return request.headers.get("authorization")

    port = 1  # never a test server's: nothing else registers it
    accepting(port)
    assert sent(port) is not None
    accepting(port, takes_key=False)  # another gateway, without the suite key, on that port
    assert sent(port) is None
    accepting(port)
    stopped(port)
    assert sent(port) is None


def test_ports_for_processes_are_this_workers_own_and_never_the_kernels():
    """A port handed to a process that binds it a second later must not be taken meanwhile:
    not by another xdist worker (each has its own block) nor by any bind(0) or outgoing
    connection (the block is below the kernel's ephemeral range)."""
    from tests.support.servers import _ephemeral_low, free_port, port_block

    block = port_block()
    ports = [free_port() for _ in range(40)]
    assert len(set(ports)) == len(ports)
    assert all(port in block for port in ports)
    assert block.stop <= _ephemeral_low()


def test_each_worker_has_a_block_of_its_own(monkeypatch):
    from tests.support.servers import port_block

    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "3")
    blocks = []
    for worker in ("gw0", "gw1", "gw2"):
        monkeypatch.setenv("PYTEST_XDIST_WORKER", worker)
        blocks.append(set(port_block()))
    assert all(blocks) and not (
        blocks[0] & blocks[1] or blocks[1] & blocks[2] or blocks[0] & blocks[2]
    )
