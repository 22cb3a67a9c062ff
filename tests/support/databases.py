"""Test databases on one PostgreSQL server: a template migrated once per session, cloned for
each test (fast, fully isolated), dropped afterwards."""

from __future__ import annotations

import os
import secrets
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from storage import migrate

# One template per test session (per pytest-xdist worker too): two sessions on one server (two
# checkouts, or a developer beside CI) must not drop each other's template.
TEMPLATE = f"multichat_test_template_{os.getpid()}"


def with_database(dsn: str, name: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path=f"/{name}"))


async def _admin(admin_dsn: str, sql: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(sql)
    finally:
        await admin.close()


async def build_template(admin_dsn: str) -> str:
    await _admin(admin_dsn, f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")
    await _admin(admin_dsn, f"CREATE DATABASE {TEMPLATE}")
    dsn = with_database(admin_dsn, TEMPLATE)
    await migrate(dsn)
    return dsn


async def drop_template(admin_dsn: str) -> None:
    await _admin(admin_dsn, f"DROP DATABASE IF EXISTS {TEMPLATE} WITH (FORCE)")


async def create_database(admin_dsn: str, template: str | None = None) -> str:
    name = f"multichat_test_{secrets.token_hex(6)}"
    suffix = f" TEMPLATE {template}" if template else ""
    await _admin(admin_dsn, f"CREATE DATABASE {name}{suffix}")
    return with_database(admin_dsn, name)


async def drop_database(admin_dsn: str, dsn: str) -> None:
    name = urlsplit(dsn).path.lstrip("/")
    await _admin(admin_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
