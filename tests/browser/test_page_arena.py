"""The arena on the page, in Chromium: a blind turn shows nothing that tells who answered until
the vote (no names, models, figures, bars, costs or sources), the vote (best, tie, a ranking, by
keyboard too) reveals them, a battle asks two models at random, the context policy is the
conversation's, and the leaderboard shows ties and its axis."""

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


async def choose_policy(page, value: str) -> None:
    await page.click("#settings-open")
    await page.select_option("#context-policy", value)
    await page.keyboard.press("Escape")


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
    assert names == ["Answer A", "Answer B", "Answer C"]
    assert await turn.locator(".answer .answer-label").all_text_contents() == ["A", "B", "C"]
    html = await turn_html(page, 0)
    assert leaked_names(html, PINNED) == [], html
    # Nothing that tells: no simulated tag, model, figures, bars or cost before the vote.
    for telling in (".tag-sim", ".answer-model", ".figures", ".compare", ".turn-cost"):
        assert await turn.locator(f"{telling}:visible").count() == 0, telling
    await page.screenshot(path=artifacts_dir / "arena-blind.png")

    await best.click()
    await expect(turn.locator(".vote-summary")).to_be_visible()
    revealed = await turn.locator(".answer-name").all_text_contents()
    assert sorted(revealed) == ["ChatGPT", "Claude", "Gemini"]
    assert await turn.locator(".answer .answer-label").all_text_contents() == ["A", "B", "C"]
    winner = turn.locator(".answer.voted-best")
    await expect(winner).to_have_count(1)
    await expect(winner.locator(".answer-label")).to_have_text("B")
    await expect(winner.locator(".answer-badge")).to_have_text("your pick")
    # The figures and the bars appear, under the real names.
    await expect(turn.locator(".figures:visible")).to_have_count(3)
    bars = turn.locator('.compare .chart[data-metric="total"] .bar-label')
    assert sorted(await bars.all_text_contents()) == ["ChatGPT", "Claude", "Gemini"]
    assert await turn.locator(".vote-button:visible").count() == 0
    reveal = await turn.locator(".vote-reveal li").all_text_contents()
    assert len(reveal) == 3 and all(len(item) < 60 for item in reveal), reveal
    await page.screenshot(path=artifacts_dir / "arena-revealed.png")

    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
        turn_id = await turn.get_attribute("data-turn-id")
        state = (await http.get(f"{API}/turns/{turn_id}")).json()
        assert state["vote"]["winner"] == "B"
        conversation_id = state["conversation_id"]

        # The context policy is the conversation's setting, in words.
        await page.click("#settings-open")
        options = await page.locator("#context-policy option").all_text_contents()
        assert options[0] == "Each model sees only its own earlier answers"
        await page.select_option("#context-policy", "winner")
        await page.keyboard.press("Escape")
        await expect(page.locator("#settings")).to_be_hidden()

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
    assert await second.locator(".answer-name").all_text_contents() == [
        "Answer A",
        "Answer B",
        "Answer C",
    ]
    assert await second.locator(".figures:visible").count() == 0
    html = await turn_html(page, 1)
    assert leaked_names(html, PINNED) == [], html
    first = page.locator("#turns > .turn").first
    await expect(first.locator(".vote-summary")).to_be_visible()
    assert "Claude" in await first.locator(".vote-reveal").text_content()
    await expect(first.locator(".answer.voted-best .answer-label")).to_have_text("B")
    await expect(page.locator("#context-policy")).to_have_value("winner")
    await second.locator('.vote-button[data-vote="tie"]').click()
    await expect(second.locator(".vote-summary")).to_contain_text("a tie")
    await expect(second.locator(".answer-badge:visible")).to_have_count(3)

    # The leaderboard: a view of its own, three models, each with its interval on an axis.
    link = page.get_by_role("link", name="Leaderboard")
    await link.click()
    rows = page.locator(".leaderboard-table tbody tr")
    await expect(rows).to_have_count(3)
    await expect(page.locator(".leaderboard-table .ci-bar")).to_have_count(3)
    assert await page.locator("#transcript").is_hidden()
    assert await link.get_attribute("aria-current") == "page"
    assert page.url.endswith("#leaderboard")
    ticks = await page.locator(".ci-axis .tick").all_text_contents()
    assert len(ticks) >= 2 and all(tick.isdigit() for tick in ticks), ticks
    await page.screenshot(path=artifacts_dir / "arena-leaderboard.png")
    for index in range(3):
        width = (
            await rows.nth(index)
            .locator(".ci-bar")
            .evaluate("(el) => el.getBoundingClientRect().width")
        )
        assert width > 0
    await page.go_back()  # Back is back to the conversation
    await expect(page.locator("#transcript")).to_be_visible()
    await expect(page.locator("#turns > .turn")).to_have_count(2)

    # A policy chosen for a new conversation is set once its first turn has created it.
    await page.click("#new-chat")
    await page.click("#settings-open")
    await expect(page.locator("#context-policy")).to_have_value("isolated")
    await page.select_option("#context-policy", "shared")
    await page.keyboard.press("Escape")
    await ask(page, "A new one")
    await expect(page.locator('#turns .vote-button[data-vote="A"]')).to_be_enabled()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
        for _ in range(100):
            newest = (await http.get(f"{API}/conversations/")).json()[0]
            if newest["id"] != conversation_id and newest["context_policy"] == "shared":
                break
            await page.wait_for_timeout(50)
        assert newest["id"] != conversation_id and newest["context_policy"] == "shared"


async def test_a_ranking_and_the_sources_hidden_until_the_vote(gateway, page):
    # Perplexity's long answer closes with its Sources: only it writes one, so that tells.
    models = f"{MODELS},perplexity:sonar-pro+tokens=400"
    await open_page(page, f"{gateway.url}/?models={models}")
    await page.check("#blind")
    await ask(page, "Rank the four of you")
    turn = page.locator("#turns > .turn").last
    await expect(turn.locator('.vote-button[data-vote="A"]')).to_be_enabled()
    sealed = turn.locator(".answer:has(.answer-sealed:visible)")
    await expect(sealed).to_have_count(1)
    hidden_label = await sealed.locator(".answer-label").text_content()
    text = await sealed.locator(".answer-text").text_content()
    assert "Sources" not in text and "wikipedia" not in await sealed.inner_html()
    others = [label for label in "ABCD" if label != hidden_label]

    await turn.get_by_role("button", name="Rank them…").click()
    ranking = turn.locator(".vote-rank")
    await ranking.locator(f'select[name="rank-{hidden_label}"]').select_option("1")
    await ranking.locator(f'select[name="rank-{others[0]}"]').select_option("1")
    await ranking.get_by_role("button", name="Send the ranking").click()
    await expect(ranking.locator(".vote-error")).to_contain_text("same place")
    await ranking.locator(f'select[name="rank-{others[0]}"]').select_option("2")
    await ranking.get_by_role("button", name="Send the ranking").click()

    await expect(turn.locator(".vote-summary")).to_contain_text("Your ranking")
    first = turn.locator(f'.answer:has(.answer-label:text-is("{hidden_label}"))')
    await expect(first.locator(".answer-name")).to_have_text("Perplexity")
    await expect(first.locator(".answer-badge")).to_have_text("1st · your pick")
    await expect(first.locator(".answer-sealed")).to_be_hidden()
    await expect(first.locator(".answer-text")).to_contain_text("Sources")
    second = turn.locator(f'.answer:has(.answer-label:text-is("{others[0]}"))')
    await expect(second.locator(".answer-badge")).to_have_text("2nd")
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
        turn_id = await turn.get_attribute("data-turn-id")
        vote = (await http.get(f"{API}/turns/{turn_id}")).json()["vote"]
    assert vote["ranking"] == [hidden_label, others[0]]


async def test_a_battle_asks_two_at_random_and_a_key_votes(gateway, page):
    all_five = f"{MODELS},grok:grok-4.3+tokens=1,perplexity:sonar-pro+tokens=1"
    await open_page(page, f"{gateway.url}/?models={all_five}")
    await page.check("#battle")
    await ask(page, "A battle")
    turn = page.locator("#turns > .turn").last
    await expect(turn.locator('.vote-button[data-vote="B"]')).to_be_enabled()
    assert await turn.locator(".answer-name").all_text_contents() == ["Answer A", "Answer B"]
    await page.locator("#title").click()  # the focus out of the prompt box
    await page.keyboard.press("b")  # B is best
    await expect(turn.locator(".vote-summary")).to_contain_text("You picked B")
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
        turn_id = await turn.get_attribute("data-turn-id")
        state = (await http.get(f"{API}/turns/{turn_id}")).json()
    assert state["vote"]["winner"] == "B" and len(state["providers"]) == 2
    # Remembered: the next page opens in battle mode.
    await page.reload()
    await page.wait_for_selector("html[data-ready]")
    await expect(page.locator("#battle")).to_be_checked()
