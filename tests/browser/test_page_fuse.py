"""Fuse in a real Chromium: "Fuse with ▾" under a finished five-way turn, the fused answer
streaming in full width under the columns, with buttons to the answers it drew on, replayed
when the conversation is reopened (test_page_axe.py checks a fused turn's accessibility)."""

from __future__ import annotations

import httpx

from tests.support.browser import WAIT, expect
from tests.support.page_helpers import ALL, PACE, ask, last_turn, open_page, status_is
from tests.support.turn_helpers import API


async def fused_of(url: str, turn_id: str) -> dict:
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        return (await client.get(f"{API}/turns/{turn_id}")).json()["fusion"]


async def fuse_with(page, judge: str) -> None:
    turn = last_turn(page)
    button = turn.get_by_role("button", name="Fuse with ▾")
    await expect(button).to_be_visible()
    await button.click()
    await turn.locator(f'.fuse-judge[data-judge="{judge}"]').click()


async def test_fuse_a_five_way_turn_and_watch_it_stream(paced_gateway, page):
    await open_page(page, f"{paced_gateway.url}/?models={','.join(ALL)}")
    await ask(page, "Fuse the five of you")
    for provider in ALL:
        await status_is(page, provider, "complete")
    turn = last_turn(page)
    fusion = turn.locator(".fusion")
    await expect(fusion).to_be_hidden()

    await fuse_with(page, "claude")  # the paced claude: 36 tokens, 50 ms apart
    # It streams: part of its text is on screen while it is still busy.
    await page.wait_for_function(
        """() => {
            const el = document.querySelector("#turns > .turn:last-child .fusion");
            return el && el.getAttribute("aria-busy") === "true"
                && el.querySelector(".fusion-text").textContent.length > 0;
        }""",
        timeout=WAIT,
    )
    await expect(turn.get_by_role("button", name="Fuse with ▾")).to_be_hidden()
    await expect(fusion).not_to_have_attribute("aria-busy", "true", timeout=WAIT)
    await expect(turn.locator(".answer")).to_have_count(5)  # no column for the fusion
    turn_id = await turn.get_attribute("data-turn-id")
    stored = await fused_of(paced_gateway.url, turn_id)
    assert stored["status"] == "complete" and stored["judge"] == "claude"
    assert len(stored["content"]) > 0 and len(stored["fused_from"]) == 5
    await expect(fusion.locator(".fusion-text")).to_have_text(stored["content"].strip())
    await expect(fusion.locator(".fusion-meta")).to_contain_text("Fused by Claude")
    await expect(fusion.locator(".fusion-source")).to_have_count(5)
    await expect(turn.get_by_role("button", name="Fuse with ▾")).to_be_visible()
    # A link brings the answer it names into view.
    await fusion.locator(".fusion-source").first.click()
    await expect(turn.locator(".answer.drew-on")).to_have_count(1)

    # Reopened: the stored fusion is drawn under the columns again, with its sources.
    await page.reload()
    await page.wait_for_selector("html[data-ready]")
    turn = last_turn(page)
    await expect(turn.locator(".answer")).to_have_count(5)
    await expect(turn.locator(".fusion .fusion-text")).to_have_text(stored["content"].strip())
    await expect(turn.locator(".fusion .fusion-source")).to_have_count(5)
    assert PACE["claude"]["tokens"] > 12  # what made it stream long enough to be seen


async def test_a_blind_turn_offers_fusion_only_after_its_vote(gateway, page):
    await open_page(page, f"{gateway.url}/?models=claude,chatgpt")
    await page.check("#blind")
    await ask(page, "Blind, then fused")
    turn = last_turn(page)
    vote = turn.locator('.vote-button[data-vote="A"]')
    await expect(vote).to_be_enabled()
    await expect(turn.get_by_role("button", name="Fuse with ▾")).to_be_hidden()
    await vote.click()
    await expect(turn.locator(".vote-result")).to_be_visible()
    await fuse_with(page, "chatgpt")
    await expect(turn.locator(".fusion .fusion-source")).to_have_count(2, timeout=WAIT)
    await expect(turn.locator(".fusion .fusion-meta")).to_contain_text("Fused by ChatGPT")
