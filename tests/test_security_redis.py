"""The live event bus behind a password (#20, point 6, the part of it that is not the bus's
own): two gateway processes share a turn through a Redis started with ``--requirepass``; a
gateway with the wrong password does not start, and no password reaches a log."""

from __future__ import annotations

import httpx
import pytest

from tests.support.cluster import RedisServer
from tests.support.gateway_process import GatewayProcess
from tests.support.sse_client import iter_events
from tests.support.turn_helpers import API

FAST = "+tokens=8,gap=5"
pytestmark = pytest.mark.cluster  # a Redis server of its own


class PasswordRedis(RedisServer):
    def __init__(self, tmp_path, password: str) -> None:
        super().__init__(tmp_path)
        self.password = password
        self.url = f"redis://:{password}@127.0.0.1:{self.port}/0"

    def start(self) -> PasswordRedis:
        self.run(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir), "--requirepass", self.password]
        )  # fmt: skip
        return self


async def test_gateways_share_live_turns_through_a_redis_with_a_password(
    processes, database_url, sim, tmp_path
):
    password = "redis-" + "p" * 32
    redis = PasswordRedis(tmp_path, password).start()
    try:
        env = {"DATABASE_URL": database_url, "SIMULATOR_URL": sim.url, "REDIS_URL": redis.url}
        owner, other = processes(env), processes(env)
        async with httpx.AsyncClient(timeout=30) as client:
            body = {"prompt": "across", "models": [f"claude:claude-sonnet-5{FAST}"]}
            created = await client.post(f"{owner.url}{API}/turns", json=body)
            assert created.status_code == 201, created.text
            # The events, read from the other gateway, came to it through Redis.
            async with client.stream("GET", f"{other.url}{created.json()['events_url']}") as r:
                assert r.status_code == 200
                names = [event.name async for event in iter_events(r)]
        assert names[0] == "turn" and names[-1] == "end" and "delta" in names
        for gateway in (owner, other):
            assert password not in gateway.output()
    finally:
        redis.stop()
    # Without the password, a gateway does not start (and says nothing of the password).
    wrong = redis.url.replace(password, "wrong-password")
    redis.start()
    refused = None
    try:
        refused = GatewayProcess(tmp_path, {**env, "REDIS_URL": wrong})
        with pytest.raises(RuntimeError, match="exited at start-up"):
            refused.wait_ready(within=60)
        assert password not in refused.output() and "wrong-password" not in refused.output()
    finally:
        if refused is not None:
            refused.stop()
        redis.stop()
