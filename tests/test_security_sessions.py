"""Sessions, revocation and roles across gateway processes (#20, points 1, 4 and 7).

Two ``multichat serve`` processes on one database, no Redis: signing out on one ends the
session on the other; revoking a key (by the CLI, a third process that only writes the
database) ends its sessions, its events_url tokens and its running turns on both, the turns
stored ``cancelled`` and their streams ended with ``done``s and ``end``.
"""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from gateway.auth import FIRST_KEY_FILE
from tests.support.keys import (
    announced,
    bearer,
    make_keys,
    no_suite_key_environment,
    printed_sign_in,
)
from tests.support.sse_client import Stream, iter_events
from tests.support.turn_helpers import API, answers, eventually, rows

LONG = "+tokens=2000,gap=25"  # fifty seconds of answer: a cancelled one was cut, not finished


def multichat(tmp_path: Path, database_url: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": database_url, "DATA_DIR": str(tmp_path / "cli")}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def status(client: httpx.AsyncClient, path: str, wanted: int, **headers: str) -> int:
    """The status of GET path once it is ``wanted`` (a change takes a second to be heard
    everywhere), or the last one seen."""

    async def check() -> int | None:
        got = (await client.get(path, headers=headers)).status_code
        return got if got == wanted else None

    try:
        return await eventually(check, within=20)
    except AssertionError:
        return (await client.get(path, headers=headers)).status_code


async def read_to_end(response: httpx.Response, stream: Stream, started: asyncio.Event) -> None:
    async for event in iter_events(response, stream):
        if event.name == "delta":
            started.set()


async def test_sign_out_ends_the_session_on_every_process(processes, database_url, sim):
    keys = await make_keys(database_url, "alice")
    one, other = (processes(no_suite_key_environment(database_url, sim.url)) for _ in range(2))
    async with httpx.AsyncClient(timeout=30) as client:
        signed = await client.post(f"{one.url}{API}/session", json={"key": keys["alice"]})
        cookie = {"cookie": f"multichat_session={signed.cookies['multichat_session']}"}
        assert (await client.get(f"{other.url}{API}/providers", headers=cookie)).status_code == 200
        ended = await client.delete(f"{one.url}{API}/session", headers=cookie)
        assert ended.status_code == 204
        assert await status(client, f"{one.url}{API}/providers", 401, **cookie) == 401
        assert await status(client, f"{other.url}{API}/providers", 401, **cookie) == 401


async def test_revoking_a_key_ends_its_sessions_tokens_and_turns_everywhere(
    processes, database_url, sim, tmp_path
):
    keys = await make_keys(database_url, "alice", "bob")
    one, other = (processes(no_suite_key_environment(database_url, sim.url)) for _ in range(2))
    body = {"prompt": "a long one", "models": [f"claude:claude-sonnet-5{LONG}", f"gemini:g{LONG}"]}
    async with httpx.AsyncClient(timeout=60) as client:
        # On one: a turn by bearer, its stream opened by the events_url token (EventSource).
        created = await client.post(
            f"{one.url}{API}/turns", json=body, headers=bearer(keys["alice"])
        )
        assert created.status_code == 201
        turn = created.json()
        # On the other: a session, and a streamed chat on it.
        signed = await client.post(f"{other.url}{API}/session", json={"key": keys["alice"]})
        cookie = {"cookie": f"multichat_session={signed.cookies['multichat_session']}"}
        client.cookies.clear()
        streams = [Stream(), Stream()]
        started = [asyncio.Event(), asyncio.Event()]
        responses = [
            await client.send(
                client.build_request("GET", f"{one.url}{turn['events_url']}"), stream=True
            ),
            await client.send(
                client.build_request(
                    "POST", f"{other.url}{API}/chat/stream", json=body, headers=cookie
                ),
                stream=True,
            ),
        ]
        readers = [
            asyncio.create_task(read_to_end(r, s, e))
            for r, s, e in zip(responses, streams, started, strict=True)
        ]
        try:
            for event in started:
                await asyncio.wait_for(event.wait(), 30)
            # bob's turn, on the same process, is not alice's business.
            bobs = await client.post(
                f"{one.url}{API}/turns", json=body, headers=bearer(keys["bob"])
            )
            revoked = await asyncio.to_thread(
                multichat, tmp_path, database_url, "keys", "revoke", "alice"
            )
            assert revoked.returncode == 0, revoked.stderr
            await asyncio.wait_for(asyncio.gather(*readers), 30)
        finally:
            for reader in readers:
                reader.cancel()
            for response in responses:
                await response.aclose()
        for stream in streams:
            assert stream.events[-1].name == "end"
            dones = stream.named("done")
            assert len(dones) == 2 and {d.data["status"] for d in dones} == {"cancelled"}
        chat_turn = streams[1].events[0].data["turn_id"]
        for turn_id in (turn["turn_id"], chat_turn):
            stored = await answers(database_url, turn_id)
            assert {row["status"] for row in stored.values()} == {"cancelled"}
        # Nothing of alice's opens any more, on either process.
        for base in (one.url, other.url):
            assert (
                await status(client, f"{base}{API}/providers", 401, **bearer(keys["alice"])) == 401
            )
            assert await status(client, f"{base}{API}/providers", 401, **cookie) == 401
            token_stream = await client.get(f"{base}{turn['events_url']}")
            assert token_stream.status_code == 401
        # bob's turn runs on.
        state = await client.get(
            f"{one.url}{API}/turns/{bobs.json()['turn_id']}", headers=bearer(keys["bob"])
        )
        assert state.json()["status"] == "running"
        await client.post(
            f"{one.url}{API}/turns/{bobs.json()['turn_id']}/cancel", headers=bearer(keys["bob"])
        )


async def test_every_session_cookie_of_the_name_is_read(keyed_gateway):
    """Cookies ignore ports: another app on this host can plant one of the same name. A
    planted bad one does not hide ours; two live sessions are refused (one was planted)."""
    server, keys = keyed_gateway
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        sessions = {}
        for name in ("alice", "bob"):
            signed = await client.post(f"{API}/session", json={"key": keys[name]})
            sessions[name] = signed.cookies["multichat_session"]
            client.cookies.clear()
        planted = f"multichat_session=planted-by-another-app; multichat_session={sessions['alice']}"
        response = await client.get(f"{API}/conversations/", headers={"cookie": planted})
        assert response.status_code == 200
        both = f"multichat_session={sessions['bob']}; multichat_session={sessions['alice']}"
        refused = await client.get(f"{API}/conversations/", headers={"cookie": both})
        assert refused.status_code == 401
        assert "more than one session" in refused.json()["error"]["message"]


async def test_admin_keys_manage_keys_and_read_metrics_ordinary_keys_their_own(keyed_gateway):
    server, keys = keyed_gateway
    admin, alice = bearer(keys["admin"]), bearer(keys["alice"])
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        for method, path, body in (
            ("GET", f"{API}/keys", None),
            ("POST", f"{API}/keys", {"name": "mallory"}),
            ("DELETE", f"{API}/keys/1", None),
            ("GET", "/metrics", None),
        ):
            refused = await client.request(method, path, json=body, headers=alice)
            assert refused.status_code == 403, (method, path)
        listing = (await client.get(f"{API}/keys", headers=admin)).json()
        assert [(k["name"], k["admin"]) for k in listing] == [
            ("operator", True),
            ("alice", False),
            ("bob", False),
        ]
        assert all("key" not in k and "key_hash" not in k for k in listing)
        made = await client.post(f"{API}/keys", json={"name": "carol"}, headers=admin)
        assert made.status_code == 201 and made.json()["key"].startswith("mck_")
        carol = bearer(made.json()["key"])
        assert (await client.get(f"{API}/conversations/", headers=carol)).status_code == 200
        taken = await client.post(f"{API}/keys", json={"name": "carol"}, headers=admin)
        assert taken.status_code == 409
        gone = await client.delete(f"{API}/keys/{made.json()['id']}", headers=admin)
        assert gone.status_code == 204
        # At once on the process that revoked it.
        assert (await client.get(f"{API}/conversations/", headers=carol)).status_code == 401
        again = await client.delete(f"{API}/keys/{made.json()['id']}", headers=admin)
        assert again.status_code == 404
        assert (await client.get("/metrics", headers=admin)).status_code == 200
        state = (await client.get(f"{API}/session", headers=admin)).json()
        assert state == {"auth": "keys", "signed_in": True, "key_name": "operator", "admin": True}


def test_a_short_multichat_key_stops_start_up_with_one_line(tmp_path, database_url):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DATA_DIR": str(tmp_path),
        "MULTICHAT_KEY": "too-short",
    }
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "MULTICHAT_KEY" in lines[0] and "32" in lines[0], done.stderr
    assert "too-short" not in done.stderr


async def test_multichat_key_is_an_admin_key_and_a_new_value_keeps_its_data(
    processes, database_url, sim
):
    first_value, second_value = "a" * 20 + "-environment-key-1", "b" * 20 + "-environment-key-2"
    gateway = processes(no_suite_key_environment(database_url, sim.url, MULTICHAT_KEY=first_value))
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        made = await client.post(
            f"{API}/conversations/", json={"title": "kept"}, headers=bearer(first_value)
        )
        assert made.status_code == 201
        listing = await client.get(f"{API}/keys", headers=bearer(first_value))
        (environment_key,) = [k for k in listing.json() if k["origin"] == "environment"]
        # It changes with its variable, not over HTTP (revoked, it would stop the gateways).
        refused = await client.delete(
            f"{API}/keys/{environment_key['id']}", headers=bearer(first_value)
        )
        assert refused.status_code == 409
    gateway.stop()
    assert "#key=" not in gateway.output(), "no first key while MULTICHAT_KEY is set"
    gateway = processes(no_suite_key_environment(database_url, sim.url, MULTICHAT_KEY=second_value))
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        assert (
            await client.get(f"{API}/conversations/", headers=bearer(first_value))
        ).status_code == 401
        mine = await client.get(f"{API}/conversations/", headers=bearer(second_value))
        assert [c["title"] for c in mine.json()] == ["kept"]
    keys = await rows(
        database_url, "SELECT origin, admin FROM client_keys WHERE revoked_at IS NULL"
    )
    assert [(k["origin"], k["admin"]) for k in keys] == [("environment", True)]
    stored = await rows(database_url, "SELECT key_hash FROM client_keys")
    assert all(second_value.encode() not in bytes(r["key_hash"]) for r in stored)


async def test_a_fresh_install_makes_a_first_key_and_prints_where_to_sign_in(
    processes, database_url, sim, tmp_path
):
    """No key, no MULTICHAT_KEY: the gateway makes an admin key, keeps it 0600 in DATA_DIR,
    prints the address that signs a browser in, and prints it again at every start until the
    key is revoked. Nothing is open meanwhile."""
    gateway = processes(no_suite_key_environment(database_url, sim.url))
    url, key = printed_sign_in(gateway)
    assert url == f"http://127.0.0.1:{gateway.port}/#key={key}"
    kept = tmp_path / "data" / FIRST_KEY_FILE
    assert kept.read_text().strip() == key
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        assert (await client.get(f"{API}/conversations/")).status_code == 401
        assert (await client.get(f"{API}/keys", headers=bearer(key))).status_code == 200
    gateway.stop()
    again = processes(no_suite_key_environment(database_url, sim.url))
    assert printed_sign_in(again) == (f"http://127.0.0.1:{again.port}/#key={key}", key)
    again.stop()
    # Once the operator has a key of their own and revokes the first, it is gone for good.
    assert multichat(tmp_path, database_url, "keys", "create", "--name", "me").returncode == 0
    assert multichat(tmp_path, database_url, "keys", "revoke", "first").returncode == 0
    later = announced(processes(no_suite_key_environment(database_url, sim.url)))
    assert "#key=" not in later and not kept.exists()
    assert "sign in with a client key" in later
