"""The comparison page at /, in a real headless Chromium (Debian's chromium, driven by Playwright).

The page is a client of the public API only: POST /api/v1/turns, then a browser EventSource on
the events_url. Every test runs a real gateway on uvicorn whose providers are simulated.

No browser on this machine: the tests are skipped, except under CI=true, where that fails.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import httpx

from providers import PROVIDERS
from tests.support.browser import expect
from tests.support.page_helpers import (
    ALL,
    CuttableProxy,
    answer,
    ask,
    every_column_has_text,
    expected,
    hash_params,
    install_text_checker,
    last_turn,
    open_page,
    paced_expected,
    status_is,
    text_of,
    text_violations,
)
from tests.support.turn_helpers import API

STATIC = Path(__file__).resolve().parents[2] / "gateway" / "static"


# -- tests ---------------------------------------------------------------------------------------


async def test_page_and_assets_are_served_from_the_gateway(gateway):
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        page = await http.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "connect-src 'self'" in policy
        assert '<script type="module" src="/static/app.js">' in page.text
        modules = [(path.name, "text/javascript") for path in sorted(STATIC.glob("*.js"))]
        for asset, kind in [
            ("app.js", "text/javascript"),
            ("turn.js", "text/javascript"),
            ("markdown.js", "text/javascript"),
            *modules,
            ("style.css", "text/css"),
        ]:
            response = await http.get(f"/static/{asset}")
            assert response.status_code == 200
            assert response.headers["content-type"].startswith(kind)
        assert (await http.get("/static/nope.js")).status_code == 404
    # No provider text can become markup: the page's code has no way to parse HTML at all.
    scripts = "".join(path.read_text() for path in STATIC.glob("*.js"))
    assert not re.search(
        r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|DOMParser|"
        r"createContextualFragment|\beval\(|new Function",
        scripts,
    )
    # The names people know the providers by come from GET /api/v1/providers, not the page.
    assert not [p.display_name for p in PROVIDERS.values() if f'"{p.display_name}"' in scripts]


async def test_five_providers_fill_their_columns_live(gateway, page, artifacts_dir):
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))
    await open_page(page, gateway.url + "/")
    chips = page.locator("#providers .chip")
    assert await chips.count() == 5
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        listed = (await http.get("/api/v1/providers")).json()
    assert await chips.locator(".chip-name").all_text_contents() == [
        p["display_name"] for p in listed
    ]
    assert [p["display_name"] for p in listed] == [p.display_name for p in PROVIDERS.values()]
    assert await page.locator("#providers .chip .tag-sim").count() == 5  # all simulated
    await expect(page.locator("#welcome")).to_be_visible()

    # Shift+Enter is a new line, Enter sends.
    await page.fill("#prompt", "Name three rivers")
    await page.press("#prompt", "Shift+Enter")
    await page.keyboard.type("and one sea")
    await page.press("#prompt", "Enter")
    prompt = "Name three rivers\nand one sea"

    for provider in ALL:
        await status_is(page, provider, "complete")
    assert await last_turn(page).locator(".prompt-text").text_content() == prompt
    for provider in ALL:
        assert await text_of(page, provider) == expected(provider, prompt)
        column = answer(page, provider)
        figures = {
            metric: await column.locator(f'dd[data-metric="{metric}"]').text_content()
            for metric in ("ttft", "speed", "total", "tokens")
        }
        assert re.fullmatch(r"\d+ ms|\d+\.\d+ s", figures["ttft"]), figures
        assert re.fullmatch(r"\d+(\.\d)? tok/s", figures["speed"]), figures
        assert re.fullmatch(r"\d+ ms|\d+\.\d+ s", figures["total"]), figures
        assert re.fullmatch(r"\d+ in · 12 out", figures["tokens"]), figures
    # The comparison: one bar per provider and metric, drawn.
    for metric in ("ttft", "speed", "total"):
        bars = last_turn(page).locator(f'.compare .chart[data-metric="{metric}"] .bar')
        assert await bars.count() == 5
        widths = await bars.evaluate_all("(bars) => bars.map((b) => b.offsetWidth)")
        assert all(width > 0 for width in widths), (metric, widths)
    await expect(page.locator("#send")).to_be_visible()
    assert await page.locator("#conversation-list .conversation").count() == 1
    await page.screenshot(path=artifacts_dir / "page-five-complete.png")
    # Nothing came from anywhere but the gateway (no CDN: the page works offline).
    assert requests and all(url.startswith(gateway.url) for url in requests), requests


async def test_stop_one_provider_mid_stream(gateway, page):
    prompt = "Tell me a long story"
    texts = {p: expected(p, prompt) for p in ("chatgpt", "gemini")}
    await install_text_checker(page, {**texts, "claude": expected("claude", prompt, 200)})
    slow = "claude:claude-sonnet-5+tokens=200,gap=40"
    await open_page(page, f"{gateway.url}/?models={slow},chatgpt,gemini")
    # The model from the URL is the one chosen in the Models popover (knobs and all).
    assert await page.locator('#model-list select[name="model-claude"]').input_value() == (
        "claude-sonnet-5+tokens=200,gap=40"
    )
    await ask(page, prompt)
    await status_is(page, "chatgpt", "complete")
    await status_is(page, "gemini", "complete")
    await every_column_has_text(page, ["claude"])
    assert await answer(page, "claude").get_attribute("data-status") == "streaming"
    await expect(page.locator("#stop-all")).to_be_visible()

    await answer(page, "claude").get_by_role("button", name="Stop Claude").click()
    await status_is(page, "claude", "cancelled")
    partial = await text_of(page, "claude")
    full = expected("claude", prompt, 200)
    assert partial and full.startswith(partial) and len(partial) < len(full)
    for provider in ("chatgpt", "gemini"):
        assert await text_of(page, provider) == expected(provider, prompt)
    await expect(page.locator("#send")).to_be_visible()  # the turn ended
    assert await text_violations(page) == []
    # What the page shows is what was stored.
    conversation_id = hash_params(page.url)["conversation"]
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        messages = (await http.get(f"/api/v1/conversations/{conversation_id}")).json()["messages"]
    stored = {m["provider"]: m for m in messages if m["role"] == "assistant"}
    assert stored["claude"]["status"] == "cancelled"
    assert stored["claude"]["content"] == partial


async def test_stop_all(gateway, page):
    slow = "+tokens=200,gap=40"
    await open_page(page, f"{gateway.url}/?models=claude:m{slow},gemini:m{slow}")
    await ask(page, "Count to a thousand")
    await every_column_has_text(page, ["claude", "gemini"])
    await page.click("#stop-all")
    for provider in ("claude", "gemini"):
        await status_is(page, provider, "cancelled")
    await expect(page.locator("#send")).to_be_visible()


async def test_failed_providers_show_their_error(gateway, page):
    models = "claude,chatgpt:gpt-5.5+fault=midstream,grok:grok-4.3+fault=status,status=500"
    await open_page(page, f"{gateway.url}/?models={models}")
    prompt = "Why is the sky blue?"
    await ask(page, prompt)
    await status_is(page, "chatgpt", "failed")
    await status_is(page, "grok", "failed")
    await status_is(page, "claude", "complete")
    assert await text_of(page, "claude") == expected("claude", prompt)

    chatgpt_error = answer(page, "chatgpt").locator(".answer-error")
    await expect(chatgpt_error).to_be_visible()
    assert (await chatgpt_error.text_content()).strip()
    partial = await text_of(page, "chatgpt")
    assert partial and expected("chatgpt", prompt).startswith(partial)  # keeps what arrived

    grok_error = answer(page, "grok").locator(".answer-error")
    await expect(grok_error).to_be_visible()
    assert "500" in await grok_error.text_content()
    await expect(answer(page, "grok").locator(".stop-one")).to_be_hidden()  # nothing left to stop


async def test_connection_cut_mid_stream_loses_and_repeats_nothing(paced_gateway, page):
    proxy = await CuttableProxy(paced_gateway.port).start()
    try:
        prompt = "Explain recursion to a five-year-old"
        texts = paced_expected(prompt)
        await install_text_checker(page, texts)
        await open_page(page, proxy.url + "/")
        await ask(page, prompt)
        await every_column_has_text(page, ALL)
        assert proxy.cut() >= 1  # the event stream's connection dies mid-turn
        assert await answer(page, "claude").get_attribute("data-status") != "complete"

        for provider in ALL:
            await status_is(page, provider, "complete")
        for provider in ALL:
            assert await text_of(page, provider) == texts[provider]
        assert await text_violations(page) == []
        # The browser did reconnect, saying where it was.
        resumed = [after for _, after in proxy.event_requests() if after]
        assert resumed, proxy.event_requests()
    finally:
        await proxy.close()


async def test_replayed_events_are_not_shown_twice(paced_gateway, page, artifacts_dir):
    prompt = "Explain recursion to a five-year-old"
    texts = paced_expected(prompt)
    await install_text_checker(page, texts)
    await open_page(page, paced_gateway.url + "/")
    await ask(page, prompt)
    await every_column_has_text(page, ALL)
    await page.screenshot(path=artifacts_dir / "page-mid-stream.png")
    # Re-open every live stream from event 0: every event seen so far arrives again.
    await page.evaluate("() => window.multichat.replayFromStart()")
    for provider in ALL:
        await status_is(page, provider, "complete")
    for provider in ALL:
        assert await text_of(page, provider) == texts[provider]
    assert await text_violations(page) == []
    await page.screenshot(path=artifacts_dir / "page-complete.png")
    assert await page.evaluate("() => window.__textChecks") > 10


async def test_reload_mid_turn_picks_the_turn_up_again(paced_gateway, page):
    prompt = "What is a black hole?"
    texts = paced_expected(prompt)
    await install_text_checker(page, texts)
    await open_page(page, paced_gateway.url + "/")
    await ask(page, prompt)
    await every_column_has_text(page, ALL)
    params = hash_params(page.url)
    assert "turn" in params and "conversation" in params

    await page.reload()
    await page.wait_for_selector("html[data-ready]")
    for provider in ALL:
        await status_is(page, provider, "complete")
    assert await page.locator("#turns > .turn").count() == 1
    assert await last_turn(page).locator(".prompt-text").text_content() == prompt
    for provider in ALL:
        assert await text_of(page, provider) == texts[provider]
    assert await text_violations(page) == []
    await page.wait_for_function("() => !location.hash.includes('turn=')")
    # The finished turn is also what a fresh page shows.
    await page.reload()
    await status_is(page, "gemini", "complete")
    assert await page.locator("#turns > .turn").count() == 1
    assert await text_of(page, "gemini") == texts["gemini"]


async def test_html_in_an_answer_is_shown_as_text_and_runs_nothing(gateway, page):
    prompt = (
        '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script> '
        "**bold** and `code`"
    )
    await open_page(page, f"{gateway.url}/?models=claude,chatgpt")
    await ask(page, prompt)
    for provider in ("claude", "chatgpt"):
        await status_is(page, provider, "complete")
    for provider in ("claude", "chatgpt"):
        text = await text_of(page, provider)
        assert '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>' in text
        column = answer(page, provider)
        assert await column.locator(".answer-text strong").text_content() == "bold"
        assert await column.locator(".answer-text code").text_content() == "code"
    assert await page.locator("#turns img, #turns script, #sidebar script").count() == 0
    assert await last_turn(page).locator(".prompt-text").text_content() == prompt
    title = page.locator("#conversation-list .conv-title").first
    assert "<script>" in await title.text_content()
    assert await page.evaluate("() => window.__pwned") is None


async def test_the_markdown_renderer_builds_nodes_and_never_markup(gateway, page):
    await open_page(page, gateway.url + "/")
    rendered = await page.evaluate(
        """async (cases) => {
            const { renderMarkdown } = await import("/static/markdown.js");
            return cases.map((text) => {
              const box = document.createElement("div");
              renderMarkdown(text, box);
              const tags = [...box.querySelectorAll("*")].map((el) => el.tagName.toLowerCase());
              return { tags, text: box.textContent };
            });
        }""",
        [
            "a **b** *c* `d`",
            "```html\n<b>x</b><script>window.__pwned=1</script>\n```\nafter",
            "# Title\nfirst line\nsecond line\n\nnext paragraph",
            "2 * 3 * 4 and snake_case_name and **unclosed",
            '<img src=x onerror="window.__pwned=1">',
        ],
    )
    assert rendered[0] == {"tags": ["p", "strong", "em", "code"], "text": "a b c d"}
    code_block = ["div", "div", "button", "svg", "path", "pre", "code"]  # head, copy, code
    assert rendered[1]["tags"] == [*code_block, "p"]
    assert rendered[1]["text"] == "<b>x</b><script>window.__pwned=1</script>after"
    assert rendered[2]["tags"] == ["h4", "p", "p"]  # below the page's own headings
    assert rendered[2]["text"] == "Titlefirst line\nsecond linenext paragraph"
    assert rendered[3] == {
        "tags": ["p"],
        "text": "2 * 3 * 4 and snake_case_name and **unclosed",
    }
    assert rendered[4] == {"tags": ["p"], "text": '<img src=x onerror="window.__pwned=1">'}
    assert await page.evaluate("() => window.__pwned") is None


async def test_conversations_create_rename_reopen_delete(gateway, page):
    from playwright.async_api import expect

    await open_page(page, f"{gateway.url}/?models=claude,gemini")
    await ask(page, "first question")
    await status_is(page, "gemini", "complete")
    await status_is(page, "claude", "complete")
    items = page.locator("#conversation-list .conversation")
    await expect(items).to_have_count(1)
    await expect(items.first.locator(".conv-title")).to_have_text("first question")
    await ask(page, "second question")  # continues the same conversation
    await expect(page.locator("#turns > .turn")).to_have_count(2)
    await status_is(page, "gemini", "complete")
    await status_is(page, "claude", "complete")
    await expect(items).to_have_count(1)
    conversation_id = hash_params(page.url)["conversation"]

    await items.first.get_by_role("button", name=re.compile("^Rename")).click()
    await page.fill(".conv-title-input", "Rivers and seas")
    await page.press(".conv-title-input", "Enter")
    await expect(items.first.locator(".conv-title")).to_have_text("Rivers and seas")
    await expect(page.locator("#title")).to_have_text("Rivers and seas")

    await page.click("#new-chat")
    await expect(page.locator("#welcome")).to_be_visible()
    await expect(page.locator("#turns > .turn")).to_have_count(0)
    await expect(page.locator("#title")).to_have_text("New comparison")

    await items.first.locator(".conv-open").click()
    turns = page.locator("#turns > .turn")
    await expect(turns).to_have_count(2)
    for index, prompt in enumerate(["first question", "second question"]):
        turn = turns.nth(index)
        assert await turn.locator(".prompt-text").text_content() == prompt
        for provider in ("claude", "gemini"):
            await status_is(page, provider, "complete", turn)
            assert await text_of(page, provider, turn) == expected(provider, prompt)
            assert (
                "12 out"
                in await answer(page, provider, turn)
                .locator('dd[data-metric="tokens"]')
                .text_content()
            )
        # Side by side: the two answers of a turn share a row.
        boxes = [await answer(page, p, turn).bounding_box() for p in ("claude", "gemini")]
        assert boxes[0]["y"] == boxes[1]["y"] and boxes[0]["x"] < boxes[1]["x"]
    assert hash_params(page.url)["conversation"] == conversation_id

    async with httpx.AsyncClient(base_url=gateway.url) as http:
        stored = (await http.get(f"/api/v1/conversations/{conversation_id}")).json()
        assert stored["title"] == "Rivers and seas"
        assert len(stored["messages"]) == 6

        await items.first.get_by_role("button", name=re.compile("^Delete")).click()
        await page.click(".confirm-delete")
        await expect(items).to_have_count(0)
        await expect(page.locator("#conversation-empty")).to_be_visible()
        await expect(page.locator("#welcome")).to_be_visible()
        response = await http.get(f"/api/v1/conversations/{conversation_id}")
        assert response.status_code == 404


async def test_a_question_sent_while_its_conversation_opens_goes_into_it(gateway, page):
    """Sent before the conversation the address names is on screen (its GET held here), a
    question used to start a conversation of its own, and the opening then drew the old one over
    it: the page showed one turn and the question was nowhere in sight."""
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        body = {"prompt": "An earlier question", "models": ["claude"]}
        conversation = (await http.post(f"{API}/chat/", json=body)).json()["conversation_id"]
    held, release = asyncio.Event(), asyncio.Event()

    async def hold(route):
        held.set()
        await release.wait()
        await route.continue_()

    await page.route(re.compile(rf"/api/v1/conversations/{conversation}(\?.*)?$"), hold)
    await page.goto(f"{gateway.url}/?models=claude,gemini#conversation={conversation}")
    await asyncio.wait_for(held.wait(), 15)
    await ask(page, "A question while it opens")
    release.set()

    turns = page.locator("#turns > .turn")
    await expect(turns).to_have_count(2)
    await expect(last_turn(page).locator(".prompt-text")).to_have_text("A question while it opens")
    await status_is(page, "claude", "complete")
    await status_is(page, "gemini", "complete")
    assert hash_params(page.url)["conversation"] == str(conversation)
    await expect(page.locator("#conversation-list .conversation")).to_have_count(1)
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        stored = (await http.get(f"{API}/conversations/{conversation}")).json()
    assert [m["content"] for m in stored["messages"] if m["role"] == "user"] == [
        "An earlier question",
        "A question while it opens",
    ]


async def test_the_sidebar_pages_through_many_conversations(gateway, page):
    from playwright.async_api import expect

    async with httpx.AsyncClient(base_url=gateway.url) as http:
        for number in range(1, 131):
            response = await http.post("/api/v1/conversations/", json={"title": f"chat {number}"})
            assert response.status_code == 201
    await open_page(page, gateway.url + "/")
    items = page.locator("#conversation-list .conversation")
    await expect(items).to_have_count(50)
    await expect(items.first.locator(".conv-title")).to_have_text("chat 130")  # newest first
    for shown in (100, 130):
        await page.click("#more-conversations")
        await expect(items).to_have_count(shown)
    await expect(page.locator("#more-conversations")).to_be_hidden()
    await expect(items.last.locator(".conv-title")).to_have_text("chat 1")
