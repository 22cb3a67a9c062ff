"""Share links (#25 item 3, docs/sharing.md): a read-only view of a conversation, one turn or
the leaderboard, opened with no key; owner-only; revocable; expiring; costs, settings and
unvoted blind answers left out unless they may be shown; tokens stored hashed.

One gateway that takes no suite key, with alice's and bob's keys (tests/support/keys.py): a
request without a header here has no credentials at all, as a stranger given a link has none.
"""

from __future__ import annotations

import hashlib

import httpx
import pytest

from gateway.api.shared_view import SHARE_CONTENT_SECURITY_POLICY
from tests.support.arena_helpers import leaked_names
from tests.support.keys import bearer, make_keys, start_keyed_gateway
from tests.support.responses import assert_error
from tests.support.turn_helpers import API, eventually, rows

FAST = "+tokens=6,gap=1"
MODELS = [f"claude:claude-sonnet-5{FAST}", f"chatgpt:gpt-5.5{FAST}"]
JSON = {"accept": "application/json"}


@pytest.fixture
async def keyed(database_url, sim):
    keys = await make_keys(database_url, "alice", "bob")
    server = start_keyed_gateway(database_url, sim.url)
    yield server, keys
    server.stop()


@pytest.fixture
async def alice(keyed):
    server, keys = keyed
    async with httpx.AsyncClient(
        base_url=server.url, timeout=30, headers=bearer(keys["alice"])
    ) as client:
        yield client


@pytest.fixture
async def bob(keyed):
    server, keys = keyed
    async with httpx.AsyncClient(
        base_url=server.url, timeout=30, headers=bearer(keys["bob"])
    ) as client:
        yield client


@pytest.fixture
async def stranger(keyed):
    """No key, no cookie: what someone given the link has."""
    server, _ = keyed
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        yield client


async def chat(client: httpx.AsyncClient, prompt: str, **more) -> dict:
    response = await client.post(f"{API}/chat/", json={"prompt": prompt, "models": MODELS, **more})
    assert response.status_code == 200, response.text
    return response.json()


async def share(client: httpx.AsyncClient, conversation: int, **body) -> dict:
    response = await client.post(f"{API}/conversations/{conversation}/share", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def path_of(url: str) -> str:
    return httpx.URL(url).path


async def test_a_shared_conversation_opens_with_no_key_as_json_and_as_a_page(alice, stranger):
    first = await chat(alice, "first question")
    second = await chat(alice, "second question", conversation_id=first["conversation_id"])
    link = await share(alice, first["conversation_id"])
    assert link["url"].startswith(str(alice.base_url).rstrip("/") + "/s/")
    assert link["expires_at"] is None and link["kind"] == "conversation"
    token = link["url"].rsplit("/", 1)[1]
    assert len(token) == 43

    response = await stranger.get(path_of(link["url"]), headers=JSON)
    assert response.status_code == 200, response.text
    view = response.json()
    assert [t["prompt"] for t in view["turns"]] == ["first question", "second question"]
    for turn, asked in zip(view["turns"], (first, second), strict=True):
        got = {a["provider"]: a["content"] for a in turn["answers"]}
        assert got == {a["provider"]: a["content"] for a in asked["responses"]}
    # Nothing the owner did not choose to show, and no ids that lead anywhere.
    text = response.text
    for absent in ("cost_usd", "settings", "context_policy", "conversation_id", "turn_id"):
        assert f'"{absent}"' not in text, absent
    assert token not in text
    # Its own headers: noindex, a strict policy, never cached, no cookie set.
    assert response.headers["x-robots-tag"].startswith("noindex")
    assert response.headers["content-security-policy"] == SHARE_CONTENT_SECURITY_POLICY
    assert "form-action 'none'" in SHARE_CONTENT_SECURITY_POLICY
    assert response.headers["cache-control"] == "no-store"
    assert "set-cookie" not in response.headers

    page = await stranger.get(path_of(link["url"]))
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<meta name="robots" content="noindex' in page.text
    assert page.headers["content-security-policy"] == SHARE_CONTENT_SECURITY_POLICY
    assert page.headers["x-robots-tag"].startswith("noindex")
    assert "set-cookie" not in page.headers
    # The link opens its view and nothing else: the API still wants a key.
    assert (await stranger.get(f"{API}/conversations/")).status_code == 401
    conversation = f"{API}/conversations/{first['conversation_id']}"
    assert (await stranger.get(conversation)).status_code == 401


async def test_only_the_owner_shares_lists_and_revokes(alice, bob, stranger):
    mine = await chat(alice, "alice only")
    conversation = mine["conversation_id"]
    path = f"{API}/conversations/{conversation}/share"
    assert_error(await bob.post(path, json={}), 404)
    assert_error(await bob.get(path), 404)
    assert_error(await bob.delete(path), 404)
    assert_error(await stranger.post(path, json={}), 401)

    link = await share(alice, conversation)
    listed = (await alice.get(path)).json()
    assert [s["id"] for s in listed] == [link["id"]]
    assert "url" not in listed[0]
    assert (await bob.get(f"{API}/shares")).json() == []
    assert_error(await bob.delete(f"{API}/shares/{link['id']}"), 404)
    # Bob's attempts changed nothing: the link opens.
    assert (await stranger.get(path_of(link["url"]), headers=JSON)).status_code == 200


async def test_revoked_expired_deleted_and_unknown_links_all_answer_the_same_404(
    alice, stranger, keyed, database_url
):
    conversation = (await chat(alice, "short-lived"))["conversation_id"]
    links = [await share(alice, conversation) for _ in range(4)]
    unknown = path_of(links[0]["url"])[:-6] + "AAAAAA"
    answers = {}

    async def gone(name: str, path: str) -> None:
        json_answer = await stranger.get(path, headers=JSON)
        page = await stranger.get(path)
        assert (json_answer.status_code, page.status_code) == (404, 404), name
        assert page.headers["x-robots-tag"].startswith("noindex")
        answers[name] = (json_answer.json(), page.text)

    await gone("unknown", unknown)
    for bad in ("x", "A" * 42, "A" * 44, "%00" * 43, "." * 43, "A" * 5000):
        assert (await stranger.get(f"/s/{bad}", headers=JSON)).status_code == 404, bad

    # Revoked one by one, or all the conversation's at once.
    assert (await alice.delete(f"{API}/shares/{links[0]['id']}")).status_code == 204
    await gone("revoked", path_of(links[0]["url"]))
    assert (await stranger.get(path_of(links[1]["url"]), headers=JSON)).status_code == 200
    # Expired: its time set in the past, as a clock would have it (no waiting in a test).
    await rows(
        database_url, "UPDATE shares SET expires_at = now() - interval '1 s' WHERE id = $1",
        links[1]["id"],
    )  # fmt: skip
    await gone("expired", path_of(links[1]["url"]))
    assert (await alice.delete(f"{API}/conversations/{conversation}/share")).status_code == 204
    await gone("revoked with the conversation's", path_of(links[2]["url"]))
    assert (await alice.get(f"{API}/shares")).json() == []

    again = await share(alice, conversation, expires_in=3600)
    assert again["expires_at"] is not None
    assert (await alice.delete(f"{API}/conversations/{conversation}")).status_code == 204
    await gone("deleted", path_of(again["url"]))
    assert len({str(a) for a in answers.values()}) == 1, answers  # no oracle


async def test_a_revoked_keys_links_close_with_it(keyed, alice, stranger):
    server, keys = keyed
    link = await share(alice, (await chat(alice, "my key goes"))["conversation_id"])
    async with httpx.AsyncClient(base_url=server.url, headers=bearer(keys["admin"])) as admin:
        listed = (await admin.get(f"{API}/keys")).json()
        (alice_key,) = [k for k in listed if k["name"] == "alice"]
        assert (await admin.delete(f"{API}/keys/{alice_key['id']}")).status_code == 204
    assert (await stranger.get(path_of(link["url"]), headers=JSON)).status_code == 404


async def test_costs_and_settings_show_only_when_the_owner_chose(alice, stranger):
    asked = await chat(
        alice, "with settings", system="Answer briefly.", params={"temperature": 0.3}
    )
    conversation = asked["conversation_id"]
    plain = await share(alice, conversation)
    shown = await share(alice, conversation, show_costs=True, show_settings=True)
    assert shown["show_costs"] and shown["show_settings"]

    hidden = (await stranger.get(path_of(plain["url"]), headers=JSON)).json()
    assert "Answer briefly." not in str(hidden)
    assert all("cost_usd" not in a for a in hidden["turns"][0]["answers"])

    full = (await stranger.get(path_of(shown["url"]), headers=JSON)).json()
    (turn,) = full["turns"]
    assert turn["settings"]["system"] == "Answer briefly."
    assert turn["settings"]["params"]["temperature"] == 0.3
    assert full["context_policy"] == "isolated"
    assert all("cost_usd" in a for a in turn["answers"])
    assert "cost_usd" in full


async def test_one_turn_shares_that_turn_only(alice, bob, stranger):
    first = await chat(alice, "not this one")
    conversation = first["conversation_id"]
    second = await chat(alice, "only this one", conversation_id=conversation)
    link = await share(alice, conversation, turn_id=second["turn_id"])
    assert link["turn_id"] == second["turn_id"]
    view = (await stranger.get(path_of(link["url"]), headers=JSON)).json()
    assert [t["prompt"] for t in view["turns"]] == ["only this one"]
    assert view["title"] is None and "not this one" not in str(view)

    path = f"{API}/conversations/{conversation}/share"
    other = await chat(alice, "elsewhere")
    assert_error(await alice.post(path, json={"turn_id": other["turn_id"]}), 404)
    assert_error(await alice.post(path, json={"turn_id": "nope"}), 404)
    bobs = await chat(bob, "bob's")
    assert_error(await alice.post(path, json={"turn_id": bobs["turn_id"]}), 404)
    # Revoking one turn's links leaves the others.
    whole = await share(alice, conversation)
    assert (await alice.delete(path, params={"turn_id": second["turn_id"]})).status_code == 204
    assert (await stranger.get(path_of(link["url"]), headers=JSON)).status_code == 404
    assert (await stranger.get(path_of(whole["url"]), headers=JSON)).status_code == 200
    assert_error(await alice.delete(path, params={"turn_id": "../x"}), 422)


BLIND = [
    "claude:claude-sonnet-5+tokens=1",
    "chatgpt:gpt-5.5+tokens=1",
    "gemini:gemini-3.5-flash+tokens=1",
]


async def test_blind_answers_are_withheld_until_the_vote(alice, stranger):
    blind = await alice.post(
        f"{API}/chat/", json={"prompt": "who is best?", "models": BLIND, "blind": True}
    )
    assert blind.status_code == 200, blind.text
    turn_id, conversation = blind.json()["turn_id"], blind.json()["conversation_id"]
    link = await share(alice, conversation, show_costs=True, show_settings=True)

    before = await stranger.get(path_of(link["url"]), headers=JSON)
    assert leaked_names(before.text, [m.split(":", 1)[1] for m in BLIND]) == []
    (turn,) = before.json()["turns"]
    assert turn["blind"] and not turn["voted"]
    assert turn["answers"] == [{"label": label, "withheld": True} for label in ("A", "B", "C")]
    assert "Simulated" not in before.text  # not even the answers' text

    vote = await alice.post(f"{API}/turns/{turn_id}/vote", json={"winner": "B"})
    assert vote.status_code == 201, vote.text
    (turn,) = (await stranger.get(path_of(link["url"]), headers=JSON)).json()["turns"]
    assert turn["voted"]
    assert turn["vote"] == {"verdict": "winner", "winner": "B", "ranking": None}
    assert {a["label"] for a in turn["answers"]} == {"A", "B", "C"}
    assert {a["provider"] for a in turn["answers"]} == {"claude", "chatgpt", "gemini"}
    assert all(a["content"] and not a["withheld"] for a in turn["answers"]), turn


async def test_the_leaderboard_shares_as_a_snapshot_or_live(alice, stranger):
    async def vote(winner: str) -> None:
        blind = (
            await alice.post(
                f"{API}/chat/", json={"prompt": "vs", "models": BLIND[:2], "blind": True}
            )
        ).json()
        response = await alice.post(f"{API}/turns/{blind['turn_id']}/vote", json={"winner": winner})
        assert response.status_code == 201, response.text

    await vote("A")
    snapshot = await alice.post(f"{API}/leaderboard/share", json={})
    live = await alice.post(f"{API}/leaderboard/share", json={"live": True, "days": 7})
    assert snapshot.status_code == live.status_code == 201, (snapshot.text, live.text)
    await vote("B")

    kept = (await stranger.get(path_of(snapshot.json()["url"]), headers=JSON)).json()
    now = (await stranger.get(path_of(live.json()["url"]), headers=JSON)).json()
    assert (kept["kind"], kept["live"], kept["votes"]) == ("leaderboard", False, 1)
    assert (now["live"], now["days"], now["votes"]) == (True, 7, 2)
    assert {s["provider"] for s in now["standings"]} == {"claude", "chatgpt"}
    page = await stranger.get(path_of(live.json()["url"]))
    assert page.status_code == 200 and page.headers["x-robots-tag"].startswith("noindex")

    assert (await alice.delete(f"{API}/leaderboard/share")).status_code == 204
    for made in (snapshot, live):
        assert (await stranger.get(path_of(made.json()["url"]), headers=JSON)).status_code == 404


async def test_bad_share_requests_are_clear_4xx(alice):
    conversation = (await chat(alice, "bad input"))["conversation_id"]
    path = f"{API}/conversations/{conversation}/share"
    for body in (
        {"expires_in": 0},
        {"expires_in": "60"},
        {"expires_in": 10**12},
        {"show_costs": "yes"},
        {"turn_id": 7},
        {"unknown": 1},
    ):
        assert_error(await alice.post(path, json=body), 422)
    assert_error(
        await alice.post(path, content=b"{", headers={"content-type": "application/json"}), 400
    )
    assert_error(
        await alice.post(path, content=b"x=1", headers={"content-type": "text/plain"}), 415
    )
    assert (await alice.post(path)).status_code == 201  # no body at all: share everything
    assert_error(await alice.post(f"{API}/conversations/99999/share", json={}), 404)
    assert_error(await alice.post(f"{API}/leaderboard/share", json={"live": 1}), 422)
    assert_error(await alice.post(f"{API}/leaderboard/share", json={"days": 0}), 422)
    assert_error(await alice.delete(f"{API}/shares/99999"), 404)


async def test_tokens_are_stored_hashed(alice, database_url):
    link = await share(alice, (await chat(alice, "hash me"))["conversation_id"])
    token = link["url"].rsplit("/", 1)[1]
    (row,) = await rows(database_url, "SELECT * FROM shares WHERE id = $1", link["id"])
    assert bytes(row["token_hash"]) == hashlib.sha256(token.encode()).digest()
    assert token not in str(dict(row))


async def test_a_link_shows_the_branch_and_the_runs_the_owner_shows(alice, stranger):
    """Shared live: the owner's current path, and of an answer retried, the run picked."""
    first = await chat(alice, "retry me")
    cid, tid = first["conversation_id"], first["turn_id"]
    original = {a["provider"]: a["content"] for a in first["responses"]}
    retried = await alice.post(
        f"{API}/turns/{tid}/retry", json={"providers": ["claude:claude-sonnet-5+tokens=9"]}
    )
    assert retried.status_code == 202, retried.text
    link = path_of((await share(alice, cid))["url"])

    async def shown() -> dict[str, str]:
        (turn,) = (await stranger.get(link, headers=JSON)).json()["turns"]
        return {a["provider"]: a["content"] for a in turn["answers"]}

    async def retried_shown() -> bool:
        return (await shown())["claude"] != original["claude"]

    await eventually(retried_shown, within=30)  # the latest run, once the retry is stored
    picked = await alice.put(f"{API}/turns/{tid}/answers/claude/run", json={"run": 0})
    assert picked.status_code == 200, picked.text
    assert await shown() == original

    edited = await alice.post(f"{API}/turns/{tid}/edit", json={"prompt": "asked again"})
    assert edited.status_code in (201, 202), edited.text

    async def on_the_new_branch() -> bool:
        turns = (await stranger.get(link, headers=JSON)).json()["turns"]
        return [t["prompt"] for t in turns] == ["asked again"]

    await eventually(on_the_new_branch, within=30)
