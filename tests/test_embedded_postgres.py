"""The embedded PostgreSQL stops when its last living user leaves: even after a user was killed
with SIGKILL (its pid is left in pgserver's handle file), and after a restart of the server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from storage import EmbeddedPostgres
from storage.embedded import HANDLES
from tests.support.paths import ROOT
from tests.support.processes import wait_for_exit

pytestmark = pytest.mark.integration


def postmaster_pid(embedded: EmbeddedPostgres) -> int:
    return int((embedded.data_dir / "postmaster.pid").read_text().split()[0])


def wait_gone(pid: int, within: float = 30.0) -> bool:
    return wait_for_exit([pid], within)


def handles(embedded: EmbeddedPostgres) -> list[int]:
    return json.loads((embedded.data_dir / HANDLES).read_text())


def test_a_user_killed_with_sigkill_does_not_keep_the_server_alive(tmp_path):
    embedded = EmbeddedPostgres(tmp_path / "pg")
    embedded.start()
    pid = postmaster_pid(embedded)
    code = (
        "import sys, time; from pathlib import Path; from storage import EmbeddedPostgres;"
        f"EmbeddedPostgres(Path({str(tmp_path / 'pg')!r})).start(); print('joined', flush=True);"
        "time.sleep(600)"
    )
    child = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "joined"
        assert child.pid in handles(embedded)
        child.send_signal(signal.SIGKILL)
        child.wait(30)
        assert child.pid in handles(embedded), "a killed process cannot remove its own pid"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(30)
    embedded.stop()
    assert wait_gone(pid), "the server outlived its last living user"
    assert handles(embedded) == []


def test_a_restarted_server_is_stopped_too(tmp_path):
    embedded = EmbeddedPostgres(tmp_path / "pg")
    embedded.start()
    first = postmaster_pid(embedded)
    embedded.stop_server()
    embedded.start_server()
    second = postmaster_pid(embedded)
    assert second != first
    embedded.stop()
    assert wait_gone(second), "the restarted postmaster outlived stop()"


def test_a_second_start_in_the_same_process_is_counted_again(tmp_path):
    embedded = EmbeddedPostgres(tmp_path / "pg")
    embedded.start()
    pid = postmaster_pid(embedded)
    embedded.stop()
    assert wait_gone(pid)
    again = EmbeddedPostgres(tmp_path / "pg")
    again.start()
    assert os.getpid() in handles(again)
    pid = postmaster_pid(again)
    again.stop()
    assert wait_gone(pid)
