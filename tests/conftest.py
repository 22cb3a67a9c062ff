"""Fixtures: a real PostgreSQL for the session, a fresh database per test, real servers.

With DATABASE_URL set, that server is used (the test databases are created and dropped on it);
otherwise an embedded PostgreSQL is started under .data/test-postgres and reused across runs.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from gateway.settings import Settings, load_settings
from providers import PROVIDERS
from storage import EmbeddedPostgres, migrate
from tests import leftovers

ROOT = Path(__file__).resolve().parent.parent
# One template per test session: two sessions on one server (two checkouts, or a developer
# beside CI) must not drop each other's template.
TEMPLATE = f"multichat_test_template_{os.getpid()}"
NETWORK_VARIABLES = {"SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}

# Before any fixture starts anything: every process the session starts inherits the marker, and
# pytest_sessionfinish fails the run if one of them is still running.
SESSION_MARKER = leftovers.install_marker()

# Tests must never reach a real provider, whatever the developer's shell exports; nor go through
# the developer's proxy or trust their CAs (tests that want these set them themselves).
for _spec in PROVIDERS.values():
    os.environ.pop(_spec.key_env, None)
    for _key in [k for k in os.environ if k.startswith(f"{_spec.name.upper()}_")]:
        os.environ.pop(_key)
for _key in [
    k for k in os.environ if k.upper() in NETWORK_VARIABLES or k.upper().endswith("_PROXY")
]:
    os.environ.pop(_key)


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(scope="session")
def postgres_admin_dsn() -> Iterator[str]:
    external = os.environ.get("DATABASE_URL")
    if external:
        yield with_database(external, "postgres")
        return
    embedded = EmbeddedPostgres(ROOT / ".data" / "test-postgres")
    embedded.start()
    yield embedded._server.get_uri("postgres")  # type: ignore[union-attr]
    embedded.stop()


@pytest.fixture(scope="session")
def template_dsn(postgres_admin_dsn: str) -> Iterator[str]:
    """A database migrated once per session; each test clones it (fast, fully isolated)."""

    async def build() -> None:
        admin = await asyncpg.connect(postgres_admin_dsn)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
            await admin.execute(f"CREATE DATABASE {TEMPLATE}")
        finally:
            await admin.close()
        await migrate(with_database(postgres_admin_dsn, TEMPLATE))

    async def drop() -> None:
        admin = await asyncpg.connect(postgres_admin_dsn)
        try:
            await admin.execute(f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
        finally:
            await admin.close()

    asyncio.run(build())
    yield with_database(postgres_admin_dsn, TEMPLATE)
    asyncio.run(drop())


async def create_database(admin_dsn: str, template: str | None = None) -> str:
    name = f"multichat_test_{secrets.token_hex(6)}"
    admin = await asyncpg.connect(admin_dsn)
    try:
        suffix = f" TEMPLATE {template}" if template else ""
        await admin.execute(f"CREATE DATABASE {name}{suffix}")
    finally:
        await admin.close()
    return with_database(admin_dsn, name)


async def drop_database(admin_dsn: str, dsn: str) -> None:
    name = urlsplit(dsn).path.lstrip("/")
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


@pytest.fixture
async def empty_database(postgres_admin_dsn: str):
    """A database with nothing in it, not even the migrations."""
    dsn = await create_database(postgres_admin_dsn)
    yield dsn
    await drop_database(postgres_admin_dsn, dsn)


@pytest.fixture
async def database_url(postgres_admin_dsn: str, template_dsn: str):
    """A fresh, migrated database for one test."""
    dsn = await create_database(postgres_admin_dsn, TEMPLATE)
    yield dsn
    await drop_database(postgres_admin_dsn, dsn)


def make_settings(**overrides) -> Settings:
    """Settings for a test: no .env, no keys from the environment, quiet logs."""
    overrides.setdefault("log_level", "warning")
    overrides.setdefault("data_dir", ROOT / ".data" / "unused")
    return load_settings(env_file=None, **overrides)


@pytest.fixture
def artifacts_dir() -> Path:
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def gateway(database_url: str):
    """A real gateway on uvicorn, on a fresh database."""
    from gateway.app import create_app
    from tests.servers import ServerThread

    server = ServerThread.for_app(
        lambda port: create_app(
            make_settings(database_url=database_url, port=port, simulator_url="http://127.0.0.1:9")
        )
    ).start()
    yield server
    server.stop()


@pytest.fixture
async def client(gateway):
    import httpx

    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
        yield http


@pytest.fixture(scope="session")
def simulator():
    """The five provider simulators on a real uvicorn, fast by default; reset per test."""
    from providers.simulators.app import create_app as create_simulator
    from providers.simulators.knobs import Knobs, SimulatorConfig
    from tests.servers import ServerThread

    server = ServerThread(
        create_simulator(
            SimulatorConfig(defaults=Knobs(tokens=12, ttft=20, gap=5), record_requests=True)
        )
    ).start()
    yield server
    server.stop()


@pytest.fixture
def sim(simulator):
    """The session's simulator with its counters and request log zeroed."""
    import httpx

    httpx.post(f"{simulator.url}/_sim/reset").raise_for_status()
    return SimulatorClient(simulator.url)


class SimulatorClient:
    def __init__(self, url: str) -> None:
        self.url = url

    def stats(self) -> dict:
        import httpx

        return httpx.get(f"{self.url}/_sim/stats").json()

    def requests(self, api: str) -> list[dict]:
        import httpx

        return httpx.get(f"{self.url}/_sim/requests", params={"api": api}).json()


def start_gateway(database_url: str, simulator_url: str, **overrides):
    from gateway.app import create_app
    from tests.servers import ServerThread

    overrides.setdefault("disconnect_grace", 0.3)
    return ServerThread.for_app(
        lambda port: create_app(
            make_settings(
                database_url=database_url, port=port, simulator_url=simulator_url, **overrides
            )
        )
    ).start()


@pytest.fixture
def streaming_gateway(database_url, sim):
    """A gateway whose five providers are all served by the simulator."""
    server = start_gateway(database_url, sim.url)
    yield server
    server.stop()


@pytest.fixture
async def stream_client(streaming_gateway):
    import httpx

    async with httpx.AsyncClient(base_url=streaming_gateway.url, timeout=30) as http:
        yield http


# -- no process outlives the session ---------------------------------------------------------------

LEFTOVERS = pytest.StashKey[list]()


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """After every fixture's teardown (pytest's own sessionfinish tears the session fixtures
    down, and this one runs last): fail the run if a process it started is still running."""
    left = leftovers.check(SESSION_MARKER)
    session.config.stash[LEFTOVERS] = left
    if left and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    left = config.stash.get(LEFTOVERS, None)
    if left is None:
        return  # the check has not run: pytest_sessionfinish raised, which pytest reports
    if not left:
        terminalreporter.write_line("no process started by the tests outlived them")
        return
    terminalreporter.section("processes that outlived the tests (now killed)", sep="=", red=True)
    for process in left:
        terminalreporter.write_line(str(process), red=True)


@pytest.fixture
def processes(tmp_path):
    """Start gateways as their own processes (``python -m gateway serve``); all are stopped
    at the end, whatever state they are in."""
    from tests.gateway_process import GatewayProcess

    started: list[GatewayProcess] = []

    def start(env: dict[str, str], **options) -> GatewayProcess:
        process = GatewayProcess(tmp_path, env, **options)
        started.append(process)
        return process.wait_ready()

    yield start
    for process in started:
        process.stop()
