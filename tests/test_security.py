"""Client keys, ownership, EventSource tokens, CSRF and Host checks, per-key limits (#11, #20).

One gateway with two ordinary keys, alice's and bob's (an admin key made first, as a real
install has one). Alice's conversation and turns answer 404 to bob (no existence leak) and 401
with no key or a wrong one, on every endpoint. These gateways take no suite key
(tests/support/credentials.py): a request without a header here has no credentials at all.
"""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys

import asyncpg
import httpx
import pytest

from tests.support.keys import bearer, expired_token, make_keys, start_keyed_gateway
from tests.support.sse_client import iter_events
from tests.support.turn_helpers import API, eventually, rows

FAST = "+tokens=8,gap=1"
SLOW = "+tokens=400,gap=25"


@pytest.fixture
async def keyed(database_url, sim):
    keys = await make_keys(database_url, "alice", "bob")
    server = start_keyed_gateway(database_url, sim.url)
    yield server, keys
    server.stop()


async def alices_things(client: httpx.AsyncClient, key: str) -> dict:
    """A conversation with a finished turn, and a second turn, all alice's."""
    headers = bearer(key)
    body = {"prompt": "mine", "models": [f"claude:claude-sonnet-5{FAST}"]}
    chat = (await client.post(f"{API}/chat/", json=body, headers=headers)).json()
    other = (await client.post(f"{API}/chat/", json=body, headers=headers)).json()
    return {
        "conversation": chat["conversation_id"],
        "turn": chat["turn_id"],
        "other_turn": other["turn_id"],
    }


def cases(things: dict) -> list[tuple[str, str, dict | None, int]]:
    """(method, path, json body, the owner's status)."""
    c, t = things["conversation"], things["turn"]
    chat = {"prompt": "more", "conversation_id": c, "models": [f"claude:claude-sonnet-5{FAST}"]}
    return [
        ("GET", f"{API}/conversations/{c}", None, 200),
        ("PATCH", f"{API}/conversations/{c}", {"title": "renamed"}, 200),
        ("POST", f"{API}/chat/", chat, 200),
        ("POST", f"{API}/chat/stream", chat, 200),
        ("POST", f"{API}/turns", chat, 201),
        ("GET", f"{API}/turns/{t}", None, 200),
        ("GET", f"{API}/turns/{t}/events", None, 200),
        ("POST", f"{API}/turns/{t}/cancel", {}, 200),
        ("DELETE", f"{API}/conversations/{c}", None, 204),  # last: it takes the rest with it
    ]


async def test_every_endpoint_for_no_key_a_wrong_key_another_key_and_the_owner(keyed):
    server, keys = keyed
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        things = await alices_things(client, keys["alice"])
        wrong = keys["alice"][:-4] + "abcd"
        for method, path, body, owners in cases(things):
            for who, key, expected in (
                ("no key", None, 401),
                ("wrong key", wrong, 401),
                ("revoked-looking garbage", "mck_" + "x" * 43, 401),
                ("another user's key", keys["bob"], 404),
                ("the owner's key", keys["alice"], owners),
            ):
                response = await client.request(method, path, json=body, headers=bearer(key))
                await response.aread()
                assert response.status_code == expected, (method, path, who, response.text)
                if expected == 401:
                    assert response.headers["www-authenticate"].startswith("Bearer")
                    assert response.json()["error"]["type"] == "unauthorized"

        # Lists: each key sees its own (alice's second turn has a conversation of its own),
        # and no count leaks another's.
        for key, expected_total in ((keys["bob"], 0), (keys["alice"], 1)):
            listing = await client.get(f"{API}/conversations/", headers=bearer(key))
            assert listing.status_code == 200
            assert listing.headers["x-total-count"] == str(expected_total)
        assert (await client.get(f"{API}/conversations/")).status_code == 401
        for key, expected in ((None, 401), (keys["bob"], 200)):
            assert (
                await client.get(f"{API}/providers", headers=bearer(key))
            ).status_code == expected
        # What anyone may read: liveness, the sign-in state, the page, the API documents.
        for path in (f"{API}/health", f"{API}/session", "/", f"{API}/openapi.json"):
            assert (await client.get(path)).status_code == 200, path


async def test_a_conversation_of_another_key_cannot_be_continued(keyed, sim):
    server, keys = keyed
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        things = await alices_things(client, keys["alice"])
        sim_before = sum(s["requests"] for s in sim.stats().values())
        body = {"prompt": "steal", "conversation_id": things["conversation"], "models": ["claude"]}
        response = await client.post(f"{API}/chat/", json=body, headers=bearer(keys["bob"]))
        assert response.status_code == 404
        assert sum(s["requests"] for s in sim.stats().values()) == sim_before, "no provider call"


async def test_the_events_url_token_opens_that_turn_only_and_only_while_valid(keyed, database_url):
    server, keys = keyed
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        body = {"prompt": "stream me", "models": [f"claude:claude-sonnet-5{FAST}"]}
        created = await client.post(f"{API}/turns", json=body, headers=bearer(keys["alice"]))
        assert created.status_code == 201
        one = created.json()
        other = (await client.post(f"{API}/turns", json=body, headers=bearer(keys["alice"]))).json()
        url = one["events_url"]
        assert "?token=" in url and keys["alice"] not in url

        # No Authorization header, as an EventSource: the token is enough, with resume.
        async with client.stream("GET", url) as response:
            assert response.status_code == 200
            events = [e async for e in iter_events(response)]
        assert events[0].name == "turn" and events[-1].name == "end"
        resumed = await client.get(url, headers={"last-event-id": str(events[1].id)})
        assert resumed.status_code == 200 and "event: end" in resumed.text

        token = url.split("token=")[1]
        # One signature character changed, well before the end: the last base64 character
        # carries padding bits, so changing the last two could leave the signature as it was
        # (once in a few hundred runs, when the second last was already "x").
        swapped = "B" if token[-5] == "A" else "A"
        tampered = f"{token[:-5]}{swapped}{token[-4:]}"
        bad = {
            "tampered": f"{API}/turns/{one['turn_id']}/events?token={tampered}",
            "for another turn": f"{API}/turns/{other['turn_id']}/events?token={token}",
        }
        (secret,) = await rows(database_url, "SELECT value FROM gateway_secrets")
        (alice,) = await rows(database_url, "SELECT id FROM client_keys WHERE name = 'alice'")
        old = expired_token(bytes(secret["value"]), one["turn_id"], alice["id"])
        bad["expired"] = f"{API}/turns/{one['turn_id']}/events?token={old}"
        for what, bad_url in bad.items():
            response = await client.get(bad_url)
            assert response.status_code == 401, what
        # A token opens the stream only: not the turn's state, not its cancel.
        assert (await client.get(f"{API}/turns/{one['turn_id']}?token={token}")).status_code == 401


async def test_the_page_session_cookie(keyed):
    server, keys = keyed
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        state = (await client.get(f"{API}/session")).json()
        assert state == {"auth": "keys", "signed_in": False, "key_name": None, "admin": False}
        wrong = await client.post(f"{API}/session", json={"key": "mck_nope"})
        assert wrong.status_code == 401
        signed = await client.post(f"{API}/session", json={"key": keys["alice"]})
        assert signed.status_code == 200
        cookie = signed.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert keys["alice"] not in signed.headers["set-cookie"]
        assert (await client.get(f"{API}/session")).json()["key_name"] == "alice"
        # The cookie authenticates calls and streams, as the page's EventSource needs.
        body = {"prompt": "cookie", "models": [f"claude:claude-sonnet-5{FAST}"]}
        created = await client.post(f"{API}/turns", json=body)
        assert created.status_code == 201
        turn_id = created.json()["turn_id"]
        async with client.stream("GET", f"{API}/turns/{turn_id}/events") as response:
            assert response.status_code == 200
            assert [e async for e in iter_events(response)][-1].name == "end"
        cookie_header = {"cookie": f"multichat_session={client.cookies['multichat_session']}"}
        assert (await client.delete(f"{API}/session")).status_code == 204
        assert (await client.get(f"{API}/conversations/")).status_code == 401
        # Signing out ended the session on the server: the cookie, kept by someone, is dead.
        replayed = await client.get(f"{API}/conversations/", headers=cookie_header)
        assert replayed.status_code == 401
        state = (await client.get(f"{API}/session", headers=cookie_header)).json()
        assert state["signed_in"] is False


async def test_cross_site_requests_and_rebinding_hosts_are_refused(keyed, sim):
    server, keys = keyed
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        headers = {**bearer(keys["alice"]), "origin": "https://evil.example"}
        body = {"prompt": "csrf", "models": ["claude"]}
        for path in (f"{API}/chat/", f"{API}/chat/stream", f"{API}/turns", f"{API}/conversations/"):
            response = await client.post(path, json=body, headers=headers)
            assert response.status_code == 403, path
            assert response.json()["error"]["type"] == "forbidden_origin"
        plain = await client.post(
            f"{API}/chat/", content=b'{"prompt":"x"}', headers={"content-type": "text/plain"}
        )
        assert plain.status_code in (401, 415)
        own_origin = await client.post(
            f"{API}/conversations/",
            json={},
            headers={**bearer(keys["alice"]), "origin": server.url},
        )
        assert own_origin.status_code == 201
        rebound = await client.get(f"{API}/health", headers={"host": "attacker.example"})
        assert rebound.status_code == 421
    assert sum(s["requests"] for s in sim.stats().values()) == 0, "no turn started"


async def test_cors_preflight_from_an_allowed_origin(database_url, sim):
    keys = await make_keys(database_url, "alice")
    server = start_keyed_gateway(database_url, sim.url, cors_origins=["https://app.example"])
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as client:
            preflight = await client.options(
                f"{API}/turns",
                headers={
                    "origin": "https://app.example",
                    "access-control-request-method": "POST",
                    "access-control-request-headers": "authorization, content-type",
                },
            )
            assert preflight.status_code == 200
            assert preflight.headers["access-control-allow-origin"] == "https://app.example"
            allowed = preflight.headers["access-control-allow-headers"].lower()
            assert "authorization" in allowed and "content-type" in allowed
            denied = await client.options(
                f"{API}/turns",
                headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
            )
            assert "access-control-allow-origin" not in denied.headers
            posted = await client.post(
                f"{API}/conversations/",
                json={},
                headers={"origin": "https://app.example", **bearer(keys["alice"])},
            )
            assert posted.status_code == 201
            assert posted.headers["access-control-allow-origin"] == "https://app.example"
    finally:
        server.stop()


async def test_per_key_limits(database_url, sim):
    keys = await make_keys(database_url, "alice", "bob")
    server = start_keyed_gateway(
        database_url, sim.url, key_turns_per_minute=3, key_max_concurrent_turns=1
    )
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            slow = {"prompt": "slow", "models": [f"claude:claude-sonnet-5{SLOW}"]}
            first = await client.post(f"{API}/turns", json=slow, headers=bearer(keys["alice"]))
            assert first.status_code == 201
            busy = await client.post(f"{API}/turns", json=slow, headers=bearer(keys["alice"]))
            assert busy.status_code == 429 and int(busy.headers["retry-after"]) >= 1
            # Bob is not held to alice's limit.
            assert (
                await client.post(f"{API}/turns", json=slow, headers=bearer(keys["bob"]))
            ).status_code == 201
            turn_id = first.json()["turn_id"]
            cancel = f"{API}/turns/{turn_id}/cancel"
            assert (await client.post(cancel, headers=bearer(keys["alice"]))).status_code == 200

            async def ended() -> bool:
                state = await client.get(f"{API}/turns/{turn_id}", headers=bearer(keys["alice"]))
                return state.json()["status"] == "finished"

            await eventually(ended)
            fast = {"prompt": "fast", "models": [f"claude:claude-sonnet-5{FAST}"]}
            for _ in range(2):  # the 2nd and 3rd turn of the minute
                response = await client.post(
                    f"{API}/chat/", json=fast, headers=bearer(keys["alice"])
                )
                assert response.status_code == 200
            over = await client.post(f"{API}/chat/", json=fast, headers=bearer(keys["alice"]))
            assert over.status_code == 429 and 1 <= int(over.headers["retry-after"]) <= 60
    finally:
        server.stop()


async def test_keys_never_appear_in_logs_errors_or_events(keyed, caplog):
    server, keys = keyed
    caplog.set_level(logging.DEBUG)
    seen = []
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        for key in (keys["alice"], keys["alice"] + "x", "mck_" + keys["alice"][4:]):
            for path in (f"{API}/conversations/", f"{API}/providers"):
                seen.append((await client.get(path, headers=bearer(key))).text)
        body = {"prompt": "hello", "models": [f"claude:claude-sonnet-5{FAST}"]}
        async with client.stream(
            "POST", f"{API}/chat/stream", json=body, headers=bearer(keys["alice"])
        ) as response:
            seen.append((await response.aread()).decode())
        seen.append((await client.post(f"{API}/session", json={"key": keys["bob"] + "!"})).text)
    everything = "\n".join(seen) + caplog.text
    for key in keys.values():
        assert key not in everything and key[4:20] not in everything


async def test_no_address_is_trusted_without_credentials(database_url, sim):
    """No loopback exception: a same-host forwarder makes every remote client a loopback
    peer, so a loopback peer is nobody in particular (and even with no key in the database,
    where the gateway used to be open to it)."""
    server = start_keyed_gateway(database_url, sim.url)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            for method, path in (
                ("GET", f"{API}/conversations/"),
                ("GET", f"{API}/providers"),
                ("GET", "/metrics"),
                ("POST", f"{API}/chat/"),
            ):
                body = {"prompt": "free?", "models": ["claude"]} if method == "POST" else None
                response = await client.request(method, path, json=body)
                assert response.status_code == 401, (method, path)
            for host in ("localhost", "127.0.0.1"):
                refused = await client.get(f"{API}/conversations/", headers={"host": host})
                assert refused.status_code == 401
            state = (await client.get(f"{API}/session")).json()
            assert state["auth"] == "keys" and not state["signed_in"]
        assert sum(s["requests"] for s in sim.stats().values()) == 0, "no provider was called"
    finally:
        server.stop()


async def test_revoking_every_key_does_not_open_the_gateway(keyed, database_url):
    server, keys = keyed
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        providers = f"{API}/providers"
        assert (await client.get(providers, headers=bearer(keys["alice"]))).status_code == 200
        await rows(database_url, "UPDATE client_keys SET revoked_at = now()")
        for headers in (bearer(keys["alice"]), {}):

            async def refused(headers=headers) -> bool:
                return (await client.get(providers, headers=headers)).status_code == 401

            assert await eventually(refused, within=20)


async def test_keys_cli_create_list_revoke(tmp_path, database_url):
    import os

    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(tmp_path)}

    def multichat(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "gateway", "keys", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    created = multichat("create", "--name", "carol")
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()  # alone on stdout: export MULTICHAT_KEY=$(multichat keys create …)
    assert key.startswith("mck_") and len(key) > 40 and "\n" not in key
    assert "admin" in created.stderr, "the first key of a database is an admin"
    second = multichat("create", "--name", "dave")
    assert second.returncode == 0 and "admin" not in second.stderr
    assert multichat("create", "--name", "erin", "--admin").returncode == 0
    assert multichat("create", "--name", "carol").returncode == 2, "one live key per name"
    listing = multichat("list")
    assert "carol" in listing.stdout and key not in listing.stdout and key[:10] in listing.stdout
    roles = {line.split()[1]: line.split()[3] for line in listing.stdout.splitlines()}
    assert roles == {"carol": "admin", "dave": "-", "erin": "admin"}
    stored = await rows(database_url, "SELECT key_hash FROM client_keys WHERE name = 'carol'")
    assert key.encode() not in bytes(stored[0]["key_hash"]), "only a hash is stored"
    assert multichat("revoke", "carol").returncode == 0
    assert "revoked" in multichat("list").stdout
    assert multichat("revoke", "carol").returncode == 2
    connection = await asyncpg.connect(database_url)
    await connection.close()


async def test_gateways_starting_together_all_get_the_one_signing_secret(database_url):
    """Each gateway asks for the shared secret at start; the first stores its candidate. A
    gateway whose INSERT waited on the winner's must still get the winner's secret, not NULL
    (the statement's snapshot predates the winner's commit): it once crashed a cluster start."""
    from storage.sql import Q

    connections = [await asyncpg.connect(database_url) for _ in range(12)]
    try:
        for attempt in range(5):
            name = f"race-{attempt}"
            secrets_got = await asyncio.gather(
                *(
                    Q.shared_secret.fetchval(c, name=name, candidate=bytes([n]) * 32)
                    for n, c in enumerate(connections)
                )
            )
            assert None not in secrets_got
            assert len(set(secrets_got)) == 1
    finally:
        for connection in connections:
            await connection.close()
