"""The bus with the oldest redis-py that pyproject.toml allows, not only the newest installed.

redis-py changed what matters to a quiet bus between majors (no socket timeout by default
before 8, 5 s since; a pub/sub wait that honours the socket timeout before 8): the bus sets
its timeouts itself, and these tests hold it to that on both ends of the allowed range. The
oldest release is installed once into ``.venv/redis-oldest/<version>`` (pip, from the
pyproject's own lower bound) and the quiet-period and reconnect tests of test_event_bus.py run
again in a Python that imports it first.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.support.cluster import IN_CI
from tests.support.paths import ROOT

pytestmark = pytest.mark.cluster  # a venv with the oldest redis-py, and a Redis server

BUS_TESTS = "quiet or lost_reader or bad_control or under_test"


def oldest_allowed() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    found = re.search(r'"redis\[hiredis\]>=([0-9.]+),<[0-9.]+"', text)
    assert found, "pyproject.toml no longer names redis[hiredis]>=X,<Y"
    return found.group(1)


def install(version: str) -> str:
    target = ROOT / ".venv" / "redis-oldest" / version
    if not (target / "redis" / "__init__.py").exists():
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
             "--no-compile", "--target", str(target), f"redis=={version}"],
            capture_output=True, text=True, timeout=300,
        )  # fmt: skip
        if done.returncode != 0:
            reason = f"could not install redis=={version}: {done.stderr.strip()[-500:]}"
            if IN_CI:
                pytest.fail(reason)
            pytest.skip(reason)
    return str(target)


def test_the_bus_outlasts_quiet_periods_and_reconnects_with_the_oldest_redis_py(tmp_path):
    version = oldest_allowed()
    path = install(version)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([path, str(ROOT)]),
        "MULTICHAT_TEST_REDIS_VERSION": version,
    }
    # Its own --basetemp: pytest would otherwise make /tmp/pytest-of-<user> private again while
    # other workers' tests use it (see test_suite_hygiene.run_inner_session).
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "--basetemp", str(tmp_path / "inner-tmp"),
         "tests/test_event_bus.py", "-k", BUS_TESTS],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-2000:]
    assert re.search(r"\b[4-9] passed\b", done.stdout), done.stdout[-2000:]
