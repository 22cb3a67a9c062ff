"""A private PostgreSQL server in a data directory, for running with no DATABASE_URL.

pgserver bundles the PostgreSQL binaries and starts a server on a Unix socket in about a second.
The data directory is reused across runs; the server stops when the last process using it exits.

pgserver keeps the pids of the processes using a server in ``.handle_pids.json`` and stops the
server only when the process leaving is the last one listed. A process killed with SIGKILL never
removes its pid, so the server would outlive every later clean stop: the pids of processes that
no longer exist are pruned before joining and before leaving. And a server restarted with
stop_server()/start_server() is a new postmaster: pgserver's handle is pointed at it, or its
cleanup would find the old one gone and leave the new one running.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

log = logging.getLogger("multichat.embedded")

DATABASE = "multichat"
HANDLES = ".handle_pids.json"


def _pgserver():
    with warnings.catch_warnings():  # platformdirs warns when XDG_RUNTIME_DIR is unset
        warnings.simplefilter("ignore")
        import pgserver  # imported lazily: only needed when no DATABASE_URL is set
    return pgserver


def handles_lock():
    """pgserver's inter-process lock on its handle files: the same lock file
    (``PostgresServer.lock_path``), taken through fasteners, the library pgserver locks with."""
    import fasteners
    from pgserver.postgres_server import PostgresServer

    return fasteners.InterProcessLock(PostgresServer.lock_path)


def prune_dead_handles(pgdata: Path) -> list[int]:
    """Drop the pids of processes that no longer exist from pgserver's handle file (under
    pgserver's inter-process lock); returns the pids removed."""
    import psutil
    from pgserver.utils import DiskList

    handles = DiskList(pgdata / HANDLES)
    with handles_lock():
        pids = handles.get()
        alive = [pid for pid in pids if pid == os.getpid() or _exists(psutil, pid)]
        if alive != pids:
            handles.put(alive)
    dead = [pid for pid in pids if pid not in alive]
    if dead:
        log.warning("pruned the handles of processes that died without stopping: %s", dead)
    return dead


def _exists(psutil, pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class EmbeddedPostgres:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.resolve() / "postgres"
        self._server = None

    def start(self) -> str:
        """Start (or join) the server; return a DSN for the project's database."""
        pgserver = _pgserver()
        logging.getLogger("pgserver").setLevel(logging.WARNING)  # it logs each pg_ctl call at INFO

        self.data_dir.mkdir(parents=True, exist_ok=True)
        prune_dead_handles(self.data_dir)
        self._server = server = pgserver.get_server(self.data_dir, cleanup_mode="stop")
        # get_server returns the instance this process already has for the directory, which may
        # have been cleaned up (its pid removed): make sure this process is counted again.
        server.global_process_id_list.get_and_add(os.getpid())
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")
        if "(1 row)" not in exists:
            server.psql(f"CREATE DATABASE {DATABASE};")
        log.info("embedded PostgreSQL running, data in %s", self.data_dir)
        return self.dsn()

    def dsn(self, database: str = DATABASE) -> str:
        """A DSN for ``database`` on the running server (its Unix socket)."""
        assert self._server is not None, "start() first"
        return self._server.get_uri(database)

    def stop(self) -> None:
        """Leave the server; stop it if no other living process uses it."""
        if self._server is not None:
            self._follow_postmaster()
            prune_dead_handles(self.data_dir)
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
        self._follow_postmaster()

    def _follow_postmaster(self) -> None:
        """Point pgserver's handle at the postmaster now running in the directory, if any: the
        one it started may have been stopped and replaced. pgserver has no public way to do
        this: its ``_postmaster_info`` is set (tests/test_pinned_internals.py names it)."""
        from pgserver.utils import PostmasterInfo

        assert self._server is not None
        info = PostmasterInfo.read_from_pgdata(self.data_dir)
        if info is not None and info.is_running():
            self._server._postmaster_info = info

    def _pg_ctl(self, *args: str) -> None:
        pgserver = _pgserver()
        assert self._server is not None
        pgserver.pg_ctl(list(args), pgdata=self.data_dir, user=self._server.system_user, timeout=30)
