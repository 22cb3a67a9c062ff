"""The shipped Locust users, run as Locust runs them: a headless master and two workers, each
its own process, against a real gateway, read back from Locust's CSV files.

Locust imports gevent and monkey-patches the standard library when it is imported, so it is
never imported here: it runs in subprocesses only (and its pytest plugin is turned off in
pyproject.toml), which the last test checks. Without Locust installed (the ``load`` extra,
which ``test`` includes) the run is skipped, except under CI=true, where that fails.
"""

from __future__ import annotations

import csv
import importlib.util
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gateway import cli
from gateway.tools.locust import LOCUSTFILE
from gateway.tools.locust.reader import TurnReader
from gateway.turns.events import delta_bytes, delta_prefix, event_bytes
from tests.support.paths import ROOT
from tests.support.servers import free_port

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
FAST = "+tokens=12,ttft=0,gap=10"  # deltas 10 ms apart: answers with a rate to measure
# A user of the test's own, beside the shipped ones: every stream of it is broken on purpose
# (the simulators fail both answers after three chunks).
BROKEN_USER = """
from gateway.tools.locust.users import ChatStreamUser


class BrokenStreamUser(ChatStreamUser):
    label = "broken"
    model_suffix = "+tokens=12,ttft=0,gap=5,fault=midstream,after=3"
    fixed_count = 1
"""


def locust_command() -> list[str]:
    if importlib.util.find_spec("locust") is None:
        reason = "Locust is not installed (pip install -e '.[load]')"
        if IN_CI:
            pytest.fail(f"{reason}; under CI=true this test must run")
        pytest.skip(reason)
    return [sys.executable, "-m", "locust"]


def test_locust_stays_out_of_the_test_process():
    """gevent patches the standard library when Locust is imported: never in this process.
    (Not the module's last test: a unit test that is a run's last one has the session's
    teardown run under its guard against processes, which stopping PostgreSQL trips.)"""
    assert "locust" not in sys.modules and "gevent" not in sys.modules
    assert str(ROOT) in str(LOCUSTFILE)


# -- the reader, without Locust -------------------------------------------------------------------


def delta(id: int, provider: str, text: str) -> bytes:
    return delta_bytes(id, delta_prefix(provider), text)


def done(id: int, provider: str, content: str, status: str = "complete") -> bytes:
    error = None if status == "complete" else {"type": "upstream_error", "message": "x"}
    data = {"provider": provider, "status": status, "content": content, "error": error}
    return event_bytes(id, "done", data)


def end(id: int, statuses: dict[str, str]) -> bytes:
    return event_bytes(id, "end", {"turn_id": "t1", "statuses": statuses})


def good_stream() -> list[bytes]:
    providers = [{"provider": p, "model": "m", "simulated": True} for p in ("claude", "gemini")]
    return [
        b"retry: 2000\n\n",
        event_bytes(1, "turn", {"turn_id": "t1", "providers": providers}),
        event_bytes(2, "start", {"provider": "claude", "model": "m"}),
        delta(3, "claude", "Hello"),
        delta(4, "gemini", "Hi"),
        delta(5, "claude", " world"),
        b": ping\n\n",
        done(6, "gemini", "Hi"),
        done(7, "claude", "Hello world"),
        end(8, {"claude": "complete", "gemini": "complete"}),
    ]


def read(chunks: list[bytes], reader: TurnReader | None = None) -> TurnReader:
    reader = reader or TurnReader(("claude", "gemini"), sent=0.0)
    for number, chunk in enumerate(chunks, start=1):
        reader.feed(chunk, now=number / 10)
    return reader


def test_a_clean_stream_is_a_clean_turn_with_its_timings():
    reader = read(good_stream())
    assert reader.problem() is None
    assert reader.deltas == {"claude": 2, "gemini": 1}
    assert reader.ttft_ms() == pytest.approx({"claude": 400.0, "gemini": 500.0})
    assert reader.tokens_per_second() == pytest.approx({"claude": 1 / 0.2})  # one gap of 0.2 s


def test_a_resumed_stream_is_checked_across_the_seam():
    events = good_stream()
    first = read(events[:4])
    assert first.last_id == b"3"
    first.reconnected()
    assert read([b"retry: 2000\n\n", *events[4:]], first).problem() is None
    # A resume that repeats an event it had is a violation, as a gap would be.
    again = read(events[:4])
    again.reconnected()
    assert read([delta(3, "claude", "Hello"), *events[4:]], again).problem() == (
        "protocol violation: content_mismatch, id_not_increasing"
    )


def test_a_failed_answer_fails_the_turn_in_words_that_group():
    events = [*good_stream()[:6], done(6, "gemini", "Hi", "failed")]
    events += [done(7, "claude", "Hello world"), end(8, {"claude": "complete", "gemini": "failed"})]
    assert read(events).problem() == "gemini failed: upstream_error"


def test_the_command_prints_the_shipped_locustfile(capsys):
    assert cli.main(["locustfile"]) == 0
    printed = Path(capsys.readouterr().out.strip())
    assert printed == LOCUSTFILE and printed.is_file()


# -- a distributed run ----------------------------------------------------------------------------


class LocustRun:
    """A master and its workers, each a process group of its own: whatever happens, all of
    them are gone when the test ends."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.processes: list[tuple[str, subprocess.Popen]] = []

    def start(self, name: str, arguments: list[str]) -> subprocess.Popen:
        log = open(self.tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed with the run
        process = subprocess.Popen(
            [*locust_command(), *arguments],
            cwd=self.tmp_path,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes.append((name, process))
        return process

    def logs(self) -> str:
        return "\n".join(
            f"--- {name}\n{(self.tmp_path / f'{name}.log').read_text(errors='replace')[-3000:]}"
            for name, _ in self.processes
        )

    def stop(self) -> None:
        for _, process in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _, process in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(15)


def stats_rows(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(path, newline="") as file:
        return {(row["Type"], row["Name"]): row for row in csv.DictReader(file)}


def test_a_master_and_two_workers_drive_the_gateway(streaming_gateway, tmp_path):
    """Both shipped users (chat stream, and EventSource with a resume) run clean turns, with
    time to first token and tokens/s per provider; the broken user's turns are failures."""
    (tmp_path / "broken.py").write_text(BROKEN_USER)
    files = f"{LOCUSTFILE},{tmp_path / 'broken.py'}"
    port = free_port()
    run = LocustRun(tmp_path)
    try:
        master = run.start(
            "master",
            ["-f", files, "--headless", "--master", "--expect-workers", "2"]
            + ["--master-bind-host", "127.0.0.1", "--master-bind-port", str(port)]
            + ["--host", streaming_gateway.url, "--users", "5", "--spawn-rate", "5"]
            + ["--run-time", "3s", "--stop-timeout", "10", "--csv", str(tmp_path / "run")]
            + ["--providers", "claude,chatgpt", "--model-suffix", FAST, "--resume-after", "3"],
        )
        for number in (1, 2):
            run.start(
                f"worker{number}",
                ["-f", files, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
            )
        master.wait(90)
        for _, process in run.processes:
            process.wait(30)  # the workers leave with their master
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"{error}\n{run.logs()}") from None
    finally:
        run.stop()
    assert master.returncode == 1, run.logs()  # Locust's status when a request failed
    rows = stats_rows(tmp_path / "run_stats.csv")
    for mode in ("stream", "eventsource"):
        turns = rows[("turn", mode)]
        assert int(turns["Request Count"]) > 0 and turns["Failure Count"] == "0", run.logs()
    resumed = rows[("GET", "/api/v1/turns/{turn_id}/events (resumed)")]
    assert int(resumed["Request Count"]) > 0 and resumed["Failure Count"] == "0"
    for provider in ("claude", "chatgpt"):
        assert int(rows[("TTFT", provider)]["Request Count"]) > 0
        assert float(rows[("tokens/s", provider)]["Median Response Time"]) > 0
    broken = rows[("turn", "broken")]
    assert int(broken["Request Count"]) > 0
    assert broken["Failure Count"] == broken["Request Count"]
    with open(tmp_path / "run_failures.csv", newline="") as file:
        failures = list(csv.DictReader(file))
    assert {(f["Method"], f["Name"]) for f in failures} == {("turn", "broken")}, failures
    assert all("chatgpt failed" in f["Error"] and "claude failed" in f["Error"] for f in failures)
