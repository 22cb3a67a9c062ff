"""The page's comparison tools in a real Chromium: Retry a failed column, Add a model to a past
turn, the status event shown while a provider retries, search in the sidebar, export download."""

from __future__ import annotations

import httpx

from tests.support.browser import WAIT, expect
from tests.support.credentials import TEST_KEY
from tests.support.page_helpers import answer, ask, expected, open_page, status_is, text_of


async def test_retry_a_failed_column(gateway, page):  # noqa: F811
    # A 400 is not retried by the gateway itself; fail_times=1: the next request answers.
    models = "claude,chatgpt:gpt-5.5+fault=status,status=400,fail_times=1"
    await open_page(page, f"{gateway.url}/?models={models}")
    prompt = "Retry the failed one"
    await ask(page, prompt)
    await status_is(page, "chatgpt", "failed")
    await status_is(page, "claude", "complete")
    retry = answer(page, "chatgpt").locator(".retry-one")
    await expect(retry).to_be_visible()
    await retry.click()
    await status_is(page, "chatgpt", "complete")
    assert await text_of(page, "chatgpt") == expected("chatgpt", prompt)
    await expect(answer(page, "chatgpt").locator(".answer-error")).to_be_hidden()
    assert await text_of(page, "claude") == expected("claude", prompt), "the other stays"
    async with httpx.AsyncClient(base_url=gateway.url) as client:
        conversations = (await client.get("/api/v1/conversations/")).json()
        detail = (await client.get(f"/api/v1/conversations/{conversations[0]['id']}")).json()
    runs = [(m["run"], m["status"]) for m in detail["messages"] if m["provider"] == "chatgpt"]
    assert runs == [(0, "failed"), (1, "complete")]


async def test_add_a_model_to_a_past_turn(gateway, page):  # noqa: F811
    await open_page(page, f"{gateway.url}/?models=claude")
    prompt = "Add gemini afterwards"
    await ask(page, prompt)
    await status_is(page, "claude", "complete")
    await page.reload()  # the turn is a past one now, drawn from the stored messages
    await page.wait_for_selector("html[data-ready]")
    await status_is(page, "claude", "complete")
    add = page.locator("#turns > .turn").last.locator(".add-model")
    await expect(add).to_be_visible()
    await add.select_option("gemini")
    await status_is(page, "gemini", "complete")
    assert await text_of(page, "gemini") == expected("gemini", prompt)
    assert await text_of(page, "claude") == expected("claude", prompt)
    await expect(add.locator("option[value=gemini]")).to_have_count(0)


async def test_the_status_event_shows_a_retry(gateway, page):  # noqa: F811
    models = "chatgpt:gpt-5.5+fault=status,status=429,retry_after=3,fail_times=1"
    await open_page(page, f"{gateway.url}/?models={models}")
    await ask(page, "Rate limited first")
    status = answer(page, "chatgpt").locator(".status")
    await expect(status).to_have_text("retrying 2/3 in 3 s")
    await status_is(page, "chatgpt", "complete")
    await expect(status).to_have_text("complete")


async def test_search_in_the_sidebar_and_export_download(gateway, page, tmp_path):  # noqa: F811
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        for prompt in ("Tell me about glaciers", "A recipe for bread"):
            response = await client.post(
                "/api/v1/chat/", json={"prompt": prompt, "models": ["claude", "gemini"]}
            )
            assert response.status_code == 200
    await open_page(page, gateway.url)
    await page.fill("#conversation-search", "glacier")
    hits = page.locator("#search-results .search-hit")
    await expect(hits).to_have_count(1)
    await expect(hits.first.locator(".conv-title")).to_have_text("Tell me about glaciers")
    await expect(page.locator("#conversation-list")).to_be_hidden()
    await hits.first.locator(".conv-open").click()
    await expect(page.locator("#title")).to_have_text("Tell me about glaciers")

    await page.fill("#conversation-search", "zzyzx")
    await expect(page.locator("#search-empty")).to_be_visible()
    await page.press("#conversation-search", "Escape")
    await expect(page.locator("#conversation-list .conversation")).to_have_count(2)

    link = page.locator("#export-markdown")
    await expect(link).to_be_visible()
    # A download carries no extra header of the browser's, but the session cookie.
    await page.context.request.post(f"{gateway.url}/api/v1/session", data={"key": TEST_KEY})
    async with page.expect_download(timeout=WAIT) as info:
        await link.click()
    download = await info.value
    assert download.suggested_filename.endswith("-tell-me-about-glaciers.md")
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    text = saved.read_text()
    assert text.startswith("# Tell me about glaciers")
    assert expected("claude", "Tell me about glaciers") in text
    assert expected("gemini", "Tell me about glaciers") in text
