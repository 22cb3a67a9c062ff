"""Every test is one of four kinds, registered in pyproject.toml:

- ``unit``: in-process only; no server, no socket bound, no subprocess (``make test-fast``).
- ``integration``: real servers: PostgreSQL, the simulators, gateways on uvicorn or as processes.
- ``browser``: the page and the docs in a headless Chromium (everything under tests/browser).
- ``cluster``: Redis, several gateway processes, nginx.

A test or module may say its kind (``pytestmark = pytest.mark.integration``); otherwise it is
worked out from the fixtures it uses (a module names its own server fixtures in a module-level
``SERVER_FIXTURES``). A test taken for a unit test that binds a socket or starts a process, in
its own code or in any fixture it sets up, fails, saying so: the fast subset cannot quietly
start servers.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

KINDS = ("unit", "integration", "browser", "cluster")
BROWSER_DIR = Path(__file__).resolve().parents[1] / "browser"
# The fixtures every server-backed fixture rests on (a fixture's closure lists what it uses).
SERVER_FIXTURES = {"postgres_admin_dsn", "private_postgres", "simulator", "processes"}


def kind_of(item: pytest.Item) -> str:
    fixtures = set(getattr(item, "fixturenames", ()))
    servers = SERVER_FIXTURES | set(getattr(getattr(item, "module", None), "SERVER_FIXTURES", ()))
    if BROWSER_DIR in Path(item.path).parents or "browser" in fixtures:
        return "browser"
    if "cluster" in fixtures:
        return "cluster"
    if fixtures & servers:
        return "integration"
    return "unit"


def classify(items: list[pytest.Item]) -> None:
    for item in items:
        if not any(item.get_closest_marker(kind) for kind in KINDS):
            item.add_marker(kind_of(item))


def forbid_servers(monkeypatch: pytest.MonkeyPatch, nodeid: str) -> None:
    """Binding a socket or starting a process fails the unit test that tries."""
    advice = (
        f"{nodeid} is taken for a unit test but starts a server or a process: mark it "
        "(or its module) integration, browser or cluster (tests/support/markers.py)"
    )

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(advice)

    monkeypatch.setattr(socket.socket, "bind", refuse)
    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
