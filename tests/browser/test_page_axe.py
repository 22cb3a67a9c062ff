"""No barriers, in Chromium: axe-core (npm's, pinned in tests/browser and installed by `make
test`) finds no violation on the page's screens in either colour scheme (the first view, a
finished five-way turn, three turns, a blind turn before and after its vote, the leaderboard,
the popovers and the help, a phone, a turn with a fused answer and its menu, a prompt edited
with its models, the share dialog opened from a turn); and the keyboard: a skip link, one Tab
stop per list of conversations, and the shortcuts the help lists."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.browser import IN_CI, PHONE, WAIT, expect
from tests.support.page_helpers import ALL, answer, ask, last_turn, open_page, status_is
from tests.support.turn_helpers import API

AXE = Path(__file__).parent / "node_modules" / "axe-core" / "axe.min.js"
SHORT = ",".join(f"{p}:m+tokens=40" for p in ALL)  # Markdown (lists, headings) in each


@pytest.fixture(scope="module")
def axe_source() -> str:
    if not AXE.exists():
        reason = f"no axe-core at {AXE}: `make test` installs it (npm ci in tests/browser)"
        if IN_CI:
            pytest.fail(f"{reason} (CI=true: the accessibility checks must run)")
        pytest.skip(reason)
    return AXE.read_text()


async def violations(page, axe_source: str) -> list[str]:
    """axe-core's violations on the page as it is now, one line each."""
    if not await page.evaluate("() => typeof window.axe === 'object'"):
        await page.evaluate(axe_source)  # the page's own CSP does not apply to the test's code
    result = await page.evaluate("() => axe.run(document, { resultTypes: ['violations'] })")
    return [
        f"{v['id']} ({v['impact']}, {len(v['nodes'])}×): {v['help']} "
        f"{[node['target'] for node in v['nodes'][:4]]}"
        for v in result["violations"]
    ]


async def check(page, axe_source: str, screen: str, found: dict) -> None:
    """Both colour schemes of one screen (the page follows the system's until told)."""
    for scheme in ("light", "dark"):
        await page.emulate_media(color_scheme=scheme)
        await expect(page.locator("html")).to_have_attribute("data-theme", scheme)
        if problems := await violations(page, axe_source):
            found[f"{screen} ({scheme})"] = problems


async def test_no_axe_violations_on_the_desktop_screens(gateway, page, axe_source):
    found: dict[str, list[str]] = {}
    await open_page(page, f"{gateway.url}/?models={SHORT}")
    await check(page, axe_source, "first view", found)
    await ask(page, "Explain recursion to a five-year-old")
    for provider in ALL:
        await status_is(page, provider, "complete")
    await check(page, axe_source, "a finished five-way turn", found)
    for prompt in ("Three tips for writing clear emails", "What is the capital of Australia?"):
        await ask(page, prompt)
        await expect(page.locator("#turns > .turn")).to_have_count(3 if "capital" in prompt else 2)
        # Finished, not only shown: #send is visible too while a turn is still being sent,
        # and a prompt asked then is not a new turn.
        for provider in ALL:
            await status_is(page, provider, "complete")
    await check(page, axe_source, "three turns", found)
    await page.click("#settings-open")
    await check(page, axe_source, "settings", found)
    await page.keyboard.press("Escape")
    await page.click("#models-open")
    await check(page, axe_source, "models", found)
    await page.keyboard.press("Escape")

    await page.click("#new-chat")
    await page.check("#blind")
    await ask(page, "Which of you explains tides best?")
    await expect(page.locator('.vote-button[data-vote="A"]')).to_be_enabled()
    await check(page, axe_source, "blind, before the vote", found)
    await page.get_by_role("button", name="Rank them…").click()
    await check(page, axe_source, "blind, ranking", found)
    await page.locator('.vote-button[data-vote="C"]').click()
    await expect(page.locator(".vote-summary")).to_be_visible()
    await check(page, axe_source, "blind, after the vote", found)
    await page.get_by_role("link", name="Leaderboard").click()
    await expect(page.locator(".leaderboard-table tbody tr")).to_have_count(5)
    await check(page, axe_source, "leaderboard", found)
    await page.click("#help-open")
    await check(page, axe_source, "help", found)
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())


@pytest.mark.parametrize("context", [PHONE], indirect=True)
async def test_no_axe_violations_on_a_phone(gateway, page, axe_source, artifacts_dir):
    found: dict[str, list[str]] = {}
    await open_page(page, f"{gateway.url}/?models=claude:m+tokens=40,chatgpt,perplexity")
    await check(page, axe_source, "phone, first view", found)
    await ask(page, "Hello from a phone")
    for provider in ("claude", "chatgpt", "perplexity"):
        await status_is(page, provider, "complete")
    await check(page, axe_source, "phone, a turn", found)
    turn = last_turn(page)
    await turn.get_by_role("button", name="Edit this prompt").click()
    await expect(turn.get_by_role("group", name="Models to answer it")).to_be_visible()
    await page.screenshot(path=artifacts_dir / "phone-edit-with-models.png")
    await check(page, axe_source, "phone, editing a prompt and its models", found)
    await turn.get_by_role("button", name="Cancel").click()
    await turn.get_by_role("button", name="Share this question").click()
    await expect(page.locator("#share-dialog-title")).to_have_text("Share this question")
    await expect(page.locator("#share-create")).to_be_enabled()
    await page.screenshot(path=artifacts_dir / "phone-share-one-turn.png")
    await check(page, axe_source, "phone, sharing one question", found)
    await page.get_by_role("button", name="Close").click()
    await expect(page.locator("#share-dialog")).to_be_hidden()
    await page.click("#menu-toggle")
    await page.locator("#sidebar").wait_for(state="visible")
    await check(page, axe_source, "phone, the menu", found)
    await page.get_by_role("link", name="Leaderboard").click()
    await expect(page.locator("#leaderboard")).to_be_visible()
    await check(page, axe_source, "phone, leaderboard", found)
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())


async def test_the_keyboard_skip_link_one_stop_per_list_and_shortcuts(gateway, page):
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        for prompt in ("first", "second", "third"):
            await http.post(f"{API}/chat/", json={"prompt": prompt, "models": ["claude"]})
    await open_page(page, gateway.url + "/")
    items = page.locator("#conversation-list .conv-open")
    await expect(items).to_have_count(3)

    # The first Tab stop is the skip link; it takes the focus to the conversation.
    first = await page.evaluate(
        "() => document.querySelector('a[href], button, input, select, textarea').className"
    )
    assert first == "skip-link"
    skip = page.locator(".skip-link")
    await skip.focus()
    await expect(skip).to_be_visible()  # shown once focused
    await page.keyboard.press("Enter")
    await expect(page.locator("#main")).to_be_focused()

    # One Tab stop for the whole list; the arrows move within it, Right reaches Rename.
    await page.focus("#conversation-search")
    await page.keyboard.press("Tab")
    await expect(items.nth(0)).to_be_focused()
    await page.keyboard.press("Tab")
    focused = await page.evaluate("() => document.activeElement.closest('#conversation-list')")
    assert focused is None, "the next Tab leaves the list"
    await page.keyboard.press("Shift+Tab")
    await expect(items.nth(0)).to_be_focused()
    await page.keyboard.press("ArrowDown")
    await expect(items.nth(1)).to_be_focused()
    await page.keyboard.press("ArrowRight")
    await expect(
        page.locator("#conversation-list li").nth(1).locator(".conv-rename")
    ).to_be_focused()
    await page.keyboard.press("ArrowLeft")
    await expect(items.nth(1)).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(page.locator("#title")).to_have_text("second")

    # The shortcuts: ? (the help, which lists them), n, /.
    await page.locator("#title").click()
    await page.keyboard.press("?")
    help_dialog = page.locator("#help")
    await expect(help_dialog).to_be_visible()
    await expect(help_dialog).to_contain_text("a new comparison")
    await page.keyboard.press("Escape")
    await expect(help_dialog).to_be_hidden()
    await page.keyboard.press("n")
    await expect(page.locator("#title")).to_have_text("New comparison")
    await expect(page.locator("#prompt")).to_be_focused()
    await page.locator("#title").click()
    await page.keyboard.press("/")
    await expect(page.locator("#conversation-search")).to_be_focused()
    # Turned off in Settings, a letter is only a letter.
    await page.click("#settings-open")
    await page.uncheck("#pref-single-keys")
    await page.keyboard.press("Escape")
    await page.locator("#title").click()
    await page.keyboard.press("?")
    await expect(help_dialog).to_be_hidden()


async def test_no_axe_violations_on_sharing(gateway, page, browser, axe_source):
    """The Share dialog, and what a link opens (#25): a conversation with a finished turn and a
    blind one not voted on yet (withheld), and a shared leaderboard; in a keyless context."""
    found: dict[str, list[str]] = {}
    await open_page(page, f"{gateway.url}/?models={SHORT}")
    await ask(page, "Explain recursion to a five-year-old")
    for provider in ALL:
        await status_is(page, provider, "complete")
    await page.check("#blind")
    await ask(page, "Which of you explains tides best?")
    await expect(page.locator('.vote-button[data-vote="A"]')).to_be_enabled()
    await page.click("#share-open")
    await page.check("#share-costs")
    await page.check("#share-settings")
    await page.click("#share-create")
    await expect(page.locator("#share-result")).to_be_visible()
    await check(page, axe_source, "the share dialog", found)
    conversation_link = await page.locator("#share-url").input_value()
    await page.locator("#share-close").click()
    await (
        page.locator("#turns > .turn")
        .first.get_by_role("button", name="Share this question")
        .click()
    )
    await expect(page.locator("#share-dialog-title")).to_have_text("Share this question")
    await expect(page.locator("#share-create")).to_be_enabled()
    await check(page, axe_source, "the share dialog, one question", found)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as http:
        board = await http.post(f"{API}/leaderboard/share", json={"live": True})
        board_link = board.json()["url"]

    stranger = await browser.new_context()
    try:
        view = await stranger.new_page()
        await open_page(view, conversation_link)
        await expect(view.locator('.share-answer[data-withheld="true"]').first).to_be_visible()
        await check(view, axe_source, "a shared conversation", found)
        await open_page(view, board_link)
        await check(view, axe_source, "a shared leaderboard", found)
        await open_page(view, conversation_link[:-4] + "AAAA")
        await check(view, axe_source, "a link that is not shared", found)
    finally:
        await stranger.close()
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())


async def test_no_axe_violations_on_a_fused_turn(gateway, page, axe_source):
    found: dict[str, list[str]] = {}
    models = ",".join(f"{p}:m+tokens=40" for p in ALL)
    await open_page(page, f"{gateway.url}/?models={models}")
    await ask(page, "Fuse, accessibly")
    for provider in ALL:
        await status_is(page, provider, "complete")
    turn = page.locator("#turns > .turn").last
    await turn.get_by_role("button", name="Fuse with ▾").click()
    await expect(turn.locator(".fuse-menu")).to_be_visible()
    await check(page, axe_source, "the fuse menu", found)
    await turn.locator('.fuse-judge[data-judge="gemini"]').click()
    await expect(turn.locator(".fusion .fusion-source")).to_have_count(5, timeout=WAIT)
    await check(page, axe_source, "a turn with a fused answer", found)


async def test_no_axe_violations_on_the_pagers_and_the_edit_form(gateway, page, axe_source):
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        body = {"prompt": "Page me", "models": ["claude", "gemini"]}
        first = (await client.post(f"{API}/chat/", json=body)).json()
        retry = await client.post(
            f"{API}/turns/{first['turn_id']}/retry", json={"providers": ["gemini"]}
        )
        assert retry.status_code == 202
        async with client.stream("GET", retry.json()["events_url"]) as events:
            async for _ in events.aiter_lines():  # to the run's end
                pass
        edited = await client.post(
            f"{API}/turns/{first['turn_id']}/edit", json={"prompt": "Page me again"}
        )
        assert edited.status_code == 201
        async with client.stream("GET", edited.json()["events_url"]) as events:
            async for _ in events.aiter_lines():
                pass
        await client.put(
            f"{API}/conversations/{first['conversation_id']}/current",
            json={"turn_id": first["turn_id"]},
        )
        cid = first["conversation_id"]
    found: dict[str, list[str]] = {}
    await open_page(page, f"{gateway.url}/#conversation={cid}")
    await expect(last_turn(page).locator(".branch-pager .pager-count")).to_have_text("1/2")
    await expect(answer(page, "gemini").locator(".run-pager .pager-count")).to_have_text("2/2")
    await check(page, axe_source, "the branch and run pagers", found)
    await last_turn(page).locator(".edit-prompt").click()
    await expect(last_turn(page).locator(".edit-field")).to_be_focused()
    models = last_turn(page).get_by_role("group", name="Models to answer it")
    await models.locator('input[value="grok"]').check()  # the edit's own choice of models
    await check(page, axe_source, "editing a prompt and its models", found)
    assert not found, found
