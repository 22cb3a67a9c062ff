"""``multichat``: serve, migrate, keys, simulate, loadtest, bench and locustfile."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from gateway.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="multichat", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the gateway")
    serve.add_argument("--host", help="overrides HOST")
    serve.add_argument("--port", type=int, help="overrides PORT")
    serve.add_argument("--workers", type=int, default=1)

    commands.add_parser("migrate", help="apply pending database migrations and exit")

    keys = commands.add_parser("keys", help="client API keys: create, list, revoke")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    create = key_commands.add_parser(
        "create", help="make a key; it is printed once, alone on stdout (export MULTICHAT_KEY=…)"
    )
    create.add_argument("--name", required=True, help="who or what the key is for")
    create.add_argument(
        "--admin", action="store_true", help="may manage keys and read /metrics (the first is)"
    )
    key_commands.add_parser("list", help="every key, live or revoked (never the keys)")
    revoke = key_commands.add_parser(
        "revoke", help="stop a key, its sessions and its running turns (within a second)"
    )
    revoke.add_argument("name", help="the key's name or id")

    simulate = commands.add_parser("simulate", help="serve the five provider simulators")
    simulate.add_argument("--host", default="127.0.0.1")
    simulate.add_argument("--port", type=int, default=8100)
    simulate.add_argument(
        "--several-ports", action="store_true", help="each API on its own port, from --port upwards"
    )
    simulate.add_argument("--tokens", type=int, help="answer length in tokens")
    simulate.add_argument("--ttft", type=float, help="ms before the first token")
    simulate.add_argument("--gap", type=float, help="ms between chunks")
    simulate.add_argument("--chunk", type=int, help="tokens per chunk")
    simulate.add_argument(
        "--record-requests",
        action="store_true",
        help="keep recent request bodies for GET /_sim/requests (off: it shows every prompt)",
    )

    # The flags only (stdlib): the tools themselves are imported when their command runs.
    from gateway.tools.arguments import add_bench_arguments, add_loadtest_arguments

    add_loadtest_arguments(
        commands.add_parser(
            "loadtest", help="streaming clients against a gateway, every stream checked"
        )
    )
    add_bench_arguments(
        commands.add_parser("bench", help="the streaming benchmark: direct vs through the gateway")
    )

    commands.add_parser(
        "locustfile",
        help='print the path of the shipped Locust file: locust -f "$(multichat locustfile)"',
    )

    args = parser.parse_args(argv)
    from gateway.observability import logs

    logs.configure(log_format_setting())  # text as always, or LOG_FORMAT=json
    try:
        if args.command in ("serve", "migrate", "keys"):
            wait_for_database_url()
        return COMMANDS[args.command](args)
    except SettingsError as error:
        print(f"multichat: {error}", file=sys.stderr)
        return 2


def log_format_setting() -> str:
    try:
        return load_settings().log_format
    except SettingsError:
        return "text"  # the command reports the bad setting itself


def wait_for_database_url() -> None:
    """With DATABASE_URL set, wait (up to DATABASE_WAIT) for it to answer before anything
    starts: an unreachable database is then one line naming the variable and exit status 2,
    like a bad setting, not a traceback from inside uvicorn's start-up."""
    settings = load_settings()
    if not settings.database_url:
        return
    from storage.database import DatabaseUnreachable, wait_for_database

    try:
        asyncio.run(wait_for_database(settings.database_url, settings.database_wait))
    except DatabaseUnreachable as error:
        raise SettingsError(
            f"cannot {error.verb} the database at DATABASE_URL ({error.url}): {error.reason}"
        ) from None


def run_serve(args: argparse.Namespace) -> int:
    from gateway.server import announce, raise_open_files_limit, run_workers, serve, serve_config

    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = load_settings(**overrides)
    if settings.auth == "off":
        logging.getLogger("multichat").warning(
            "AUTH=off: every request is trusted; only run this behind your own authentication"
        )
    if args.workers > 1 and not settings.redis_url:
        raise SettingsError(
            "--workers needs REDIS_URL: the workers share each turn's live events through"
            " Redis (run one, e.g. `redis-server`, or see docker-compose.yml)"
        )
    raise_open_files_limit()
    # json: every process (each worker too) logs JSON lines, and ours is the access line.
    logs = json_logging(settings.log_level) if settings.log_format == "json" else {}
    if args.workers > 1:
        # Each worker is its own process and builds its own app from the same environment;
        # the keys are seen to once here first, so the address to open can carry the first.
        announce(settings.host, settings.port, sign_in_key=first_key(settings))
        run_workers(serve_config("gateway.app:app", settings, args.workers, **logs))
        return 0
    from gateway.app import create_app

    started = serve(serve_config(create_app(settings), settings, **logs))
    return 0 if started else 3


def json_logging(level: str) -> dict:
    from gateway.observability.logs import json_log_config

    return {"log_config": json_log_config(level), "access_log": False}


def first_key(settings) -> str | None:
    """MULTICHAT_KEY and the first key seen to before the workers start (they find it done)."""
    if settings.auth == "off":
        return None
    from gateway.auth import prepare_keys

    async def prepare(pool):
        return (await prepare_keys(pool, settings)).sign_in_key

    return asyncio.run(with_database(settings, prepare))


async def with_database(settings, work):
    """Run ``work(pool)`` on a migrated database: DATABASE_URL's, or the embedded one."""
    from storage import EmbeddedPostgres, create_pool, migrate

    embedded = None
    dsn = settings.database_url
    if not dsn:
        embedded = EmbeddedPostgres(settings.data_dir)
        dsn = await asyncio.to_thread(embedded.start)
    try:
        await migrate(dsn)
        pool = await create_pool(dsn, min_size=1, max_size=2, command_timeout=10)
        try:
            return await work(pool)
        finally:
            await pool.close()
    finally:
        if embedded:
            embedded.stop()


def run_keys(args: argparse.Namespace) -> int:
    from gateway.auth import create_key
    from storage import Q

    async def create(pool) -> int:
        try:
            key, row = await create_key(pool, args.name, admin=args.admin)
        except Exception as error:  # the name is taken: asyncpg's UniqueViolationError
            if type(error).__name__ != "UniqueViolationError":
                raise
            raise SettingsError(f"a live key is already named {args.name!r}") from None
        role = "an admin key" if row["admin"] else "a key"
        print(
            f"created {role} ({row['id']}) for {row['name']!r}; it is shown only now,"
            " on stdout: export MULTICHAT_KEY=$(multichat keys create …) keeps it for curl",
            file=sys.stderr,
        )
        print(key)
        return 0

    async def listing(pool) -> int:
        for row in await Q.list_client_keys.fetch(pool):
            state = f"revoked {row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else "live"
            role = "admin" if row["admin"] else "-"
            print(f"{row['id']:>4}  {row['name']:<24} {row['prefix']}…  {role:<6} {state}")
        return 0

    async def revoke(pool) -> int:
        row = await Q.revoke_client_key.fetchrow(pool, name=args.name)
        if row is None:
            raise SettingsError(f"no live key named {args.name!r}")
        print(f"revoked key {row['id']} ({row['name']!r})")
        return 0

    work = {"create": create, "list": listing, "revoke": revoke}[args.keys_command]
    return asyncio.run(with_database(load_settings(), work))


def run_migrate(args: argparse.Namespace) -> int:
    from storage.embedded import EmbeddedPostgres
    from storage.migrate import migrate

    settings = load_settings()
    embedded = None
    dsn = settings.database_url
    if not dsn:
        embedded = EmbeddedPostgres(settings.data_dir)
        dsn = embedded.start()
    try:
        applied = asyncio.run(migrate(dsn))
    finally:
        if embedded:
            embedded.stop()
    print(
        f"applied {len(applied)} migration(s)"
        + "".join(f"\n  {m.version:04d}_{m.name}" for m in applied)
    )
    return 0


def run_simulate(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from providers.simulators.app import run, run_many
    from providers.simulators.knobs import Knobs, SimulatorConfig

    chosen = {
        k: getattr(args, k)
        for k in ("tokens", "ttft", "gap", "chunk")
        if getattr(args, k) is not None
    }
    # No pacing flags: each provider its own realistic pace (providers/simulators/profiles.py).
    config = SimulatorConfig(
        defaults=replace(Knobs(), **chosen) if chosen else None,
        record_requests=args.record_requests,
    )
    (run_many if args.several_ports else run)(args.host, args.port, config)
    return 0


def run_loadtest(args: argparse.Namespace) -> int:
    from gateway.tools import loadtest

    return loadtest.main(args)


def run_bench(args: argparse.Namespace) -> int:
    from gateway.tools import bench

    return bench.main(args)


def run_locustfile(args: argparse.Namespace) -> int:
    import importlib.util

    from gateway.tools.locust import LOCUSTFILE

    print(LOCUSTFILE)
    if importlib.util.find_spec("locust") is None:
        print("multichat: Locust is not installed: pip install -e '.[load]'", file=sys.stderr)
    return 0


COMMANDS = {
    "serve": run_serve,
    "keys": run_keys,
    "migrate": run_migrate,
    "simulate": run_simulate,
    "loadtest": run_loadtest,
    "bench": run_bench,
    "locustfile": run_locustfile,
}
