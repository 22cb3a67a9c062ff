"""Every test has a kind (tests/support/markers.py), and the fast subset stays in process: a
test taken for a unit test that binds a socket or starts a process fails, saying how to mark it."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.support import markers


def item(fixtures: tuple[str, ...], path: str = "tests/test_x.py", module: object = None):
    return SimpleNamespace(fixturenames=fixtures, path=Path(path).resolve(), module=module)


def test_a_test_gets_its_kind_from_what_it_uses():
    assert markers.kind_of(item(())) == "unit"
    assert markers.kind_of(item(("tmp_path", "monkeypatch"))) == "unit"
    assert markers.kind_of(item(("client", "gateway", "database_url", "postgres_admin_dsn"))) == (
        "integration"
    )
    assert markers.kind_of(item(("sim", "simulator"))) == "integration"
    assert markers.kind_of(item(("cluster", "database_url", "postgres_admin_dsn"))) == "cluster"
    assert markers.kind_of(item(("page", "context", "browser"))) == "browser"
    assert markers.kind_of(item((), path="tests/browser/test_page.py")) == "browser"
    own = SimpleNamespace(SERVER_FIXTURES={"server"})
    assert markers.kind_of(item(("client", "server"), module=own)) == "integration"


def test_a_unit_test_cannot_bind_a_socket_or_start_a_process():
    # Its own patch, undone before the suite's guard of this very test is (the monkeypatch
    # fixture would be undone after it, and put the guard's refusals back for good).
    with pytest.MonkeyPatch.context() as patch:
        markers.forbid_servers(patch, "tests/test_x.py::test_y")
        with socket.socket() as sock, pytest.raises(AssertionError, match="mark it"):
            sock.bind(("127.0.0.1", 0))
        with pytest.raises(AssertionError, match="tests/test_x.py::test_y"):
            subprocess.Popen(["true"])


def test_this_suite_marks_its_unit_tests(request):
    assert request.node.get_closest_marker("unit") is not None
