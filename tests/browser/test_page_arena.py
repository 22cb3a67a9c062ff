"""The arena on the page, in Chromium: a blind turn's columns give nothing away until the vote,
the vote reveals them, the context policy is the conversation's, and the leaderboard draws its
intervals."""

from __future__ import annotations

import httpx

from tests.support.arena_helpers import leaked_names
from tests.support.browser import expect
from tests.support.page_helpers import ask, open_page
from tests.support.turn_helpers import API

# One token each ("Simulated"): the simulators' longer answers name their API.
MODELS = "claude:claude-sonnet-5+tokens=1,chatgpt:gpt-5.5+tokens=1,gemini:gemini-3.5-flash+tokens=1"
PINNED = ["claude-sonnet-5+tokens=1", "gpt-5.5+tokens=1", "gemini-3.5-flash+tokens=1"]


async def turn_html(page, index: int) -> str:
    """Everything of one turn in the DOM: markup, attributes and text."""
    return await page.locator("#turns > .turn").nth(index).evaluate("(el) => el.outerHTML")


async def test_a_blind_turn_on_the_page_from_asking_to_the_leaderboard(
    gateway, page, artifacts_dir
):
    await open_page(page, f"{gateway.url}/?models={MODELS}")
    await page.check("#blind")
    await ask(page, "Which of you is best?")
    turn = page.locator("#turns > .turn").last
    best = turn.locator('.vote-button[data-vote="B"]')
    await expect(best).to_be_enabled()  # the turn has ended
    names = await turn.locator(".answer-name").all_text_contents()
    assert names == ["A", "B", "C"]
    html = await turn_html(page, 0)
    assert leaked_names(html, PINNED) == [], html
    assert await turn.locator(".answer .tag-sim:visible").count() == 0
    await page.screenshot(path=artifacts_dir / "arena-blind.png")

    await best.click()
    summary = turn.locator(".vote-summary")
    await expect(summary).to_be_visible()
    revealed = await turn.locator(".answer-name").all_text_contents()
    assert [name.split(" · ")[0] for name in revealed] == ["A", "B", "C"]
    assert sorted(name.split(" · ")[1] for name in revealed) == ["ChatGPT", "Claude", "Gemini"]
    assert await turn.locator(".answer.voted-best").count() == 1
    assert await turn.locator(".vote-button:visible").count() == 0
    await page.screenshot(path=artifacts_dir / "arena-revealed.png")

    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
        turn_id = await turn.get_attribute("data-turn-id")
        state = (await http.get(f"{API}/turns/{turn_id}")).json()
        assert state["vote"]["winner"] == "B"
        conversation_id = state["conversation_id"]

        # The context policy is the conversation's setting.
        await page.select_option("#context-policy", "winner")
        await expect(page.locator("#context-policy")).to_have_value("winner")

        async def policy() -> str:
            return (await http.get(f"{API}/conversations/{conversation_id}")).json()[
                "context_policy"
            ]

        for _ in range(100):
            if await policy() == "winner":
                break
            await page.wait_for_timeout(50)
        assert await policy() == "winner"

    # A second blind turn, not voted on, then a reload: it comes back from the database
    # still blind, the voted one revealed.
    await ask(page, "And now?")
    second = page.locator("#turns > .turn").nth(1)
    await expect(second.locator('.vote-button[data-vote="A"]')).to_be_enabled()
    await page.reload()
    await page.wait_for_selector("html[data-ready]")
    await expect(page.locator("#turns > .turn")).to_have_count(2)
    second = page.locator("#turns > .turn").nth(1)
    await expect(second.locator('.vote-button[data-vote="A"]')).to_be_enabled()
    assert await second.locator(".answer-name").all_text_contents() == ["A", "B", "C"]
    html = await turn_html(page, 1)
    assert leaked_names(html, PINNED) == [], html
    first = page.locator("#turns > .turn").first
    await expect(first.locator(".vote-summary")).to_be_visible()
    assert "Claude" in await first.locator(".vote-summary").text_content()
    await expect(page.locator("#context-policy")).to_have_value("winner")
    await second.locator('.vote-button[data-vote="tie"]').click()
    await expect(second.locator(".vote-summary")).to_contain_text("a tie")

    # The leaderboard: three models, each with its interval drawn.
    await page.click("#show-leaderboard")
    rows = page.locator(".leaderboard-table tbody tr")
    await expect(rows).to_have_count(3)
    await expect(page.locator(".leaderboard-table .ci-bar")).to_have_count(3)
    assert await page.locator("#transcript").is_hidden()
    await page.screenshot(path=artifacts_dir / "arena-leaderboard.png")
    for index in range(3):
        width = (
            await rows.nth(index)
            .locator(".ci-bar")
            .evaluate("(el) => el.getBoundingClientRect().width")
        )
        assert width > 0
    await page.click("#leaderboard-close")
    await expect(page.locator("#transcript")).to_be_visible()

    # A policy chosen for a new conversation is set once its first turn has created it.
    await page.click("#new-chat")
    await expect(page.locator("#context-policy")).to_have_value("isolated")
    await page.select_option("#context-policy", "shared")
    await ask(page, "A new one")
    await expect(page.locator('#turns .vote-button[data-vote="A"]')).to_be_enabled()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
        for _ in range(100):
            newest = (await http.get(f"{API}/conversations/")).json()[0]
            if newest["id"] != conversation_id and newest["context_policy"] == "shared":
                break
            await page.wait_for_timeout(50)
        assert newest["id"] != conversation_id and newest["context_policy"] == "shared"
