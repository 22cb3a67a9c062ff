"""A private PostgreSQL server in a data directory, for running with no DATABASE_URL.

pgserver bundles the PostgreSQL binaries and starts a server on a Unix socket in about a second.
The data directory is reused across runs; the server stops when the last process using it exits.
"""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

log = logging.getLogger("multichat.embedded")

DATABASE = "multichat"


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve() / "postgres"
        self._server = None

    def start(self) -> str:
        """Start (or join) the server; return a DSN for the project's database."""
        with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
            warnings.simplefilter("ignore")
            import pgserver  # imported lazily: only needed when no DATABASE_URL is set

        logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs each pg_ctl call at INFO

        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._server = pgserver.get_server(self.data_dir, cleanup_mode="stop")
        exists = self._server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")
        if "(1 row)" not in exists:
            self._server.psql(f"CREATE DATABASE {DATABASE};")
        log.info("embedded PostgreSQL running, data in %s", self.data_dir)
        return self._server.get_uri(DATABASE)

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None

    # For tests (and operators) that take the database away and bring it back.
    def stop_server(self) -> None:
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start_server(self) -> None:
        assert self._server is not None
        socket_dir = self._server.get_postmaster_info().socket_dir
        self._pg_ctl(
            "-w", "-o", '-h ""', "-o", f"-k {socket_dir}", "-l", str(self.data_dir / "log"), "start"
        )

    def _pg_ctl(self, *args: str) -> None:
        import pgserver

        assert self._server is not None
        pgserver.pg_ctl(list(args), pgdata=self.data_dir, user=self._server.system_user, timeout=30)
