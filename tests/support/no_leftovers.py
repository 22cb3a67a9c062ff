"""The pytest hooks that fail a session leaving a process behind (see ``leftovers``).

Imported by ``tests/conftest.py`` before any fixture starts anything: the marker goes into the
environment every process the session starts inherits."""

from __future__ import annotations

import os

import pytest

from tests.support import leftovers

SESSION_MARKER = leftovers.install_marker()
LEFTOVERS = pytest.StashKey[list]()
WORKER_MARKER = "multichat_test_session"  # the controller's marker, in a worker's workerinput


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node) -> None:
    """pytest-xdist's controller, for each worker it starts: the worker marks what it starts
    with the controller's marker, so that the one check, made by the controller once every
    worker has exited, sees every process of the run."""
    node.workerinput[WORKER_MARKER] = SESSION_MARKER


def pytest_configure(config: pytest.Config) -> None:
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        os.environ[leftovers.MARKER_ENV] = workerinput[WORKER_MARKER]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After every fixture's teardown (pytest's own sessionfinish tears the session fixtures
    down, and this one runs last): fail the run if a process it started is still running.
    An xdist worker does not look: its siblings' processes carry the same marker and may still
    run; the controller looks once they are all gone."""
    if hasattr(session.config, "workerinput"):
        return
    left = leftovers.check(SESSION_MARKER)
    session.config.stash[LEFTOVERS] = left
    if left and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    left = config.stash.get(LEFTOVERS, None)
    if left is None:
        return  # the check has not run: pytest_sessionfinish raised, which pytest reports
    if not left:
        terminalreporter.write_line("no process started by the tests outlived them")
        return
    terminalreporter.section("processes that outlived the tests (now killed)", sep="=", red=True)
    for process in left:
        terminalreporter.write_line(str(process), red=True)
