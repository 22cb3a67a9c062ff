"""Words that say what they mean, and the small things, in Chromium: models picked by name,
health dots explained (a Stop never counts against a model), costs as estimates and none for
simulated answers unless asked, an error said once, a search that lands on its match
highlighted, titles that can be told apart, ties on the leaderboard, a dark mode that
remembers."""

from __future__ import annotations

import httpx

from tests.support.browser import expect
from tests.support.page_helpers import (
    answer,
    ask,
    every_column_has_text,
    last_turn,
    open_page,
    status_is,
)
from tests.support.turn_helpers import API


async def test_models_by_name_dots_explained_and_a_stop_is_not_a_failure(gateway, page):
    await open_page(page, f"{gateway.url}/?models=claude,chatgpt")
    await page.click("#models-open")
    select = page.locator('#model-list select[name="model-claude"]')
    options = await select.locator("option").all_text_contents()
    assert options[0] == "claude-sonnet-5 (default)" and "claude-haiku-4-5" in options
    assert "+" not in "".join(options)  # no pin syntax to learn
    await select.select_option("claude-haiku-4-5")
    await expect(page.locator('.chip[data-provider="claude"] .chip-model')).to_have_text(
        "claude-haiku-4-5"
    )
    await expect(page.locator("#models-panel")).to_contain_text("Your own Stop never counts")
    await page.keyboard.press("Escape")
    await ask(page, "Which model are you?")
    await status_is(page, "claude", "complete")
    await expect(answer(page, "claude").locator(".answer-model")).to_have_text("claude-haiku-4-5")
    dot = page.locator('.chip[data-provider="claude"] .health')
    await expect(dot).to_have_class("health health-ok")
    assert "working" in await dot.text_content()  # said in words, not only in colour

    # Stopped by the reader: the model is not counted down for it.
    slow = "claude:claude-sonnet-5%2Btokens=2000,gap=20"
    await page.goto(f"{gateway.url}/?models={slow}")
    await page.wait_for_selector("html[data-ready]")
    for _ in range(2):
        await ask(page, "Go on and on")
        await every_column_has_text(page, ["claude"])
        await answer(page, "claude").get_by_role("button", name="Stop Claude").click()
        await status_is(page, "claude", "cancelled")
        await expect(page.locator("#send")).to_be_visible()
    await expect(answer(page, "claude").locator(".status")).to_have_text("stopped")
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        listed = {p["name"]: p["health"] for p in (await http.get(f"{API}/providers")).json()}
    assert listed["claude"] == "ok"
    await expect(dot).to_have_class("health health-ok")


async def test_costs_are_estimates_and_simulated_ones_only_when_asked(gateway, page):
    await open_page(page, f"{gateway.url}/?models=claude,gemini")
    await ask(page, "What does this cost?")
    await status_is(page, "claude", "complete")
    await status_is(page, "gemini", "complete")
    turn = last_turn(page)
    assert await turn.locator('dd[data-metric="cost"]').count() == 0
    await expect(turn.locator(".turn-cost")).to_be_hidden()
    await page.click("#settings-open")
    await page.check("#pref-simulated-costs")
    await page.keyboard.press("Escape")
    cost = answer(page, "claude").locator('.figure:has(dd[data-metric="cost"])')
    await expect(cost.locator("dt")).to_have_text("Cost (est.)")
    await expect(turn.locator(".turn-cost")).to_contain_text("Estimated cost of this turn: $")
    await page.reload()  # remembered, and a stored answer knows it was simulated
    await page.wait_for_selector("html[data-ready]")
    await expect(last_turn(page).locator('dd[data-metric="cost"]')).to_have_count(2)


async def test_an_error_is_said_once_with_its_link(gateway, page):
    await open_page(page, f"{gateway.url}/")
    shown = await page.evaluate(
        """async () => {
            const { TurnView } = await import("/static/turn.js");
            const view = new TurnView("q");
            const failed = (message) => ({ provider: "grok", model: "m", status: "failed",
              content: "", error: { type: "upstream", status_code: 500, message } });
            view.column("grok").finish(failed("HTTP 500: see https://status.x.ai/incident."));
            const error = view.columns.get("grok").errorEl;
            const link = error.querySelector("a");
            view.column("claude").finish({ ...failed("overloaded"), provider: "claude" });
            return { text: error.textContent, href: link && link.href, target: link && link.target,
                     other: view.columns.get("claude").errorEl.textContent };
        }"""
    )
    assert shown == {
        "text": "HTTP 500: see https://status.x.ai/incident.",
        "href": "https://status.x.ai/incident",
        "target": "_blank",
        "other": "overloaded (500)",
    }


async def test_search_lands_on_the_matching_turn_highlighted(gateway, page):
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        conversation = None
        for prompt in ("Tell me about rivers", "And glaciers?", "And deserts?"):
            body = {"prompt": prompt, "conversation_id": conversation, "models": ["claude"]}
            conversation = (await http.post(f"{API}/chat/", json=body)).json()["conversation_id"]
        for title in (
            "A conversation about the history of Rome",
            "A conversation about the history of Greece",
        ):
            await http.post(f"{API}/conversations/", json={"title": title})
    await open_page(page, gateway.url + "/")
    # Long titles can be told apart: two lines, and the whole of it on hover.
    titles = page.locator("#conversation-list .conv-title")
    await expect(titles).to_have_count(3)
    rome = page.locator("#conversation-list .conv-open").nth(1)
    assert await rome.get_attribute("title") == "A conversation about the history of Rome"
    assert await titles.nth(1).evaluate("(el) => el.scrollHeight <= el.clientHeight + 1")

    await page.fill("#conversation-search", "glacier")
    await page.locator("#search-results .search-hit .conv-open").first.click()
    await expect(page.locator("#turns > .turn")).to_have_count(3)
    second = page.locator("#turns > .turn").nth(1)
    await expect(second).to_have_attribute("data-found", "true")
    place = await page.evaluate(
        """() => {
            const view = document.getElementById("transcript").getBoundingClientRect();
            const turn = document.querySelectorAll("#turns > .turn")[1].getBoundingClientRect();
            const hits = CSS.highlights.get("search-hit");
            return { top: turn.top - view.top, hits: hits ? hits.size : 0,
                     words: hits ? [...hits].map((r) => r.toString().toLowerCase()) : [] };
        }"""
    )
    assert 0 <= place["top"] < 40, place  # the matching turn at the top, not the last one
    assert place["hits"] >= 1 and set(place["words"]) <= {"glacier", "glaciers"}, place


async def test_ties_on_the_leaderboard_and_a_dark_mode_that_remembers(gateway, page):
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        for models in (
            ["claude:m+tokens=1", "chatgpt:m+tokens=1"],
            ["claude:m+tokens=1", "gemini:m+tokens=1"],
        ):
            chat = {"prompt": "Vote", "blind": True, "models": models}
            turn = (await http.post(f"{API}/chat/", json=chat)).json()["turn_id"]
            verdict = "tie" if "chatgpt:m+tokens=1" in models else "all_bad"
            assert (
                await http.post(f"{API}/turns/{turn}/vote", json={"winner": verdict})
            ).status_code == 201
    await open_page(page, gateway.url + "/#leaderboard")
    rows = page.locator(".leaderboard-table tbody tr")
    await expect(rows).to_have_count(3)
    ranks = await rows.evaluate_all("(rows) => rows.map((r) => [r.dataset.rank, r.dataset.tied])")
    assert ranks == [["1", "true"], ["1", "true"], ["1", "true"]], ranks
    await expect(rows.first.locator(".rank")).to_contain_text("tied for 1")

    theme = page.locator("html")
    await page.emulate_media(color_scheme="light")
    await expect(theme).to_have_attribute("data-theme", "light")
    await page.click("#theme-toggle")
    await expect(theme).to_have_attribute("data-theme", "dark")
    await expect(page.locator("#theme-toggle")).to_have_attribute("aria-pressed", "true")
    await page.reload()
    await page.wait_for_selector("html[data-ready]")
    await expect(theme).to_have_attribute("data-theme", "dark")  # remembered over the system's
