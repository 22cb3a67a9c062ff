"""Branches and runs (issue 25 item 2): an edited prompt starts a sibling turn whose history is
what came before the edited one; the conversation shows one path and where it branches, a
switch is kept; retries are runs of an answer, listed, picked, and the picked one is what the
history uses. Export, search, votes and costs hold across branches; another process (and a
restart) sees the same, since all of it is stored."""

from __future__ import annotations

import shutil
from pathlib import Path

import asyncpg
import httpx

from storage.migrate import migrate, migrations_dir
from tests.support.turn_helpers import API, read_events, sent_thread, turn_state

SHORT = "claude:claude-sonnet-5+tokens=6"


async def ask(client: httpx.AsyncClient, prompt: str, cid: int | None = None, **more) -> dict:
    """A finished turn, by the blocking POST /chat/."""
    body = {"prompt": prompt, "conversation_id": cid, "models": [SHORT], **more}
    response = await client.post(f"{API}/chat/", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def edit(client: httpx.AsyncClient, turn_id: str, prompt: str, **more) -> dict:
    response = await client.post(f"{API}/turns/{turn_id}/edit", json={"prompt": prompt, **more})
    assert response.status_code == 201, response.text
    created = response.json()
    status, stream = await read_events(client, created["events_url"])
    assert status == 200 and stream.events[-1].name == "end"
    return created | {"answer": stream.done("claude")["content"]}


async def conversation(client: httpx.AsyncClient, cid: int, **params) -> dict:
    response = await client.get(f"{API}/conversations/{cid}", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def path_of(detail: dict) -> list[str]:
    return [entry["turn_id"] for entry in detail["path"]]


def prompts_of(detail: dict) -> list[str]:
    return [m["content"] for m in detail["messages"] if m["role"] == "user"]


def last_thread(sim) -> list[tuple[str, str]]:
    return sent_thread(sim.requests("anthropic")[-1]["body"])


async def test_an_edit_branches_the_conversation_and_a_switch_is_kept(gateways, sim):
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        one = await ask(client, "first", system="be brief")
        cid = one["conversation_id"]
        two = await ask(client, "second", cid)
        three = await ask(client, "third", cid)
        a1 = one["responses"][0]["content"]

        edited = await edit(client, two["turn_id"], "second, edited")
        # Its history is everything before the edited turn; its settings are the edited one's.
        assert last_thread(sim) == [
            ("user", "first"),
            ("assistant", a1),
            ("user", "second, edited"),
        ]
        assert (await turn_state(client, edited["turn_id"]))["settings"]["system"] is None
        first_settings = (await turn_state(client, one["turn_id"]))["settings"]
        assert first_settings["system"] == "be brief"

        detail = await conversation(client, cid)
        assert path_of(detail) == [one["turn_id"], edited["turn_id"]]
        assert prompts_of(detail) == ["first", "second, edited"]
        assert detail["path"][0]["branch"] == {
            "index": 0,
            "count": 1,
            "siblings": [one["turn_id"]],
        }
        assert detail["path"][1]["parent_id"] == one["turn_id"]
        assert detail["path"][1]["branch"] == {
            "index": 1,
            "count": 2,
            "siblings": [two["turn_id"], edited["turn_id"]],
        }
        assert detail["message_count"] == 8  # every branch's: 4 prompts, 4 answers

        # A new turn continues the path on screen.
        four = await ask(client, "fourth", cid)
        assert last_thread(sim)[-3:] == [
            ("user", "second, edited"),
            ("assistant", edited["answer"]),
            ("user", "fourth"),
        ]
        assert len(last_thread(sim)) == 5

        # ?path= shows another branch without keeping it; PUT …/current keeps it.
        shown = await conversation(client, cid, path=two["turn_id"])
        assert path_of(shown) == [one["turn_id"], two["turn_id"], three["turn_id"]]
        assert path_of(await conversation(client, cid))[-1] == four["turn_id"]
        switched = await client.put(
            f"{API}/conversations/{cid}/current", json={"turn_id": two["turn_id"]}
        )
        assert switched.status_code == 200, switched.text
        assert path_of(switched.json()) == [one["turn_id"], two["turn_id"], three["turn_id"]]
        assert path_of(await conversation(client, cid)) == path_of(switched.json())
        await ask(client, "after the switch", cid)
        assert [text for role, text in last_thread(sim) if role == "user"] == [
            "first",
            "second",
            "third",
            "after the switch",
        ]

        # A retry on the other branch sees that branch's history, not the edit's.
        retry = await client.post(
            f"{API}/turns/{three['turn_id']}/retry", json={"providers": ["claude"]}
        )
        assert retry.status_code == 202, retry.text
        await read_events(client, retry.json()["events_url"])
        assert [text for role, text in last_thread(sim) if role == "user"] == [
            "first",
            "second",
            "third",
        ]

        # Editing a first turn starts a second first turn, with no history at all.
        root = await edit(client, one["turn_id"], "first, again")
        assert last_thread(sim) == [("user", "first, again")]
        detail = await conversation(client, cid)
        assert path_of(detail) == [root["turn_id"]]
        assert detail["path"][0]["branch"]["siblings"] == [one["turn_id"], root["turn_id"]]
        assert detail["path"][0]["parent_id"] is None

        # Bad input: 4xx, never 500.
        unknown = "x" * 22
        for method, url, body, status in (
            ("POST", f"{API}/turns/{unknown}/edit", {"prompt": "p"}, 404),
            ("POST", f"{API}/turns/{two['turn_id']}/edit", {"prompt": "  "}, 422),
            ("POST", f"{API}/turns/{two['turn_id']}/edit", {"prompt": "p", "models": []}, 422),
            ("POST", f"{API}/turns/{two['turn_id']}/edit", {"prompt": "p", "x": 1}, 422),
            ("PUT", f"{API}/conversations/{cid}/current", {"turn_id": unknown}, 404),
            ("PUT", f"{API}/conversations/{cid}/current", {"turn_id": "nope"}, 422),
            ("PUT", f"{API}/conversations/999999/current", {"turn_id": unknown}, 404),
        ):
            response = await client.request(method, url, json=body)
            assert response.status_code == status, (url, body, response.text)
        for bad in (unknown, "../x", "x" * 5000):
            response = await client.get(f"{API}/conversations/{cid}", params={"path": bad})
            assert response.status_code == 404, response.text
        other = await ask(client, "elsewhere")
        response = await client.get(f"{API}/conversations/{cid}", params={"path": other["turn_id"]})
        assert response.status_code == 404, "a turn of another conversation is not on any path"
        deleted = await client.delete(f"{API}/conversations/{cid}")
        assert deleted.status_code == 204, "a tree of turns goes with its conversation"
        assert (await client.get(f"{API}/conversations/{cid}")).status_code == 404


async def test_retries_are_runs_and_the_picked_run_is_the_history(gateways, sim):
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        one = await ask(client, "run me")
        tid, cid = one["turn_id"], one["conversation_id"]
        first = one["responses"][0]["content"]
        retry = await client.post(
            f"{API}/turns/{tid}/retry", json={"providers": ["claude:claude-sonnet-5+tokens=9"]}
        )
        assert retry.status_code == 202, retry.text
        _, run = await read_events(client, retry.json()["events_url"])
        second = run.done("claude")["content"]
        assert second != first

        state = await turn_state(client, tid)
        claude = state["providers"][0]
        assert [r["run"] for r in claude["runs"]] == [0, 1]
        assert [r["status"] for r in claude["runs"]] == ["complete", "complete"]
        assert claude["run"] == 1, "the latest complete run is the history's"
        assert (await conversation(client, cid))["path"][0]["runs"] == {"claude": 1}

        picked = await client.put(f"{API}/turns/{tid}/answers/claude/run", json={"run": 0})
        assert picked.status_code == 200, picked.text
        assert picked.json()["providers"][0]["run"] == 0
        assert (await conversation(client, cid))["path"][0]["runs"] == {"claude": 0}
        await ask(client, "next", cid)
        assert last_thread(sim) == [("user", "run me"), ("assistant", first), ("user", "next")]

        for provider, body, status in (
            ("claude", {"run": 7}, 422),
            ("chatgpt", {"run": 0}, 404),
            ("claude", {"run": -1}, 422),
            ("claude", {"run": "0"}, 422),
            ("claude", {}, 422),
            ("x" * 300, {"run": 0}, 404),
            ("claude", {"run": 0.0}, 200),
        ):
            response = await client.put(f"{API}/turns/{tid}/answers/{provider}/run", json=body)
            assert response.status_code == status, (provider, body, response.text)
        missing = await client.put(f"{API}/turns/{'x' * 22}/answers/claude/run", json={"run": 0})
        assert missing.status_code == 404

        # A new retry is what the history uses again (the pick was for the runs before it).
        retry = await client.post(f"{API}/turns/{tid}/retry", json={"providers": ["claude"]})
        await read_events(client, retry.json()["events_url"])
        assert (await turn_state(client, tid))["providers"][0]["run"] == 2


async def test_export_search_votes_and_costs_across_branches(gateways, sim):
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        body = {"models": ["claude", "chatgpt"], "blind": True}
        one = await ask(client, "which is better", **body)
        cid = one["conversation_id"]
        edited = await client.post(
            f"{API}/turns/{one['turn_id']}/edit", json={"prompt": "zanzibar quokka"}
        )
        assert edited.status_code == 201
        new_id = edited.json()["turn_id"]
        status, stream = await read_events(client, edited.json()["events_url"])
        assert stream.named("turn")[0].data["blind"] is True, "an edit of a blind turn is blind"

        # Votes on both branches count.
        for turn_id in (one["turn_id"], new_id):
            vote = await client.post(f"{API}/turns/{turn_id}/vote", json={"winner": "A"})
            assert vote.status_code == 201, vote.text
        board = (await client.get(f"{API}/leaderboard")).json()
        assert board["votes"] == 2
        assert sum(s["wins"] for s in board["standings"]) == 2

        # Costs: the conversation's is every branch's; search finds any branch's text.
        detail = await conversation(client, cid)
        exported = (await client.get(f"{API}/conversations/{cid}/export?format=json")).json()
        every = [
            a["cost_usd"] for t in exported["turns"] + exported["branches"] for a in t["answers"]
        ]
        assert len(every) == 4 and all(cost is not None for cost in every)
        assert abs(detail["cost_usd"] - sum(every)) < 1e-9
        assert exported["cost_usd"] == detail["cost_usd"]
        found = await client.get(f"{API}/conversations/", params={"q": "which better"})
        assert [c["id"] for c in found.json()] == [cid], "an off-path turn's text is found too"
        assert found.json()[0]["turn_id"] == one["turn_id"], "and the hit says which turn"

        assert [t["turn_id"] for t in exported["turns"]] == [new_id]
        assert [t["turn_id"] for t in exported["branches"]] == [one["turn_id"]]
        assert exported["branches"][0]["parent_turn_id"] is None
        markdown = (await client.get(f"{API}/conversations/{cid}/export")).text
        assert "## 1. zanzibar quokka" in markdown
        assert "## Other branch (from the start): which is better" in markdown


async def test_the_path_and_the_picked_run_outlive_the_process(gateways, sim):
    first = gateways.start()
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
        one = await ask(client, "kept")
        cid, tid = one["conversation_id"], one["turn_id"]
        two = await ask(client, "two", cid)
        edited = await edit(client, two["turn_id"], "two, edited")
        retry = await client.post(f"{API}/turns/{tid}/retry", json={"providers": ["claude"]})
        await read_events(client, retry.json()["events_url"])
        await client.put(f"{API}/turns/{tid}/answers/claude/run", json={"run": 0})
        await client.put(f"{API}/conversations/{cid}/current", json={"turn_id": two["turn_id"]})
    first.stop()
    second = gateways.start()
    async with httpx.AsyncClient(base_url=second.url, timeout=30) as client:
        detail = await conversation(client, cid)
        assert path_of(detail) == [tid, two["turn_id"]]
        assert detail["path"][1]["branch"]["siblings"] == [two["turn_id"], edited["turn_id"]]
        assert detail["path"][0]["runs"] == {"claude": 0}
        assert (await turn_state(client, tid))["providers"][0]["run"] == 0


async def test_the_migration_makes_existing_conversations_a_straight_line(
    empty_database, tmp_path: Path
):
    before = tmp_path / "migrations"
    before.mkdir()
    for path in migrations_dir().glob("*.sql"):
        if path.name < "0014":
            shutil.copy(path, before)
    await migrate(empty_database, before)
    connection = await asyncpg.connect(empty_database)
    try:
        cid = await connection.fetchval(
            "INSERT INTO conversations (title) VALUES ('old') RETURNING id"
        )
        for turn_id in ("t1", "t2", "t3"):
            message = await connection.fetchval(
                "INSERT INTO messages (conversation_id, role, content) VALUES ($1, 'user', $2) "
                "RETURNING id",
                cid,
                turn_id,
            )
            await connection.execute(
                "INSERT INTO turns (id, conversation_id, user_message_id, providers, status) "
                "VALUES ($1, $2, $3, '[]', 'finished')",
                turn_id,
                cid,
                message,
            )
        await migrate(empty_database)
        parents = await connection.fetch("SELECT id, parent_id FROM turns ORDER BY id")
        current = await connection.fetchval("SELECT current_turn_id FROM conversations")
    finally:
        await connection.close()
    assert [(r["id"], r["parent_id"]) for r in parents] == [
        ("t1", None),
        ("t2", "t1"),
        ("t3", "t2"),
    ]
    assert current == "t3"
