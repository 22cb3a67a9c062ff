"""Fixtures: a real PostgreSQL for the session, a fresh database per test, real servers.

With DATABASE_URL set, that server is used (the test databases are created and dropped on it);
otherwise an embedded PostgreSQL is started under .data/test-postgres and reused across runs.

Helpers that are not fixtures live in ``tests/support``; the browser fixtures in
``tests/browser/conftest.py``. Every test is marked unit, integration, browser or cluster
(``tests/support/markers.py``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from providers import PROVIDERS
from storage import EmbeddedPostgres
from tests.support import credentials, markers
from tests.support.databases import (
    TEMPLATE,
    build_template,
    create_database,
    drop_database,
    drop_template,
    with_database,
)
from tests.support.gateways import make_settings, start_gateway
from tests.support.no_leftovers import (  # noqa: F401 (the hooks, found here by pytest)
    pytest_configure,
    pytest_configure_node,
    pytest_sessionfinish,
    pytest_terminal_summary,
)
from tests.support.paths import ROOT
from tests.support.servers import ServerThread
from tests.support.simulator_calls import SimulatorClient

NETWORK_VARIABLES = {"SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}

# Every gateway the tests start accepts the suite's key, and the suite's clients send it.
credentials.install()

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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    markers.classify(items)


def _unit_guard(item: pytest.Item):
    """A unit test that starts a server or a process (its fixtures included) fails, and says
    how to mark it. Only while it is set up and runs: after the last test, its teardown phase
    also tears down the session's fixtures (the embedded PostgreSQL), which may start pg_ctl."""
    if item.get_closest_marker("unit") is None:
        yield
        return
    with pytest.MonkeyPatch.context() as patch:
        markers.forbid_servers(patch, item.nodeid)
        yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    yield from _unit_guard(item)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):
    yield from _unit_guard(item)


# -- PostgreSQL ------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def postgres_admin_dsn() -> Iterator[str]:
    external = os.environ.get("DATABASE_URL")
    if external:
        yield with_database(external, "postgres")
        return
    embedded = EmbeddedPostgres(ROOT / ".data" / "test-postgres")
    embedded.start()
    yield embedded.dsn("postgres")
    embedded.stop()


@pytest.fixture(scope="session")
def template_dsn(postgres_admin_dsn: str) -> Iterator[str]:
    """A database migrated once per session; each test clones it (fast, fully isolated)."""
    dsn = asyncio.run(build_template(postgres_admin_dsn))
    yield dsn
    asyncio.run(drop_template(postgres_admin_dsn))


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


@pytest.fixture
def private_postgres(tmp_path):
    """A PostgreSQL server of the test's own, for taking the database away and bringing it
    back (stopping the shared one would break every other test): (the server, its DSN)."""
    embedded = EmbeddedPostgres(tmp_path / "pg")
    dsn = embedded.start()
    yield embedded, dsn
    embedded.stop()


@pytest.fixture
def artifacts_dir() -> Path:
    path = ROOT / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


# -- the simulators --------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def simulator():
    """The five provider simulators on a real uvicorn, fast by default; reset per test."""
    from providers.simulators.app import create_app as create_simulator
    from providers.simulators.knobs import Knobs, SimulatorConfig

    server = ServerThread(
        create_simulator(
            SimulatorConfig(defaults=Knobs(tokens=12, ttft=20, gap=5), record_requests=True)
        )
    ).start()
    yield server
    server.stop()


@pytest.fixture
def sim(simulator) -> SimulatorClient:
    """The session's simulator with its counters and request log zeroed."""
    return SimulatorClient(simulator.url).reset()


@pytest.fixture
def redis_server(tmp_path):
    """A Redis server of the test's own (Debian's redis-server)."""
    from tests.support.cluster import RedisServer

    redis = RedisServer(tmp_path).start()
    try:
        yield redis
    finally:
        redis.stop()


@pytest.fixture
def gateway_pair(tmp_path, database_url, sim, redis_server):
    """Two gateway processes with their default settings (a 5-minute stream retention),
    sharing the test's database and Redis."""
    from tests.support.gateway_process import GatewayProcess

    env = {"DATABASE_URL": database_url, "SIMULATOR_URL": sim.url, "REDIS_URL": redis_server.url}
    gateways = [GatewayProcess(tmp_path, env) for _ in range(2)]
    try:
        yield [gateway.wait_ready() for gateway in gateways]
    finally:
        for gateway in gateways:
            gateway.stop()


# -- gateways --------------------------------------------------------------------------------------


@pytest.fixture
def gateway(database_url: str):
    """A real gateway on uvicorn, on a fresh database, with no reachable provider."""
    from gateway.app import create_app

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


@pytest.fixture
def gateways(database_url, sim):
    """Start gateways on the test's database and the simulator (``gateways.start(**settings)``);
    every one is stopped at the end."""
    from tests.support.turn_helpers import Gateways

    started = Gateways(database_url, sim.url)
    yield started
    started.stop_all()


@pytest.fixture
async def keyed_gateway(database_url, sim):
    """A gateway with two ordinary client keys, alice's and bob's (and an admin key), made
    before it starts, taking no suite key: (the server, {name: key})."""
    from tests.support.keys import make_keys, start_keyed_gateway

    keys = await make_keys(database_url, "alice", "bob")
    server = start_keyed_gateway(database_url, sim.url)
    yield server, keys
    server.stop()


@pytest.fixture
def processes(tmp_path):
    """Start gateways as their own processes (``python -m gateway serve``); all are stopped
    at the end, whatever state they are in."""
    from tests.support.gateway_process import GatewayProcess

    started: list[GatewayProcess] = []

    def start(env: dict[str, str], **options) -> GatewayProcess:
        process = GatewayProcess(tmp_path, env, **options)
        started.append(process)
        return process.wait_ready()

    yield start
    for process in started:
        process.stop()


@pytest.fixture
def cluster(tmp_path, database_url, sim):
    """Redis, three gateway processes on the test's database and the simulator, nginx in front."""
    from tests.support.cluster import Cluster

    running = Cluster(
        tmp_path,
        database_url,
        sim.url,
        # Shorter than the defaults (5 s, 15 s), but not so short that a reconnect which takes
        # a while to be counted on a busy machine (3 gateways, nginx, Redis, PostgreSQL and the
        # test on 2 cores) loses its turn: at 0.5 s the cut-and-resume test lost one now and
        # then in full fresh-clone runs, never alone.
        DISCONNECT_GRACE="2",
        # A finished turn keeps its deltas for max(grace, 2 retries) before only its dones
        # remain (as in the database's replay): the cut-and-resume clients must be done by
        # then, which 20 of them reconnecting ten times each through nginx were not always
        # on a loaded machine (a "gap" from the compacted log, not from the bus).
        RETRY_MS="10000",
        FIRST_LISTENER_TIMEOUT="3",
        TURN_LEASE="3",
        CHECKPOINT_INTERVAL="0.2",
    )
    try:
        yield running.start()
    finally:
        running.stop()
