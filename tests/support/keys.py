"""Client keys for the tests of ownership and access (#11, #20): made in the database before a
gateway starts (which takes no suite key, see credentials.py), sent as a bearer header, and an
EventSource token that has expired."""

from __future__ import annotations

import time
from typing import Any

from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from gateway.auth import create_key
from storage import create_pool
from tests.support.gateways import start_gateway
from tests.support.servers import ServerThread


async def make_keys(database_url: str, *names: str) -> dict[str, str]:
    """Ordinary keys of these names, and under "admin" the admin key made before them (the
    first key of a database is an admin, as the one a fresh install makes at start)."""
    pool = await create_pool(database_url, min_size=1, max_size=2, command_timeout=10)
    try:
        made = {"admin": (await create_key(pool, "operator"))[0]}
        return made | {name: (await create_key(pool, name))[0] for name in names}
    finally:
        await pool.close()


def start_keyed_gateway(database_url: str, simulator_url: str, **overrides: Any) -> ServerThread:
    """A gateway that takes no suite key: its requests carry only what a test gives them."""
    return start_gateway(database_url, simulator_url, multichat_key=None, **overrides)


def bearer(key: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"} if key else {}


def expired_token(secret: bytes, turn_id: str, key_id: int) -> str:
    class LongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 24 * 3600

    serializer = URLSafeTimedSerializer(secret, salt="multichat.turn-events", signer=LongAgo)
    return serializer.dumps({"t": turn_id, "k": key_id})


def no_suite_key_environment(database_url: str, sim_url: str, **more: str) -> dict[str, str]:
    """A ``multichat serve`` environment without the suite's key: only the keys a test makes
    (and, in a fresh database, the first key the gateway makes itself)."""
    return {"DATABASE_URL": database_url, "SIMULATOR_URL": sim_url, "MULTICHAT_KEY": "", **more}


def announced(gateway: Any, within: float = 30.0) -> str:
    """A gateway's output once it has said where to open the page: that line comes once the
    server listens, a moment after it may already answer."""
    deadline = time.monotonic() + within
    while "Open http" not in (output := gateway.output()) and time.monotonic() < deadline:
        time.sleep(0.02)
    return output


def printed_sign_in(gateway: Any) -> tuple[str, str]:
    """The address a gateway printed at start to sign a browser in, and the key in it."""
    (line,) = [line for line in announced(gateway).splitlines() if "#key=" in line]
    url = line.split("Open ", 1)[1].split()[0]
    return url, url.split("#key=", 1)[1]
