"""The comparison page's answers in Chromium: Markdown as answers use it (and never as markup),
incremental rendering, honest figures, Escape, and deleting several conversations at once.

Fixtures are tests/browser/conftest.py's (one browser per module, a gateway per test on the
session's simulator).
"""

from __future__ import annotations

import json

import httpx
import pytest

from tests.support.browser import expect
from tests.support.credentials import BROWSER_HEADERS
from tests.support.gateways import start_gateway
from tests.support.page_helpers import answer, ask, last_turn, open_page, status_is
from tests.support.paths import DATA

CORPUS = json.loads((DATA / "markdown_corpus.json").read_text())


async def render_all(page, texts: list[str]) -> list[dict]:
    """Each text through renderMarkdown: its element tree as (tag, attributes) and its text."""
    return await page.evaluate(
        """async (texts) => {
            const { renderMarkdown } = await import("/static/markdown.js");
            return texts.map((text) => {
              const box = document.createElement("div");
              renderMarkdown(text, box);
              const els = [...box.querySelectorAll("*")];
              return {
                tags: els.map((el) => el.tagName.toLowerCase()),
                attrs: els.flatMap((el) => [...el.attributes].map((a) => [el.tagName.toLowerCase(), a.name, a.value])),
                text: box.textContent,
                links: [...box.querySelectorAll("a")].map((a) => ({
                  href: a.getAttribute("href"), target: a.target, rel: a.rel, text: a.textContent })),
              };
            });
        }""",
        texts,
    )


def tags_of(result: dict, *wanted: str) -> list[str]:
    return [tag for tag in result["tags"] if tag in wanted]


async def test_markdown_as_answers_write_it(gateway, page):
    await open_page(page, gateway.url + "/")
    cases = {case["name"]: case for case in CORPUS["real"]}
    rendered = await render_all(page, [c["text"] for c in cases.values()])
    results = dict(zip(cases, rendered, strict=True))
    wrong = []
    for name, case in cases.items():
        got = results[name]
        for tag, count in case["expect"].items():
            if got["tags"].count(tag) != count:
                wrong.append((name, tag, count, got["tags"]))
        for piece in case.get("text_has", []):
            if piece not in got["text"]:
                wrong.append((name, "has", piece, got["text"]))
        for piece in case.get("text_lacks", []):
            if piece in got["text"]:
                wrong.append((name, "lacks", piece, got["text"]))
    assert wrong == []

    nested = results["nested lists"]
    # The sub-items are inside the first list's items, not beside them.
    nesting = await page.evaluate(
        """async (text) => {
            const { renderMarkdown } = await import("/static/markdown.js");
            const box = document.createElement("div");
            renderMarkdown(text, box);
            return [...box.querySelectorAll("li > ul > li, li > ol > li")].map((li) => li.firstChild.textContent);
        }""",
        cases["nested lists"]["text"],
    )
    assert nesting == ["Sub one", "Sub two", "Deeper", "Numbered sub"], (nesting, nested)

    table = results["table"]
    assert ["th", "class", "align-center"] in table["attrs"]
    assert ["td", "class", "align-right"] in table["attrs"]

    links = results["links"]["links"]
    assert [link["href"] for link in links] == [
        "https://example.com/docs",
        "http://example.org/a_(b)",
        "https://auto.example.com/x",
        "https://bare.example.com/path?q=1",
    ]
    assert all(
        link["target"] == "_blank" and link["rel"] == "noopener noreferrer" for link in links
    )

    code = results["fenced code"]
    assert ["div", "data-lang", "python"] in code["attrs"]  # the label, shown by CSS
    assert "def f(x):\n    return x * 2" in code["text"]
    assert "python" not in code["text"]  # the label is not part of the answer's text


async def test_malicious_markdown_is_shown_as_text_and_runs_nothing(gateway, page):
    await open_page(page, gateway.url + "/")
    cases = CORPUS["malicious"]
    results = await render_all(page, [case["text"] for case in cases])
    allowed_attrs = {"class", "href", "target", "rel", "title", "start", "data-lang",
                     "type", "aria-label", "aria-hidden", "viewBox", "focusable", "d",
                     "viewbox", "tabindex", "role"}  # fmt: skip
    for case, got in zip(cases, results, strict=True):
        assert not set(got["tags"]) & {
            "script",
            "img",
            "iframe",
            "svg",
            "object",
            "style",
            "form",
            "input",
            "embed",
            "video",
            "audio",
            "math",
        } - ({"svg"} if "button" in got["tags"] else set()), (case["name"], got["tags"])
        for tag, name, value in got["attrs"]:
            assert name in allowed_attrs, (case["name"], tag, name, value)
            assert not name.startswith("on"), (case["name"], tag, name)
        for link in got["links"]:
            assert link["href"].startswith(("http://", "https://")), (case["name"], link)
        for piece in case.get("text_has", []):
            assert piece in got["text"], (case["name"], piece, got["text"])
    assert await page.evaluate("() => window.__pwned") is None


async def test_streamed_markdown_keeps_finished_blocks_and_ends_as_a_whole_render(gateway, page):
    """Fed in small pieces, MarkdownView ends with exactly what one render of the whole text
    gives, builds a finished block once (the same node stays), and only re-reads the open
    block: the work per update does not grow with the text before it."""
    await open_page(page, gateway.url + "/")
    texts = [case["text"] for case in CORPUS["real"]]
    result = await page.evaluate(
        """async (texts) => {
            const { MarkdownView, renderMarkdown } = await import("/static/markdown.js");
            const mismatches = [];
            for (const text of texts) {
              for (const step of [1, 3, 7, 40]) {
                const box = document.createElement("div");
                const view = new MarkdownView(box);
                for (let at = step; at < text.length + step; at += step) {
                  view.update(text.slice(0, at), true);
                }
                const whole = document.createElement("div");
                renderMarkdown(text, whole);
                if (box.innerHTML !== whole.innerHTML) mismatches.push({ step, text, got: box.innerHTML, want: whole.innerHTML });
              }
            }
            // A long answer: the first block's node is built once, and late updates re-read
            // only the open block.
            const box = document.createElement("div");
            const view = new MarkdownView(box);
            let text = "";
            let first = null;
            const open = [];
            for (let i = 0; i < 400; i++) {
              text += `## Part ${i}\\n\\nSome *text* for part ${i}.\\n\\n`;
              view.update(text, true);
              if (i === 0) first = box.firstChild;
              open.push(text.length - view.done);
            }
            return { mismatches, firstKept: box.firstChild === first, blocks: box.childElementCount,
                     maxOpen: Math.max(...open), total: text.length };
        }""",
        texts,
    )
    assert result["mismatches"] == []
    assert result["firstKept"] and result["blocks"] == 800
    assert result["maxOpen"] < 80 < result["total"] / 100


async def test_a_live_answer_shows_lists_tables_links_and_code_with_copy(gateway, context, page):
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=gateway.url)
    await open_page(
        page,
        f"{gateway.url}/?models=claude:claude-sonnet-5%2Btokens=400,gemini:gemini-3.5-flash%2Btokens=5000,natural=1,gap=1",
    )
    await ask(page, "Explain recursion to a five-year-old")
    await status_is(page, "claude", "complete")
    await status_is(page, "gemini", "complete")
    claude = answer(page, "claude").locator(".answer-text")
    # ## headings, below the page's own h3 and levelled from the answer's first heading
    assert await claude.locator("h4").count() >= 3
    assert await claude.locator("ul > li > ul > li").count() == 2  # a nested list
    assert await claude.locator("table th").count() == 3
    assert await claude.locator("blockquote").count() == 1
    gemini = answer(page, "gemini").locator(".answer-text")
    link = gemini.locator("a").first
    assert (await link.get_attribute("href")).startswith("https://en.wikipedia.org/")
    assert await link.get_attribute("target") == "_blank"
    assert await link.get_attribute("rel") == "noopener noreferrer"
    assert await gemini.locator("ol > li").count() >= 3

    code = claude.locator(".codeblock").first
    assert await code.locator(".code-head").get_attribute("data-lang") == "python"
    await code.locator(".code-copy").click()
    await expect(code.locator(".code-copy")).to_have_attribute("data-copied", "true")
    copied = await page.evaluate("() => navigator.clipboard.readText()")
    assert copied == await code.locator("pre code").text_content()
    assert copied.startswith("def explain(topic: str) -> str:")


async def test_a_stopped_answer_is_never_ranked_best_and_shows_what_arrived(gateway, page):
    # Claude starts first and would be the fastest at everything, but is stopped.
    models = (
        "claude:claude-sonnet-5%2Btokens=2000,ttft=0,gap=15,"
        "chatgpt:gpt-5.5%2Btokens=12,ttft=400,gap=5,"
        "gemini:gemini-3.5-flash%2Btokens=12,ttft=200,gap=30"
    )
    await open_page(page, f"{gateway.url}/?models={models}")
    await ask(page, "Stop the fastest")
    claude = answer(page, "claude")
    await page.wait_for_function(
        """() => document.querySelector('#turns .answer[data-provider="claude"] .answer-text')
                   .textContent.length > 200"""
    )
    await claude.locator(".stop-one").click()
    for provider in ("claude", "chatgpt", "gemini"):
        await status_is(page, provider, "cancelled" if provider == "claude" else "complete")
    compare = last_turn(page).locator(".compare")
    for metric in ("ttft", "speed", "total"):
        chart = compare.locator(f'.chart[data-metric="{metric}"]')
        assert await chart.locator('.bar-row.best[data-provider="claude"]').count() == 0
        assert await chart.locator('.bar-row.unranked[data-provider="claude"]').count() == 1
        assert await chart.locator(".bar-row.best").count() >= 1, metric
    # Claude's first token came first: without the rule it would be the best.
    assert await compare.locator('.chart[data-metric="ttft"] .best').get_attribute(
        "data-provider"
    ) in ("chatgpt", "gemini")
    tokens = await claude.locator('dd[data-metric="tokens"]').text_content()
    speed = await claude.locator('dd[data-metric="speed"]').text_content()
    assert "≈" in tokens and "out" in tokens, tokens
    assert speed.endswith("tok/s"), speed


async def test_cost_is_shown_per_column_and_turn_when_the_gateway_reports_it(gateway, page):
    await open_page(page, gateway.url + "/")
    costs = await page.evaluate(
        """async () => {
            const { TurnView } = await import("/static/turn.js");
            const done = (provider, cost) => ({ provider, model: "m", status: "complete",
              content: "x", usage: { input_tokens: 3, output_tokens: 5 }, ttft_ms: 10,
              latency_ms: 100, ...(cost === undefined ? {} : { cost_usd: cost }) });
            const view = new TurnView("q");
            view.column("claude").finish(done("claude", 0.0123));
            view.column("chatgpt").finish(done("chatgpt", 0.0002));
            view.column("gemini").finish(done("gemini", null));
            view.changed();
            const bare = new TurnView("q");
            bare.column("claude").finish(done("claude", undefined));
            bare.changed();
            const cost = (v, p) => {
              const dd = v.columns.get(p).el.querySelector('dd[data-metric="cost"]');
              return dd ? dd.textContent : null;
            };
            return { claude: cost(view, "claude"), chatgpt: cost(view, "chatgpt"),
                     gemini: cost(view, "gemini"), turn: view.costEl.hidden ? null : view.costEl.textContent,
                     bare: cost(bare, "claude"), bareTurn: bare.costEl.hidden,
                     figures: view.columns.get("gemini").figuresEl.textContent };
        }"""
    )
    assert "null" not in costs.pop("figures")
    assert costs == {
        "claude": "$0.0123",
        "chatgpt": "$0.0002",
        "gemini": None,
        "turn": "Estimated cost of this turn: $0.0125",
        "bare": None,
        "bareTurn": True,
    }


async def test_escape_stops_the_running_turn(gateway, page):
    slow = "%2Btokens=2000,gap=20"
    await open_page(
        page, f"{gateway.url}/?models=claude:claude-sonnet-5{slow},chatgpt:gpt-5.5{slow}"
    )
    await ask(page, "Go on and on")
    await status_is(page, "claude", "streaming")
    await page.locator("#title").click()  # the focus anywhere on the page
    await page.keyboard.press("Escape")
    await status_is(page, "claude", "cancelled")
    await status_is(page, "chatgpt", "cancelled")
    await expect(page.locator("#send")).to_be_visible()


async def test_columns_scroll_on_their_own_with_their_headers_in_view(gateway, page):
    await open_page(
        page,
        f"{gateway.url}/?models=claude:claude-sonnet-5%2Btokens=900,chatgpt:gpt-5.5%2Btokens=30",
    )
    await ask(page, "A long and a short answer")
    await status_is(page, "claude", "complete")
    await status_is(page, "chatgpt", "complete")
    sizes = await page.evaluate(
        """() => [...document.querySelectorAll("#turns .answer")].map((el) => {
              const body = el.querySelector(".answer-body");
              return { height: el.getBoundingClientRect().height,
                       scrolls: body.scrollHeight > body.clientHeight + 1,
                       headTop: el.querySelector(".answer-head").getBoundingClientRect().top - el.getBoundingClientRect().top };
        })"""
    )
    claude, chatgpt = sizes
    assert abs(claude["height"] - chatgpt["height"]) < 1  # equal height
    assert claude["scrolls"] and not chatgpt["scrolls"]
    await (
        answer(page, "claude")
        .locator(".answer-body")
        .evaluate("(b) => { b.scrollTop = b.scrollHeight; }")
    )
    assert await answer(page, "claude").locator(".answer-name").is_visible()


async def test_titles_are_plain_text_and_several_conversations_delete_at_once(gateway, page):
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        ids = [
            (await http.post("/api/v1/conversations/", json={"title": title})).json()["id"]
            for title in ("## **Bold** `code` title", "second", "third", "fourth")
        ]
    await open_page(page, gateway.url + "/")
    titles = page.locator("#conversation-list .conv-title")
    await expect(titles).to_have_count(4)
    assert "Bold code title" in await titles.all_text_contents()

    await page.locator(".select-toggle").click()
    rows = page.locator("#conversation-list .conversation")
    await rows.filter(has_text="second").locator(".conv-select").check()
    await rows.filter(has_text="fourth").locator(".conv-open").click()  # the row ticks its box
    delete = page.locator(".select-delete")
    await expect(delete).to_have_text("Delete selected (2)")
    await delete.click()
    await expect(delete).to_contain_text("Delete 2 conversations?")
    await delete.click()
    await expect(titles).to_have_count(2)
    assert sorted(await titles.all_text_contents()) == ["Bold code title", "third"]
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        left = {c["id"] for c in (await http.get("/api/v1/conversations/")).json()}
    assert left == {ids[0], ids[2]}
    await expect(page.locator(".conv-select")).to_have_count(0)  # back to normal


async def test_phone_shows_that_the_model_chips_scroll(gateway, browser):
    context = await browser.new_context(
        viewport={"width": 360, "height": 740}, extra_http_headers=BROWSER_HEADERS
    )
    try:
        phone = await context.new_page()
        await open_page(phone, gateway.url + "/")
        await expect(phone.locator("#chips-hint")).to_be_visible()
        await phone.locator("#providers").evaluate("(c) => { c.scrollLeft = c.scrollWidth; }")
        await expect(phone.locator("#chips-hint")).to_be_hidden()
    finally:
        await context.close()


def test_the_corpus_covers_what_answers_use():
    names = {case["name"] for case in CORPUS["real"]}
    assert {"nested lists", "table", "links", "fenced code", "blockquote"} <= names
    assert len(CORPUS["malicious"]) >= 10


@pytest.fixture
def demo_gateway(database_url):
    """A gateway as `make serve` runs it: its own simulator, each provider at its own pace."""
    server = start_gateway(database_url, None)
    yield server
    server.stop()


async def test_the_demo_compares_each_provider_at_its_own_pace(
    demo_gateway, browser, artifacts_dir
):
    from gateway.tools.screenshot import take

    bars = await take(demo_gateway.url, artifacts_dir / "screenshot.png", browser=browser)
    assert set(bars) == {"ttft", "speed", "total"}
    for metric, values in bars.items():
        assert len(values) == 5, (metric, values)
        # Different figures (two may round alike on a busy machine, not three).
        assert len(set(values.values())) >= 4, (metric, values)
    assert {metric: best_of(values, metric) for metric, values in bars.items()} == {
        "ttft": "gemini",
        "speed": "gemini",
        "total": "gemini",
    }


def best_of(values: dict[str, str], metric: str) -> str:
    """The provider with the best shown value ("1.23 s", "450 ms", "199 tok/s")."""

    def number(text: str) -> float:
        value, unit = text.split()
        return float(value) * (1000 if unit == "s" else 1)

    pick = max if metric == "speed" else min
    return pick(values, key=lambda provider: number(values[provider]))


async def test_a_failed_answer_is_never_ranked_best(gateway, page):
    await open_page(page, gateway.url + "/")
    best = await page.evaluate(
        """async () => {
            const { TurnView } = await import("/static/turn.js");
            const view = new TurnView("q");
            const done = (provider, status, ttft, latency) => ({ provider, model: "m", status,
              content: "some text", usage: { input_tokens: 3, output_tokens: 5 },
              ttft_ms: ttft, latency_ms: latency,
              error: status === "failed" ? { type: "upstream", message: "boom" } : null });
            view.column("claude").finish(done("claude", "failed", 1, 5));
            view.column("chatgpt").finish(done("chatgpt", "complete", 50, 400));
            view.column("gemini").finish(done("gemini", "complete", 80, 300));
            view.changed();
            return Object.fromEntries([...view.comparison.el.querySelectorAll(".chart")].map(
              (chart) => [chart.dataset.metric, [...chart.querySelectorAll(".bar-row.best")].map(
                (row) => row.dataset.provider)]));
        }"""
    )
    assert best == {"ttft": ["chatgpt"], "speed": ["gemini"], "total": ["gemini"]}
