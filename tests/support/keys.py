"""Client keys for the tests of ownership and access (#11): made in the database before a
gateway starts, sent as a bearer header, and an EventSource token that has expired."""

from __future__ import annotations

import time

from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from gateway.keys import create_key
from storage import create_pool


async def make_keys(database_url: str, *names: str) -> dict[str, str]:
    pool = await create_pool(database_url, min_size=1, max_size=2, command_timeout=10)
    try:
        return {name: (await create_key(pool, name))[0] for name in names}
    finally:
        await pool.close()


def bearer(key: str | None) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"} if key else {}


def expired_token(secret: bytes, turn_id: str, key_id: int) -> str:
    class LongAgo(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 24 * 3600

    serializer = URLSafeTimedSerializer(secret, salt="multichat.turn-events", signer=LongAgo)
    return serializer.dumps({"t": turn_id, "k": key_id})
