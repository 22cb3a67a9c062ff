"""The migration runner on a real PostgreSQL: from empty, re-run, edited file, racing runners."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import asyncpg
import pytest

from storage.migrate import MigrationError, discover, migrate, migrations_dir


async def tables(dsn: str) -> set[str]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row["tablename"] for row in rows}
    finally:
        await connection.close()


async def ledger(dsn: str) -> list[tuple[int, str]]:
    connection = await asyncpg.connect(dsn)
    try:
        rows = await connection.fetch(
            "SELECT version, name FROM schema_migrations ORDER BY version"
        )
        return [(row["version"], row["name"]) for row in rows]
    finally:
        await connection.close()


@pytest.fixture
def copied_migrations(tmp_path: Path) -> Path:
    target = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), target)
    return target


async def test_from_empty_applies_every_file_in_order(empty_database):
    applied = await migrate(empty_database)
    assert [m.version for m in applied] == [m.version for m in discover()]
    assert {"conversations", "turns", "messages", "schema_migrations"} <= await tables(
        empty_database
    )
    assert await ledger(empty_database) == [(m.version, m.name) for m in discover()]


async def test_rerun_does_nothing(empty_database):
    await migrate(empty_database)
    assert await migrate(empty_database) == []
    assert len(await ledger(empty_database)) == len(discover())


async def test_new_file_is_applied_once(empty_database, copied_migrations):
    await migrate(empty_database, copied_migrations)
    (copied_migrations / "9000_extra.sql").write_text("CREATE TABLE extra (id int);")
    applied = await migrate(empty_database, copied_migrations)
    assert [m.name for m in applied] == ["extra"]
    assert "extra" in await tables(empty_database)


async def test_edited_applied_file_is_refused(empty_database, copied_migrations):
    await migrate(empty_database, copied_migrations)
    first = sorted(copied_migrations.glob("*.sql"))[0]
    first.write_text(first.read_text() + "\n-- a harmless-looking edit\n")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(empty_database, copied_migrations)


async def test_failing_file_rolls_back_alone(empty_database, copied_migrations):
    (copied_migrations / "9000_good.sql").write_text("CREATE TABLE good (id int);")
    (copied_migrations / "9001_bad.sql").write_text(
        "CREATE TABLE half (id int); SELECT no_such_function();"
    )
    with pytest.raises(asyncpg.UndefinedFunctionError):
        await migrate(empty_database, copied_migrations)
    names = await tables(empty_database)
    assert "good" in names and "half" not in names
    assert (9001, "bad") not in await ledger(empty_database)


async def test_misnamed_file_is_refused(copied_migrations):
    (copied_migrations / "extra.sql").write_text("SELECT 1;")
    with pytest.raises(MigrationError, match="not named NNNN_name.sql"):
        discover(copied_migrations)


async def test_racing_runners_apply_each_file_once(empty_database, copied_migrations):
    # A slow migration widens the window in which a second runner could slip in.
    (copied_migrations / "9000_slow.sql").write_text(
        "SELECT pg_sleep(0.5); CREATE TABLE slow_marker (id int);"
    )
    results = await asyncio.gather(*(migrate(empty_database, copied_migrations) for _ in range(4)))
    applied_counts = sorted(len(result) for result in results)
    total = len(list(copied_migrations.glob("*.sql")))
    assert applied_counts == [0, 0, 0, total]  # exactly one runner did everything
    assert len(await ledger(empty_database)) == total
