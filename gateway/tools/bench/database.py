"""Where the gateway stores answers during the benchmark, and the count of stored answers."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from storage.embedded import EmbeddedPostgres


class Database:
    """Where the gateway stores answers: an embedded PostgreSQL of the bench's own, or the
    server of DATABASE_URL."""

    def __init__(self, work_dir: Path) -> None:
        self.external = os.environ.get("DATABASE_URL") or None
        self.embedded: EmbeddedPostgres | None = None
        self.work_dir = work_dir
        self.dsn = ""

    def start(self) -> str:
        if self.external:
            self.dsn = self.external
            return self.dsn
        from storage.embedded import EmbeddedPostgres

        self.embedded = embedded = EmbeddedPostgres(self.work_dir / "data")
        self.dsn = embedded.start()
        return self.dsn

    async def complete_answers(self) -> int | None:
        import asyncpg

        try:
            connection = await asyncpg.connect(self.dsn)
        except (OSError, asyncpg.PostgresError):
            return None
        try:
            return await connection.fetchval(
                "SELECT count(*) FROM messages WHERE role = 'assistant' AND status = 'complete'"
            )
        except asyncpg.UndefinedTableError:
            return 0
        finally:
            await connection.close()

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()
