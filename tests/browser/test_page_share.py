"""Share links on the page, in Chromium (#25 item 3): the owner makes a link from the Share
dialog and copies it; a fresh browser context with no key and no cookie opens it and sees the
answers, read-only, calling no API; the owner stops sharing and the link says so."""

from __future__ import annotations

import httpx

from tests.support.browser import expect
from tests.support.page_helpers import ask, open_page, status_is
from tests.support.turn_helpers import API

MODELS = "claude:claude-sonnet-5+tokens=12,chatgpt:gpt-5.5+tokens=12"
PROMPT = "Explain tides in one paragraph"


async def create_link(page) -> str:
    """Create in the open share dialog: the link it shows."""
    await page.click("#share-create")
    await expect(page.locator("#share-result")).to_be_visible()
    return await page.locator("#share-url").input_value()


async def test_a_link_made_on_the_page_opens_with_no_key_until_revoked(
    gateway, page, browser, artifacts_dir
):
    await open_page(page, f"{gateway.url}/?models={MODELS}")
    assert await page.locator("#share-open").is_hidden()  # nothing to share yet
    await ask(page, PROMPT)
    for provider in ("claude", "chatgpt"):
        await status_is(page, provider, "complete")
    answers = {
        p: (await page.locator(f'.answer[data-provider="{p}"] .answer-text').text_content()).strip()
        for p in ("claude", "chatgpt")
    }

    await expect(page.locator("#share-open")).to_be_visible()
    await page.click("#share-open")
    await expect(page.locator("#share-dialog")).to_be_visible()
    await expect(page.locator("#share-what option")).to_have_count(2)  # all, or the question
    await page.check("#share-costs")
    url = await create_link(page)
    assert url.startswith(f"{gateway.url}/s/"), url
    await page.click("#share-copy")
    await expect(page.locator("#share-status")).to_have_text("Copied.")
    await page.screenshot(path=artifacts_dir / "share-dialog.png")

    # A stranger: a fresh context with no key, no cookie.
    stranger = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        errors: list[str] = []
        stranger.on("weberror", lambda error: errors.append(str(error.error)))
        view = await stranger.new_page()
        requested: list[str] = []
        view.on("request", lambda request: requested.append(request.url))
        await open_page(view, url)
        await expect(view.locator("#share-title")).to_have_text(PROMPT)
        for provider, text in answers.items():
            shown = view.locator(f'.share-answer[data-provider="{provider}"] .share-text')
            await expect(shown).to_have_text(text)
        await expect(view.locator(".share-figures").first).to_contain_text("$")  # costs chosen
        assert await view.locator('meta[name="robots"]').get_attribute("content") == (
            "noindex, nofollow, noarchive"
        )
        await view.screenshot(path=artifacts_dir / "share-view.png", full_page=True)
        assert not [r for r in requested if "/api/" in r], requested  # the link, not the API
        assert await stranger.cookies() == []

        # The owner stops sharing: the same address now says it is not shared.
        await page.click("#share-revoke")
        await expect(page.locator("#share-status")).to_contain_text("Stopped sharing")
        await view.reload()
        await view.wait_for_selector("html[data-ready]")
        await expect(view.locator("#share-title")).to_have_text("Not shared")
        assert PROMPT not in await view.content()
        assert not errors, errors
    finally:
        await stranger.close()


async def test_the_leaderboard_can_be_shared_from_its_view(gateway, page, browser):
    await open_page(page, f"{gateway.url}/#leaderboard")
    await page.click("#leaderboard-share")
    await expect(page.locator("#share-dialog-title")).to_have_text("Share the leaderboard")
    await expect(page.locator("#share-conversation-fields")).to_be_hidden()
    await page.check("#share-live")
    url = await create_link(page)
    stranger = await browser.new_context()
    try:
        view = await stranger.new_page()
        await open_page(view, url)
        await expect(view.locator("#share-title")).to_have_text("Leaderboard")
        await expect(view.locator("#share-meta")).to_contain_text("live")
    finally:
        await stranger.close()


async def test_a_shared_blind_turn_shows_its_answers_only_once_voted(gateway, browser):
    models = ["claude:claude-sonnet-5+tokens=3", "chatgpt:gpt-5.5+tokens=3"]
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        blind = (
            await http.post(
                f"{API}/chat/", json={"prompt": "blind", "models": models, "blind": True}
            )
        ).json()
        made = await http.post(f"{API}/conversations/{blind['conversation_id']}/share", json={})
        url = made.json()["url"]
        stranger = await browser.new_context()
        try:
            view = await stranger.new_page()
            await open_page(view, url)
            withheld = view.locator('.share-answer[data-withheld="true"]')
            await expect(withheld).to_have_count(2)
            assert "Simulated" not in await view.content()
            vote = await http.post(f"{API}/turns/{blind['turn_id']}/vote", json={"winner": "A"})
            assert vote.status_code == 201
            await open_page(view, url)
            await expect(view.locator(".share-verdict")).to_contain_text("Voted best: A.")
            await expect(view.locator('.share-answer[data-provider="claude"]')).to_be_visible()
            await expect(withheld).to_have_count(0)
        finally:
            await stranger.close()


async def test_one_turn_shared_from_its_own_button(gateway, page, browser, artifacts_dir):
    await open_page(page, f"{gateway.url}/?models={MODELS}")
    for prompt in ("First, the moon", "Then, the sun"):
        await ask(page, prompt)
        await expect(page.locator("#turns > .turn .prompt-text").last).to_have_text(prompt)
        for provider in ("claude", "chatgpt"):
            await status_is(page, provider, "complete")
        await expect(page.locator("#stop-all")).to_be_hidden()  # ended: the next may be asked
        await expect(page.locator("#send")).to_be_enabled()
    first = page.locator("#turns > .turn").first
    moon = await first.locator('.answer[data-provider="claude"] .answer-text').text_content()
    turn_id = await first.get_attribute("data-turn-id")

    # By keyboard: the first turn's Share opens the one dialog with that question chosen.
    share = first.get_by_role("button", name="Share this question")
    await expect(share).to_be_visible()
    await share.focus()
    await page.keyboard.press("Enter")
    await expect(page.locator("#share-dialog")).to_be_visible()
    await expect(page.locator("#share-what")).to_have_value(turn_id)
    await expect(page.locator("#share-dialog-title")).to_have_text("Share this question")
    await expect(page.locator("#share-create")).to_be_enabled()
    await page.screenshot(path=artifacts_dir / "share-one-turn.png")
    url = await create_link(page)

    stranger = await browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        view = await stranger.new_page()
        await open_page(view, url)
        await expect(view.locator(".share-turn")).to_have_count(1)
        await expect(view.locator(".share-prompt-text")).to_have_text("First, the moon")
        shown = view.locator('.share-answer[data-provider="claude"] .share-text')
        await expect(shown).to_have_text(moon.strip())
        assert "Then, the sun" not in await view.content()

        # Stopped: the link answers the 404 of a link that never existed, page and JSON alike.
        await page.click("#share-revoke")
        await expect(page.locator("#share-status")).to_contain_text("Stopped sharing")
        response = await view.goto(url)
        assert response.status == 404
        await view.wait_for_selector("html[data-ready]")
        await expect(view.locator("#share-title")).to_have_text("Not shared")
        assert "the moon" not in await view.content()
        async with httpx.AsyncClient() as anyone:
            accept = {"accept": "application/json"}
            revoked = await anyone.get(url, headers=accept)
            base, token = url.rsplit("/", 1)
            never = await anyone.get(f"{base}/{'A' * len(token)}", headers=accept)
        assert (revoked.status_code, revoked.content) == (404, never.content)
        assert never.status_code == 404
    finally:
        await stranger.close()


async def test_a_blind_turn_shared_from_its_button_names_no_model_before_the_vote(
    gateway, page, browser
):
    await open_page(page, f"{gateway.url}/?models={MODELS}")
    await page.check("#blind")
    await ask(page, PROMPT)
    await expect(page.locator('.vote-button[data-vote="A"]')).to_be_enabled()
    await page.get_by_role("button", name="Share this question").click()
    await expect(page.locator("#share-create")).to_be_enabled()
    url = await create_link(page)
    stranger = await browser.new_context()
    try:
        view = await stranger.new_page()
        await open_page(view, url)
        await expect(view.locator('.share-answer[data-withheld="true"]')).to_have_count(2)
        content = await view.content()
        for name in ("claude", "Claude", "chatgpt", "ChatGPT", "gpt-5.5", "sonnet"):
            assert name not in content, name
    finally:
        await stranger.close()
