"""Numbered ``NNNN_name.sql`` migrations: applied in order, each once, each in its own
transaction, recorded with a checksum. Runs under an advisory lock held by a dedicated
connection, and re-reads the ledger under the lock, so racing processes apply each file once.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from storage.sql import Q

log = logging.getLogger("multichat.migrate")

# Any fixed 64-bit number, the same in every process of this project.
LOCK_KEY = 0x6D756C7469636861  # "multicha"
_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


def migrations_dir() -> Path:
    """Inside an installed wheel the files ship as storage/migrations; in a checkout, ../migrations."""
    packaged = Path(__file__).parent / "migrations"
    return packaged if packaged.is_dir() else Path(__file__).parent.parent / "migrations"


def discover(directory: Path | None = None) -> list[Migration]:
    found: dict[int, Migration] = {}
    for path in sorted((directory or migrations_dir()).glob("*.sql")):
        match = _FILE.match(path.name)
        if not match:
            raise MigrationError(f"migration file {path.name} is not named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"two migrations are numbered {version:04d}")
        found[version] = Migration(version, match.group(2), path.read_text(encoding="utf-8"))
    return [found[version] for version in sorted(found)]


async def migrate(dsn: str, directory: Path | None = None) -> list[Migration]:
    """Apply what is pending; return what this call applied."""
    pending_files = discover(directory)
    connection = await asyncpg.connect(dsn, timeout=30)
    try:
        await Q.lock_migrations.fetchval(connection, key=LOCK_KEY)
        try:
            return await _apply_pending(connection, pending_files)
        finally:
            await Q.unlock_migrations.fetchval(connection, key=LOCK_KEY)
    finally:
        await connection.close()


async def _apply_pending(connection: asyncpg.Connection, files: list[Migration]) -> list[Migration]:
    await Q.create_ledger.execute(connection)
    applied = {row["version"]: row for row in await Q.applied_migrations.fetch(connection)}
    done: list[Migration] = []
    for migration in files:
        if row := applied.get(migration.version):
            if row["checksum"] != migration.checksum:
                raise MigrationError(
                    f"migration {migration.version:04d}_{migration.name}.sql was changed after it "
                    "was applied; add a new migration instead of editing an applied one"
                )
            continue
        async with connection.transaction():
            await connection.execute(migration.sql)
            await Q.record_migration.execute(
                connection,
                version=migration.version,
                name=migration.name,
                checksum=migration.checksum,
            )
        log.info("applied migration %04d_%s", migration.version, migration.name)
        done.append(migration)
    return done
