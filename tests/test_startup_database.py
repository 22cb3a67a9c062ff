"""An unreachable DATABASE_URL: start-up retries for DATABASE_WAIT, then stops with one line that
names the variable (and never the password) and exit status 2."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import asyncpg
import pytest

import storage.database
from storage.database import DatabaseUnreachable, safe_url, wait_for_database
from tests.support.servers import free_port

MULTICHAT = Path(sys.executable).parent / "multichat"
PASSWORD = "s3cret-Pa55word"


@pytest.mark.integration
def test_serve_with_unreachable_database_url_exits_2_with_one_line(tmp_path):
    closed = free_port()  # bound and released: nothing listens there
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://multichat:{PASSWORD}@127.0.0.1:{closed}/multichat",
        "DATABASE_WAIT": "1",
        "PORT": str(free_port()),
        "SIMULATOR_URL": "http://127.0.0.1:9",
    }
    done = subprocess.run(
        [str(MULTICHAT), "serve"],
        cwd=tmp_path,  # no .env here
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    naming = [line for line in lines if "DATABASE_URL" in line]
    assert naming == [lines[-1]], done.stderr
    assert lines[-1] == (
        "multichat: cannot reach the database at DATABASE_URL "
        f"(postgresql://multichat@127.0.0.1:{closed}/multichat): connection refused"
    )
    assert "Traceback" not in done.stderr
    assert PASSWORD not in done.stderr + done.stdout


def test_safe_url_drops_every_password():
    assert safe_url("postgresql://u:pw@db:5432/app") == "postgresql://u@db:5432/app"
    assert safe_url("postgres://:pw@db/app") == "postgres://db/app"
    assert safe_url("postgresql://db/app?password=pw&sslmode=require") == (
        "postgresql://db/app?sslmode=require"
    )
    assert safe_url("postgresql://u@/app?host=/run/pg") == "postgresql://u@/app?host=%2Frun%2Fpg"


class FakeConnection:
    async def close(self) -> None:
        pass


async def test_waits_until_the_database_answers(monkeypatch):
    attempts = []

    async def connect(dsn, **options):
        attempts.append(options["timeout"])
        if len(attempts) < 3:
            raise ConnectionRefusedError(111, "Connect call failed")
        return FakeConnection()

    monkeypatch.setattr(storage.database.asyncpg, "connect", connect)
    await wait_for_database("postgresql://u:pw@db/app", 30)
    assert len(attempts) == 3


async def test_gives_up_after_the_wait(monkeypatch):
    async def connect(dsn, **options):
        raise ConnectionRefusedError(111, "Connect call failed")

    monkeypatch.setattr(storage.database.asyncpg, "connect", connect)
    with pytest.raises(DatabaseUnreachable) as caught:
        await wait_for_database("postgresql://u:pw@db/app", 0.3)
    error = caught.value
    assert (error.verb, error.url, error.reason) == (
        "reach",
        "postgresql://u@db/app",
        "connection refused",
    )


async def test_a_refusal_is_not_retried(monkeypatch):
    attempts = []

    async def connect(dsn, **options):
        attempts.append(dsn)
        raise asyncpg.InvalidPasswordError('password authentication failed for user "u"')

    monkeypatch.setattr(storage.database.asyncpg, "connect", connect)
    with pytest.raises(DatabaseUnreachable) as caught:
        await wait_for_database("postgresql://u:pw@db/app", 30)
    assert len(attempts) == 1
    assert caught.value.verb == "use" and "password authentication failed" in str(caught.value)


async def test_a_running_database_answers_at_once(postgres_admin_dsn):
    await wait_for_database(postgres_admin_dsn, 5)
