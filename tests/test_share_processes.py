"""Share links across gateway processes and restarts, and out of their logs (#25 item 3).

Links live in the database only (no process remembers one), so a link made on one process
opens on another, a revocation on one closes it on all at once, and a restart changes nothing.
The token is a credential: no access line, text or JSON, carries it.
"""

from __future__ import annotations

import asyncio

import httpx

from tests.support.gateway_process import GatewayProcess
from tests.support.keys import bearer, make_keys, no_suite_key_environment
from tests.support.turn_helpers import API

FAST = "+tokens=4,gap=1"
JSON = {"accept": "application/json"}


def started(tmp_path, database_url: str, sim_url: str, log_format: str) -> GatewayProcess:
    return GatewayProcess(
        tmp_path, no_suite_key_environment(database_url, sim_url, LOG_FORMAT=log_format)
    )


async def test_a_link_made_on_one_process_opens_on_another_and_after_a_restart(
    tmp_path, database_url, sim
):
    keys = await make_keys(database_url, "alice")
    alice = bearer(keys["alice"])
    one = started(tmp_path, database_url, sim.url, "text")
    two = started(tmp_path, database_url, sim.url, "json")
    again = None
    tokens = []
    try:
        await asyncio.gather(asyncio.to_thread(one.wait_ready), asyncio.to_thread(two.wait_ready))
        async with httpx.AsyncClient(timeout=30) as client:
            body = {"prompt": "share me", "models": [f"claude:claude-sonnet-5{FAST}"]}
            chat = await client.post(f"{one.url}{API}/chat/", json=body, headers=alice)
            assert chat.status_code == 200, chat.text
            share_path = f"{API}/conversations/{chat.json()['conversation_id']}/share"

            made = await client.post(f"{one.url}{share_path}", json={}, headers=alice)
            assert made.status_code == 201, made.text
            link = httpx.URL(made.json()["url"]).path
            tokens.append(link.rsplit("/", 1)[1])
            for gateway in (one, two):  # no key: the token alone
                assert (await client.get(f"{gateway.url}{link}", headers=JSON)).status_code == 200
                assert (await client.get(f"{gateway.url}{link}")).status_code == 200

            # Revoked on the other process: closed on both at once.
            assert (await client.delete(f"{two.url}{share_path}", headers=alice)).status_code == 204
            for gateway in (one, two):
                assert (await client.get(f"{gateway.url}{link}", headers=JSON)).status_code == 404

            kept = await client.post(f"{two.url}{share_path}", json={}, headers=alice)
            kept_link = httpx.URL(kept.json()["url"]).path
            tokens.append(kept_link.rsplit("/", 1)[1])
            one.stop()
            again = started(tmp_path, database_url, sim.url, "text")
            await asyncio.to_thread(again.wait_ready)
            view = await client.get(f"{again.url}{kept_link}", headers=JSON)
            assert view.status_code == 200, view.text
            assert view.json()["turns"][0]["prompt"] == "share me"
    finally:
        for process in (one, two, again):
            if process is not None:
                process.stop()
    outputs = {"text": one.output(), "json": two.output(), "restarted": again.output()}
    for name, output in outputs.items():
        for token in tokens:
            assert token[:16] not in output, f"a share token reached the {name} log"
    for name in ("text", "json"):  # the views were logged, without their tokens
        assert "/s/[redacted]" in outputs[name], outputs[name][-2000:]
