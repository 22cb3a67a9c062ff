"""Screenshots of the comparison page of a running gateway, taken in headless Chromium.

    make serve          # one terminal: every provider without a key is simulated, each at
                        # its own typical pace, so the bars differ
    make screenshot     # another: docs/screenshot.png, a five-way turn with every header
    make screenshots    # the whole set, into docs/screenshots/ (SHOTS=dir to change it)

or ``python -m gateway.tools.screenshot --url http://127.0.0.1:8000 [--set DIR]``. The set:
the first view, a five-way turn as it streams and once it is done, a blind turn before and
after its vote, the leaderboard, a phone, and dark mode. Take it on a fresh gateway (an empty
database), as its first view is the welcome. With client keys on, ``--key`` (or
MULTICHAT_KEY) signs the browser in first.

Needs the test extra (playwright) and a Chromium: ``CHROMIUM_PATH``, default /usr/bin/chromium.
The tests use ``take`` too (tests/test_page_answers.py), to check that the demo compares.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path

PROMPT = "Explain recursion to a five-year-old"
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
TIMEOUT_MS = 60_000  # the slowest simulated answer takes about ten seconds
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu"]

ALL_COMPLETE = """() => {
    const columns = [...document.querySelectorAll("#turns .turn:last-child .answer")];
    return columns.length > 0 && columns.every((c) => c.dataset.status === "complete");
}"""

LEADERBOARD_SHOWN = ".leaderboard-table, .leaderboard-empty:text('No votes')"

BARS = """() => Object.fromEntries([...document.querySelectorAll(
        "#turns .turn:last-child .compare .chart")].map((chart) => [
    chart.dataset.metric,
    Object.fromEntries([...chart.querySelectorAll(".bar-row")].map((row) =>
        [row.dataset.provider, row.querySelector(".bar-value").textContent])),
]))"""


async def launch(playwright):
    return await playwright.chromium.launch(
        executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"), args=CHROMIUM_ARGS
    )


async def _open(browser, url: str, *, viewport=DESKTOP, scheme="light", key=None):
    context = await browser.new_context(viewport=viewport, color_scheme=scheme)
    key = key or os.environ.get("MULTICHAT_KEY")  # every API call needs credentials (#20)
    if key:
        response = await context.request.post(f"{url}/api/v1/session", data={"key": key})
        if not response.ok:
            raise SystemExit(f"signing in with the key failed: {response.status}")
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    await page.goto(url + "/")
    await page.wait_for_selector("html[data-ready]")
    return context, page


async def _ask(page, prompt: str, *, blind: bool = False) -> None:
    if blind != await page.locator("#blind").is_checked():
        await page.locator("#blind").click()
    await page.fill("#prompt", prompt)
    await page.press("#prompt", "Enter")


async def _finished(page) -> None:
    await page.wait_for_function(ALL_COMPLETE)
    await page.wait_for_function("() => !location.hash.includes('turn=')")


async def take(
    url: str,
    out: Path,
    *,
    prompt: str = PROMPT,
    viewport: dict[str, int] = DESKTOP,
    browser=None,
    key: str | None = None,
) -> dict[str, dict[str, str]]:
    """Ask ``prompt`` of every provider on the page at ``url``, wait for every answer, write
    the PNG to ``out`` as the page shows it (nothing scrolled by hand); returns the bars'
    values, {metric: {provider: shown value}}."""
    if browser is None:
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            chromium = await launch(playwright)
            try:
                return await take(
                    url, out, prompt=prompt, viewport=viewport, browser=chromium, key=key
                )
            finally:
                await chromium.close()
    context, page = await _open(browser, url.rstrip("/"), viewport=viewport, key=key)
    try:
        await _ask(page, prompt)
        await _finished(page)
        await asyncio.to_thread(out.parent.mkdir, parents=True, exist_ok=True)
        await page.screenshot(path=str(out))
        return await page.evaluate(BARS)
    finally:
        await context.close()


async def take_set(url: str, folder: Path, *, browser=None, key: str | None = None) -> list[Path]:
    """The set of screens a new user walks through; returns the files written."""
    if browser is None:
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            chromium = await launch(playwright)
            try:
                return await take_set(url, folder, browser=chromium, key=key)
            finally:
                await chromium.close()
    url = url.rstrip("/")
    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    written: list[Path] = []

    async def shot(page, name: str, **options) -> None:
        path = folder / f"{name}.png"
        await page.screenshot(path=str(path), **options)
        written.append(path)

    context, page = await _open(browser, url, key=key)
    try:
        await shot(page, "first-view")
        await _ask(page, PROMPT)
        await page.wait_for_function(
            """() => [...document.querySelectorAll("#turns .answer")].filter(
                (c) => c.dataset.status === "complete").length >= 2"""
        )
        await shot(page, "five-way-streaming")
        await _finished(page)
        await shot(page, "five-way")
        await _ask(page, "Three tips for writing clear emails")
        await _finished(page)
        await _ask(page, "What is the capital of Australia?")
        await _finished(page)
        await shot(page, "three-turns")
        await page.click("#new-chat")
        await _ask(page, "Which of you explains tides best?", blind=True)
        await page.wait_for_selector(".vote-button:enabled")
        await shot(page, "blind-before-vote")
        await page.locator(".vote-button:enabled").first.click()
        await page.wait_for_selector(".vote-summary:visible")
        await shot(page, "blind-after-vote")
        await page.click("#show-leaderboard")
        await page.wait_for_selector(LEADERBOARD_SHOWN)
        await shot(page, "leaderboard")
    finally:
        await context.close()

    context, page = await _open(browser, url, viewport=PHONE, key=key)
    try:
        await _ask(page, PROMPT)
        await _finished(page)
        await shot(page, "phone")
        await page.click("#menu-toggle")
        await page.wait_for_selector("#sidebar:visible")
        await shot(page, "phone-menu")
        await page.click("#show-leaderboard")
        await page.wait_for_selector(LEADERBOARD_SHOWN)
        await shot(page, "phone-leaderboard")
    finally:
        await context.close()

    context, page = await _open(browser, url, scheme="dark", key=key)
    try:
        await _ask(page, PROMPT)
        await _finished(page)
        await shot(page, "dark")
    finally:
        await context.close()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running gateway")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshot.png"))
    parser.add_argument("--prompt", default=PROMPT)
    parser.add_argument("--set", type=Path, metavar="DIR", help="take the whole set into DIR")
    parser.add_argument(
        "--key", default=os.environ.get("MULTICHAT_KEY"), help="a client key to sign in with"
    )
    args = parser.parse_args(argv)
    if args.set:
        for path in asyncio.run(take_set(args.url, args.set, key=args.key)):
            print(f"wrote {path}")
        return 0
    bars = asyncio.run(take(args.url, args.out, prompt=args.prompt, key=args.key))
    for metric, values in bars.items():
        print(f"{metric:>6}: " + "  ".join(f"{p} {v}" for p, v in values.items()))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
