"""Search (GET /conversations/?q=, full-text, ranked, one key's own) and export
(GET /conversations/{id}/export: Markdown and JSON, every provider's answers side by side)."""

from __future__ import annotations

import httpx
import pytest
from markdown_it import MarkdownIt

from gateway.api.export import nest_headings
from tests.support.turn_helpers import API, rows


async def chat(client: httpx.AsyncClient, prompt: str, conversation_id=None, models=None) -> dict:
    response = await client.post(
        f"{API}/chat/",
        json={"prompt": prompt, "conversation_id": conversation_id, "models": models or ["claude"]},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_search_finds_prompts_and_answers_best_first(gateways, database_url):
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        once = await chat(client, "Tell me about volcanoes")
        many = await chat(client, "Volcanoes of Iceland")
        await chat(client, "more on volcanoes and their eruptions", many["conversation_id"])
        other = await chat(client, "A recipe for bread")

        found = await client.get(f"{API}/conversations/", params={"q": "volcano"})
        assert found.status_code == 200
        hits = found.json()
        # Stemming (volcano ~ volcanoes); the conversation that says more ranks first.
        assert [h["id"] for h in hits] == [many["conversation_id"], once["conversation_id"]]
        assert found.headers["x-total-count"] == "2"
        assert hits[0]["rank"] > hits[1]["rank"] > 0
        assert "volcano" in hits[0]["snippet"].lower() and "<" not in hits[0]["snippet"]

        # Answers are searched too: a word only the simulated answer of one turn has.
        (answer,) = await rows(
            database_url,
            "SELECT content FROM messages WHERE conversation_id = $1 AND role = 'assistant'",
            other["conversation_id"],
        )
        word = max(answer["content"].split(), key=len).strip(".,;:!?")
        by_answer = (await client.get(f"{API}/conversations/", params={"q": word})).json()
        assert other["conversation_id"] in [h["id"] for h in by_answer]

        # Paging, a phrase, nothing found, and a blank q lists everything.
        page = await client.get(
            f"{API}/conversations/", params={"q": "volcano", "limit": 1, "offset": 1}
        )
        assert [h["id"] for h in page.json()] == [once["conversation_id"]]
        assert page.headers["x-total-count"] == "2"
        past = await client.get(f"{API}/conversations/", params={"q": "volcano", "offset": 5})
        assert past.json() == [] and past.headers["x-total-count"] == "2"
        phrase = (await client.get(f"{API}/conversations/", params={"q": '"of iceland"'})).json()
        assert [h["id"] for h in phrase] == [many["conversation_id"]]
        none = await client.get(f"{API}/conversations/", params={"q": "zzyzx"})
        assert none.json() == [] and none.headers["x-total-count"] == "0"
        everything = await client.get(f"{API}/conversations/", params={"q": "  "})
        assert len(everything.json()) == 3
        for bad in ("a\x00b", "x" * 501):
            refused = await client.get(f"{API}/conversations/", params={"q": bad})
            assert refused.status_code == 422


async def test_search_sees_only_the_keys_own_conversations(gateways, database_url):
    from tests.support.keys import make_keys

    keys = await make_keys(database_url, "alice", "bob")
    alice, bob = keys["alice"], keys["bob"]
    server = gateways.start()
    async with (
        httpx.AsyncClient(
            base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {alice}"}
        ) as as_alice,
        httpx.AsyncClient(
            base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {bob}"}
        ) as as_bob,
    ):
        mine = await chat(as_alice, "secret glacier plans")
        assert [
            h["id"] for h in (await as_alice.get(f"{API}/conversations/?q=glacier")).json()
        ] == [mine["conversation_id"]]
        theirs = await as_bob.get(f"{API}/conversations/?q=glacier")
        assert theirs.json() == [] and theirs.headers["x-total-count"] == "0"
        export = await as_bob.get(f"{API}/conversations/{mine['conversation_id']}/export")
        assert export.status_code == 404


async def test_export_has_every_answer_side_by_side(gateways, monkeypatch):
    monkeypatch.setenv("CHATGPT_MAX_ATTEMPTS", "1")
    server = gateways.start()
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        first = await chat(
            client, "Compare rivers", models=["claude", "chatgpt:gpt-5.5+fault=status,status=500"]
        )
        cid = first["conversation_id"]
        # Gemini's long answer has headings of its own (### Main concepts …).
        second = await chat(
            client, "And lakes?", cid, models=["claude", "gemini:gemini-3.5-flash+tokens=300"]
        )
        contents = {
            (r["provider"], n): r["content"]
            for n, turn in enumerate((first, second))
            for r in turn["responses"]
        }

        markdown = await client.get(
            f"{API}/conversations/{cid}/export", params={"format": "markdown"}
        )
        assert markdown.status_code == 200
        assert markdown.headers["content-type"].startswith("text/markdown")
        disposition = markdown.headers["content-disposition"]
        assert disposition == f'attachment; filename="multichat-{cid}-compare-rivers.md"'
        text = markdown.text
        assert text.startswith("# Compare rivers\n")
        assert "## 1. Compare rivers" in text and "## 2. And lakes?" in text
        assert "> And lakes?" in text
        for heading in (
            "### Claude · claude-sonnet-5 (complete",
            "### ChatGPT · gpt-5.5",
            "### Gemini",
        ):
            assert heading in text
        assert "failed" in text.split("### ChatGPT")[1].split("\n")[0]
        for (provider, _), content in contents.items():
            if content:
                assert nest_headings(content) in text, provider
        # The answers' own headings nest under their provider's: the only headings of levels
        # 1 to 3 are the document's (its title, its turns, its answers).
        levels = [
            token.tag
            for token in MarkdownIt("commonmark").parse(text)
            if token.type == "heading_open"
        ]
        assert levels[:2] == ["h1", "h2"] and levels.count("h1") == 1, levels
        assert levels.count("h2") == 2 and levels.count("h3") == 4, levels
        assert len(levels) > 7, "the answers have headings of their own, nested"
        # Side by side: turn 1's answers come before turn 2's heading.
        assert (
            text.index(nest_headings(contents[("claude", 0)]))
            < text.index("## 2.")
            < text.index(nest_headings(contents[("gemini", 1)]))
        )

        exported = await client.get(f"{API}/conversations/{cid}/export?format=json")
        assert exported.status_code == 200
        assert exported.headers["content-disposition"].endswith('.json"')
        document = exported.json()
        assert document["id"] == cid and document["title"] == "Compare rivers"
        assert [t["prompt"] for t in document["turns"]] == ["Compare rivers", "And lakes?"]
        assert [[a["provider"] for a in t["answers"]] for t in document["turns"]] == [
            ["claude", "chatgpt"],
            ["claude", "gemini"],
        ]
        answer = document["turns"][1]["answers"][1]
        assert answer["content"] == contents[("gemini", 1)] and answer["status"] == "complete"
        assert answer["cost_usd"] is not None and answer["usage"]["output_tokens"] > 0
        assert document["turns"][0]["answers"][1]["error"]["status_code"] == 500
        assert document["cost_usd"] == pytest.approx(
            sum(a["cost_usd"] or 0 for t in document["turns"] for a in t["answers"])
        )

        unknown = await client.get(f"{API}/conversations/{cid}/export?format=pdf")
        assert unknown.status_code == 422
        missing = await client.get(f"{API}/conversations/999999/export")
        assert missing.status_code == 404


async def test_a_text_beyond_what_a_search_vector_holds_is_still_stored(database_url):
    """A tsvector holds at most 1 MB: the search column reads only the start of a long text,
    so a very long answer (here 5 MB of distinct words) is stored, not refused."""
    import secrets

    text = " ".join(secrets.token_hex(8) for _ in range(300_000))
    found = await rows(
        database_url,
        "WITH c AS (INSERT INTO conversations (title) VALUES ('long') RETURNING id) "
        "INSERT INTO messages (conversation_id, role, content) SELECT id, 'user', $1 FROM c "
        "RETURNING length(content) AS stored",
        text,
    )
    assert found[0]["stored"] == len(text)


def test_an_answers_headings_nest_under_its_provider():
    text = "# Top\n## Two\n```\n# a comment in code\n```\n> ## quoted\nPlain\n---\nend"
    assert nest_headings(text) == (
        "#### Top\n##### Two\n```\n# a comment in code\n```\n> ##### quoted\n##### Plain\nend"
    )
    assert nest_headings("###### six stays six") == "###### six stays six"
    assert nest_headings("no heading, 2 # 3") == "no heading, 2 # 3"
