"""Five columns stay readable, in Chromium: the headers and the prompt stay in view while a turn
streams and after (the page never scrolls by itself), finished answers open at their top, Sync
scroll, Expand, two at a time, tables that scroll with their first column in view, figures that
fit their cards, a table drawn as one before its delimiter row comes; and on a phone one answer
at a time with a switcher, menus that close, and a leaderboard that fits."""

from __future__ import annotations

import httpx
import pytest

from tests.support.browser import DESKTOP, PHONE, expect
from tests.support.page_helpers import ALL, answer, ask, last_turn, open_page, status_is
from tests.support.turn_helpers import API

LONG = ",".join(f"{p}:m+tokens=400,gap=1" for p in ALL)


async def scroll_top(page) -> float:
    return await page.locator("#transcript").evaluate("(t) => t.scrollTop")


async def visible_columns(page) -> list[str]:
    return (
        await last_turn(page)
        .locator(".answer:visible")
        .evaluate_all("(els) => els.map((el) => el.dataset.provider)")
    )


async def test_five_columns_keep_their_headers_in_view_and_fit(gateway, page, artifacts_dir):
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        conversation = None
        for prompt in ("An earlier question", "Another one"):  # a conversation to scroll in
            body = {"prompt": prompt, "models": ["claude"], "conversation_id": conversation}
            conversation = (await http.post(f"{API}/chat/", json=body)).json()["conversation_id"]
    await open_page(page, f"{gateway.url}/?models={LONG}#conversation={conversation}")
    await ask(page, "Compare five long answers")
    await expect(last_turn(page).locator(".answer")).to_have_count(5)
    asked_at = await scroll_top(page)
    assert asked_at > 0, "the new turn was brought to the top of the view"
    for provider in ALL:
        await status_is(page, provider, "complete")
    await page.wait_for_function("() => !location.hash.includes('turn=')")
    assert await scroll_top(page) == asked_at, "the page never scrolls by itself"
    await page.screenshot(path=artifacts_dir / "layout-five.png")

    turn = last_turn(page)
    boxes = await turn.locator(".answer-head, .prompt").evaluate_all(
        "(els) => els.map((el) => el.getBoundingClientRect().toJSON())"
    )
    assert len(boxes) == 6
    for box in boxes:
        assert box["top"] >= 0 and box["bottom"] <= DESKTOP["height"], boxes
    facts = await turn.evaluate(
        """(turn) => [...turn.querySelectorAll(".answer")].map((column) => {
            const body = column.querySelector(".answer-body");
            const name = column.querySelector(".answer-name");
            const card = column.querySelector(".figures").getBoundingClientRect();
            const spills = [...column.querySelectorAll(".figure dd")].filter((dd) =>
                dd.scrollWidth > dd.clientWidth + 1 || dd.getBoundingClientRect().right > card.right + 1);
            return { top: body.scrollTop, scrolls: body.scrollHeight > body.clientHeight,
                     nameCut: name.scrollWidth > name.clientWidth + 1, spills: spills.length,
                     tabindex: body.getAttribute("tabindex") };
        })"""
    )
    for fact in facts:
        assert fact == {"top": 0, "scrolls": True, "nameCut": False, "spills": 0, "tabindex": "0"}

    # A table scrolls sideways inside its column, its first column staying in view.
    table = turn.locator(".answer-text .table-wrap").first
    assert await table.get_attribute("tabindex") == "0"
    sticky = await table.locator("td").first.evaluate("(td) => getComputedStyle(td).position")
    assert sticky == "sticky"

    # Sync scroll: the reader scrolls one column, the others follow; off, they stay.
    await page.click("#sync-scroll")
    await expect(page.locator("#sync-scroll")).to_have_attribute("aria-pressed", "true")
    bodies = turn.locator(".answer-body")
    await bodies.first.evaluate("(b) => { b.scrollTop = (b.scrollHeight - b.clientHeight) / 2; }")
    await page.wait_for_function(
        """() => [...document.querySelectorAll('#turns > .turn:last-child .answer-body')]
                 .every((b) => b.scrollTop > 0)"""
    )
    await page.click("#sync-scroll")
    await bodies.first.evaluate("(b) => { b.scrollTop = 0; }")
    await page.wait_for_function(
        "() => document.querySelector('#turns > .turn:last-child .answer-body').scrollTop === 0"
    )
    assert await bodies.nth(1).evaluate("(b) => b.scrollTop") > 0

    # Expand one answer to the full width, and back.
    expand = answer(page, "gemini").locator(".expand")
    await expand.click()
    assert await visible_columns(page) == ["gemini"]
    width = await answer(page, "gemini").evaluate("(el) => el.getBoundingClientRect().width")
    assert width > 900
    await expect(expand).to_have_attribute("aria-pressed", "true")
    await expand.click()
    assert await visible_columns(page) == ALL

    # Two at a time, paging through the five.
    await turn.get_by_role("button", name="Two at a time").click()
    assert await visible_columns(page) == ALL[:2]
    await expect(turn.locator(".pager-text")).to_have_text("1–2 of 5")
    await turn.get_by_role("button", name="Next answers").click()
    assert await visible_columns(page) == ALL[2:4]
    await turn.get_by_role("button", name="Next answers").click()
    assert await visible_columns(page) == ALL[3:5]
    await turn.get_by_role("button", name="Side by side").click()
    assert await visible_columns(page) == ALL


async def test_a_half_written_table_is_drawn_as_a_table(gateway, page):
    await open_page(page, gateway.url + "/")
    shown = await page.evaluate(
        """async () => {
            const { MarkdownView } = await import("/static/markdown.js");
            const box = document.createElement("div");
            const view = new MarkdownView(box);
            const seen = [];
            let text = "Intro\\n\\n";
            for (const piece of ["| Aspect | Option A |", "\\n|---", "|---|", "\\n| Speed | fast |"]) {
                text += piece;
                view.update(text, true, true);
                seen.push([box.querySelectorAll("th").length, box.textContent.includes("|")]);
            }
            view.update(text, false, false);
            seen.push([box.querySelectorAll("td").length, box.textContent.includes("|")]);
            return seen;
        }"""
    )
    assert shown == [[2, False], [2, False], [2, False], [2, False], [2, False]]


@pytest.mark.parametrize("context", [PHONE], indirect=True)
async def test_the_phone_shows_one_answer_at_a_time(gateway, page, artifacts_dir):
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:  # a vote to show
        blind = {
            "prompt": "Vote",
            "blind": True,
            "models": ["claude:m+tokens=1", "grok:m+tokens=1"],
        }
        turn = (await http.post(f"{API}/chat/", json=blind)).json()["turn_id"]
        voted = await http.post(f"{API}/turns/{turn}/vote", json={"winner": "A"})
        assert voted.status_code == 201, voted.text
    await open_page(page, f"{gateway.url}/?models=claude,chatgpt,perplexity")
    await expect(page.locator("#prompt")).to_be_visible()
    assert not await page.locator("#sidebar").is_visible()  # a drawer on phones
    await ask(page, "Hello from a phone")
    for provider in ("claude", "chatgpt", "perplexity"):
        await status_is(page, provider, "complete")
    assert await visible_columns(page) == ["claude"]
    box = await answer(page, "claude").bounding_box()
    assert box["width"] > 300
    switcher = last_turn(page).locator(".switcher .switch")
    assert await switcher.all_text_contents() == ["Claude", "ChatGPT", "Perplexity"]
    await switcher.nth(1).click()
    assert await visible_columns(page) == ["chatgpt"]
    # A swipe to the left shows the next answer.
    body = answer(page, "chatgpt").locator(".answer-body")
    for kind, x in (("pointerdown", 300), ("pointerup", 100)):
        await body.dispatch_event(
            kind, {"pointerType": "touch", "clientX": x, "clientY": 400, "bubbles": True}
        )
    assert await visible_columns(page) == ["perplexity"]
    await expect(switcher.nth(2)).to_have_attribute("aria-pressed", "true")
    await page.screenshot(path=artifacts_dir / "page-phone.png")

    # The menu closes when a view opens; the leaderboard fits the screen.
    await page.click("#menu-toggle")
    await page.locator("#sidebar").wait_for(state="visible")
    await page.get_by_role("link", name="Leaderboard").click()
    await page.locator("#sidebar").wait_for(state="hidden")
    await expect(page.locator("#leaderboard")).to_be_visible()
    await expect(page.locator(".leaderboard-table tbody tr")).to_have_count(2)
    widths = await page.evaluate(
        """() => [document.documentElement.scrollWidth,
                 document.getElementById('leaderboard').scrollWidth,
                 document.querySelector('.leaderboard-table').getBoundingClientRect().right]"""
    )
    assert max(widths) <= PHONE["width"], widths
