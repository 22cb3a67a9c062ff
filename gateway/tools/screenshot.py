"""The README's screenshot: the comparison page of a running gateway, one question asked of
every provider, taken in headless Chromium once every answer is complete.

    make serve         # one terminal: every provider without a key is simulated, each at its
                       # own typical pace, so the bars differ
    make screenshot    # another: writes docs/screenshot.png

or ``python -m gateway.tools.screenshot --url http://127.0.0.1:8000 --out docs/screenshot.png``.
Needs the test extra (playwright) and a Chromium: ``CHROMIUM_PATH``, default /usr/bin/chromium.
The tests use ``take`` too (tests/test_page_answers.py), to check that the demo compares.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from pathlib import Path
from urllib.parse import quote

PROMPT = "Explain recursion to a five-year-old"
VIEWPORT = {"width": 1440, "height": 1200}  # tall enough for the columns and the bars
TIMEOUT_MS = 60_000  # the slowest simulated answer takes about ten seconds


async def take(
    url: str,
    out: Path,
    *,
    prompt: str = PROMPT,
    viewport: dict[str, int] = VIEWPORT,
    browser=None,
) -> dict[str, dict[str, str]]:
    """Ask ``prompt`` on the page at ``url``, wait for every answer, write the PNG to ``out``;
    returns the bars' values, {metric: {provider: shown value}}."""
    if browser is None:
        from playwright.async_api import async_playwright

        async with async_playwright() as playwright:
            chromium = await playwright.chromium.launch(
                executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"),
                args=["--headless", "--no-sandbox", "--disable-gpu"],
            )
            try:
                return await take(url, out, prompt=prompt, viewport=viewport, browser=chromium)
            finally:
                await chromium.close()
    context = await browser.new_context(viewport=viewport, color_scheme="light")
    try:
        page = await context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        # Signed in as the page is from the address the gateway prints: the key in the
        # fragment (MULTICHAT_KEY, or the first key printed at start).
        key = os.environ.get("MULTICHAT_KEY")
        await page.goto(url.rstrip("/") + "/" + (f"#key={quote(key, safe='')}" if key else ""))
        await page.wait_for_selector("html[data-ready]")
        await page.fill("#prompt", prompt)
        await page.press("#prompt", "Enter")
        await page.wait_for_function(
            """() => {
                const columns = [...document.querySelectorAll("#turns .turn:last-child .answer")];
                return columns.length > 0 && columns.every((c) => c.dataset.status === "complete");
            }"""
        )
        await page.wait_for_function("() => !location.hash.includes('turn=')")
        # The turn's top in view: the prompt, the columns' heads and the bars below them.
        await page.locator("#turns .turn:last-child").evaluate(
            """(turn) => {
                const transcript = document.getElementById("transcript");
                const top = turn.getBoundingClientRect().top - transcript.getBoundingClientRect().top;
                transcript.scrollTop += top - 12;
                // Each column at its first heading: its lists, table and code in view.
                for (const body of turn.querySelectorAll(".answer-body")) {
                    const heading = body.querySelector(".md-heading");
                    body.scrollTop = heading ? heading.offsetTop - body.offsetTop - 6 : 0;
                }
            }"""
        )
        out.parent.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(out))
        return await page.evaluate(
            """() => Object.fromEntries([...document.querySelectorAll(
                    "#turns .turn:last-child .compare .chart")].map((chart) => [
                chart.dataset.metric,
                Object.fromEntries([...chart.querySelectorAll(".bar-row")].map((row) =>
                    [row.dataset.provider, row.querySelector(".bar-value").textContent])),
            ]))"""
        )
    finally:
        await context.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running gateway")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshot.png"))
    parser.add_argument("--prompt", default=PROMPT)
    args = parser.parse_args(argv)
    bars = asyncio.run(take(args.url, args.out, prompt=args.prompt))
    for metric, values in bars.items():
        print(f"{metric:>6}: " + "  ".join(f"{p} {v}" for p, v in values.items()))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
