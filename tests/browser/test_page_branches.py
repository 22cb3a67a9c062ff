"""Branches and runs on the page, in Chromium: Edit a prompt, send it, and page between the
branches (‹ 1/2 ›); retry an answer and page between its runs; each choice kept over a reload.
(The axe check of the pagers and the edit form is in test_page_axe.py.)"""

from __future__ import annotations

import httpx

from tests.support.browser import expect
from tests.support.page_helpers import answer, ask, expected, last_turn, open_page, status_is
from tests.support.turn_helpers import API


def prompt_of(turn):
    return turn.locator(".prompt-text")


def branch_count(turn):
    return turn.locator(".branch-pager .pager-count")


def run_count(page, provider: str):
    return answer(page, provider).locator(".run-pager .pager-count")


async def answered(page, *providers: str) -> None:
    """The last turn's answers are complete and the turn has ended (Send is back)."""
    for provider in providers:
        await status_is(page, provider, "complete")
    await expect(page.locator("#stop-all")).to_be_hidden()
    await expect(page.locator("#send")).to_be_enabled()


async def reload(page) -> None:
    await page.reload()
    await page.wait_for_selector("html[data-ready]")


async def test_edit_a_prompt_and_page_between_branches(gateway, page):
    await open_page(page, f"{gateway.url}/?models=claude")
    await ask(page, "First question")
    await answered(page, "claude")
    await ask(page, "Second question")
    await expect(page.locator("#turns > .turn")).to_have_count(2)
    await answered(page, "claude")
    second = last_turn(page)
    await expect(branch_count(second)).to_have_count(0)  # one branch: no pager

    await second.locator(".edit-prompt").click()
    field = second.locator(".edit-field")
    await expect(field).to_have_value("Second question")
    await field.fill("Second question, edited")
    await second.locator(".edit-send").click()

    turn = last_turn(page)
    await expect(prompt_of(turn)).to_have_text("Second question, edited")
    await answered(page, "claude")
    assert await answer(page, "claude").locator(".answer-text").text_content() == expected(
        "claude", "Second question, edited"
    )
    await expect(page.locator("#turns > .turn")).to_have_count(2)
    await expect(branch_count(turn)).to_have_text("2/2")

    await turn.get_by_role("button", name="Previous branch").click()
    await expect(prompt_of(last_turn(page))).to_have_text("Second question")
    await expect(branch_count(last_turn(page))).to_have_text("1/2")
    await expect(last_turn(page).get_by_role("button", name="Previous branch")).to_be_disabled()
    # The focus stays on the pager (redrawn): on its other button, the first being disabled.
    await expect(last_turn(page).get_by_role("button", name="Next branch")).to_be_focused()
    await reload(page)  # the choice is kept
    await expect(prompt_of(last_turn(page))).to_have_text("Second question")
    await expect(branch_count(last_turn(page))).to_have_text("1/2")

    await last_turn(page).get_by_role("button", name="Next branch").click()
    await expect(prompt_of(last_turn(page))).to_have_text("Second question, edited")
    await expect(branch_count(last_turn(page))).to_have_text("2/2")
    # A new prompt continues the branch on screen.
    await ask(page, "Third question")
    await expect(page.locator("#turns > .turn")).to_have_count(3)
    await answered(page, "claude")
    await reload(page)
    prompts = page.locator("#turns > .turn .prompt-text")
    await expect(prompts).to_have_text(
        ["First question", "Second question, edited", "Third question"]
    )


async def test_send_pressed_twice_makes_one_branch(gateway, page):
    await open_page(page, f"{gateway.url}/?models=claude")
    await ask(page, "A question")
    await answered(page, "claude")
    turn = last_turn(page)
    await turn.locator(".edit-prompt").click()
    await turn.locator(".edit-field").fill("A question, edited")
    # Two presses before the first is answered: one branch, not two.
    await turn.locator(".edit-form").evaluate(
        "(form) => { form.requestSubmit(); form.requestSubmit(); }"
    )
    await expect(prompt_of(last_turn(page))).to_have_text("A question, edited")
    await answered(page, "claude")
    await reload(page)
    await expect(branch_count(last_turn(page))).to_have_text("2/2")


async def test_retry_an_answer_and_page_between_runs(gateway, page):
    # A 400 is not retried by the gateway itself; fail_times=1: the retry answers.
    models = "claude,chatgpt:gpt-5.5+fault=status,status=400,fail_times=1"
    await open_page(page, f"{gateway.url}/?models={models}")
    await ask(page, "Run it twice")
    await status_is(page, "chatgpt", "failed")
    await status_is(page, "claude", "complete")
    await expect(run_count(page, "chatgpt")).to_have_count(0)  # one run: no pager
    await answer(page, "chatgpt").locator(".retry-one").click()
    await status_is(page, "chatgpt", "complete")
    await expect(run_count(page, "chatgpt")).to_have_text("2/2")
    await expect(run_count(page, "claude")).to_have_count(0)

    await answer(page, "chatgpt").get_by_role("button", name="Previous run of ChatGPT").click()
    await status_is(page, "chatgpt", "failed")
    await expect(run_count(page, "chatgpt")).to_have_text("1/2")
    await reload(page)  # the choice is kept
    await status_is(page, "chatgpt", "failed")
    await expect(run_count(page, "chatgpt")).to_have_text("1/2")
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        conversations = (await client.get(f"{API}/conversations/")).json()
        detail = (await client.get(f"{API}/conversations/{conversations[0]['id']}")).json()
    assert detail["path"][0]["runs"] == {"claude": 0, "chatgpt": 0}

    await answer(page, "chatgpt").get_by_role("button", name="Next run of ChatGPT").click()
    await status_is(page, "chatgpt", "complete")
    await expect(run_count(page, "chatgpt")).to_have_text("2/2")
    assert await answer(page, "chatgpt").locator(".answer-text").text_content() == expected(
        "chatgpt", "Run it twice"
    )


async def test_a_search_match_on_another_branch_opens_that_branch(gateway, page):
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        body = {"prompt": "Tell me about walruses", "models": ["claude"]}
        first = (await client.post(f"{API}/chat/", json=body)).json()
        edited = await client.post(
            f"{API}/turns/{first['turn_id']}/edit", json={"prompt": "Tell me about otters"}
        )
        async with client.stream("GET", edited.json()["events_url"]) as events:
            async for _ in events.aiter_lines():
                pass
    await open_page(page, gateway.url)
    await page.fill("#conversation-search", "walruses")
    hits = page.locator("#search-results .search-hit")
    await expect(hits).to_have_count(1)
    await hits.first.locator(".conv-open").click()
    await expect(prompt_of(last_turn(page))).to_have_text("Tell me about walruses")
    await expect(branch_count(last_turn(page))).to_have_text("1/2")


def providers_of(turn):
    return turn.locator(".answer").evaluate_all("(els) => els.map((el) => el.dataset.provider)")


async def test_an_edit_can_change_which_models_answer(gateway, page, artifacts_dir):
    await open_page(page, f"{gateway.url}/?models=claude,chatgpt")
    await ask(page, "Which models?")
    await answered(page, "claude", "chatgpt")
    turn = last_turn(page)
    await turn.get_by_role("button", name="Edit this prompt").click()
    form = turn.locator(".edit-form")
    await expect(turn.locator(".edit-field")).to_be_focused()
    # The edited turn's models are ticked; the composer's chips are a choice of their own.
    chips = form.get_by_role("group", name="Models to answer it")
    box = {p: chips.locator(f'input[value="{p}"]') for p in ("claude", "chatgpt", "gemini")}
    await expect(box["claude"]).to_be_checked()
    await expect(box["chatgpt"]).to_be_checked()
    await expect(box["gemini"]).not_to_be_checked()
    await page.keyboard.press("Tab")  # from the text to the first chip, by keyboard
    await expect(box["claude"]).to_be_focused()
    await page.keyboard.press("Tab")
    await expect(box["chatgpt"]).to_be_focused()
    await page.keyboard.press("Space")  # chatgpt out
    await expect(box["chatgpt"]).not_to_be_checked()
    await page.keyboard.press("Tab")
    await expect(box["gemini"]).to_be_focused()
    await page.keyboard.press("Space")  # gemini in
    await expect(page.locator('#providers input[value="chatgpt"]')).to_be_checked()
    await expect(page.locator('#providers input[value="gemini"]')).not_to_be_checked()
    await turn.locator(".edit-field").fill("Which models now?")
    await page.screenshot(path=artifacts_dir / "edit-with-models.png")
    await form.get_by_role("button", name="Send").click()

    edited = last_turn(page)
    await expect(prompt_of(edited)).to_have_text("Which models now?")
    await answered(page, "claude", "gemini")
    assert await providers_of(edited) == ["claude", "gemini"]
    for provider in ("claude", "gemini"):
        assert await answer(page, provider).locator(".answer-text").text_content() == expected(
            provider, "Which models now?"
        )
    await expect(branch_count(edited)).to_have_text("2/2")
    await reload(page)  # as stored, not only as streamed
    await expect(prompt_of(last_turn(page))).to_have_text("Which models now?")
    assert await providers_of(last_turn(page)) == ["claude", "gemini"]

    await last_turn(page).get_by_role("button", name="Previous branch").click()
    original = last_turn(page)
    await expect(prompt_of(original)).to_have_text("Which models?")
    await expect(branch_count(original)).to_have_text("1/2")
    assert await providers_of(original) == ["claude", "chatgpt"]
    for provider in ("claude", "chatgpt"):
        await status_is(page, provider, "complete")
        assert await answer(page, provider).locator(".answer-text").text_content() == expected(
            provider, "Which models?"
        )


async def test_an_edit_of_a_blind_turn_before_its_vote_names_no_model(gateway, page):
    await open_page(page, f"{gateway.url}/?models=claude,chatgpt")
    await page.check("#blind")
    await ask(page, "Who are you?")
    await expect(page.locator('.vote-button[data-vote="A"]')).to_be_enabled()
    turn = last_turn(page)
    await turn.get_by_role("button", name="Edit this prompt").click()
    await expect(turn.locator(".edit-field")).to_be_focused()
    await expect(turn.locator(".edit-form")).to_contain_text("still blind")
    await expect(turn.locator(".edit-form input[type=checkbox]")).to_have_count(0)
    await expect(turn.locator(".edit-form")).not_to_contain_text("Claude")
    await turn.locator(".edit-field").fill("Who are you, then?")
    await turn.locator(".edit-send").click()
    edited = last_turn(page)
    await expect(prompt_of(edited)).to_have_text("Who are you, then?")
    # Asked of the same two, blind: labelled columns, named by nobody.
    await expect(edited.locator(".vote-button[data-vote='A']")).to_be_enabled()
    await expect(edited.locator(".answer")).to_have_count(2)
    await expect(edited.locator(".answer[data-provider]")).to_have_count(0)
