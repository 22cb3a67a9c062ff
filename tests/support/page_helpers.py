"""Driving the comparison page in the browser tests (tests/browser), and what they run it on: a
simulator with each provider at its own pace, a proxy that can cut every connection at once,
and a check that a column's text is always a prefix of its answer."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re

from providers import PROVIDERS
from providers.simulators.text import expected_answer
from tests.support.browser import WAIT

ALL = list(PROVIDERS)

# Each provider its own pace, so columns fill at different speeds and the comparison shows it.
# They reach the simulator as an x-simulator header (see PacedSimulator), so model names stay
# clean in screenshots.
PACE = {
    "claude": {"tokens": 36, "ttft": 250, "gap": 50},
    "chatgpt": {"tokens": 28, "ttft": 150, "gap": 32},
    "gemini": {"tokens": 40, "ttft": 400, "gap": 16},
    "grok": {"tokens": 24, "ttft": 200, "gap": 55},
    "perplexity": {"tokens": 20, "ttft": 600, "gap": 45},
}


def expected(provider: str, prompt: str, tokens: int = 12) -> str:
    return expected_answer(PROVIDERS[provider].flavour, prompt, tokens)


def paced_expected(prompt: str) -> dict[str, str]:
    return {name: expected(name, prompt, pace["tokens"]) for name, pace in PACE.items()}


class PacedSimulator:
    """The simulator app, with an x-simulator header added per provider API from PACE."""

    def __init__(self, app) -> None:
        self.app = app
        self.knobs = [
            (
                PROVIDERS[name].simulator_prefix,
                ",".join(f"{k}={v}" for k, v in pace.items()).encode(),
            )
            for name, pace in PACE.items()
        ]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            for prefix, knobs in self.knobs:
                if scope["path"].startswith(prefix):
                    headers = [h for h in scope["headers"] if h[0] != b"x-simulator"]
                    scope = {**scope, "headers": [*headers, (b"x-simulator", knobs)]}
                    break
        await self.app(scope, receive, send)


class CuttableProxy:
    """A TCP proxy in front of the gateway. ``cut()`` aborts every open connection at once, as
    a dying server or a network drop would, while new connections still get through."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.links: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self.client_bytes = bytearray()
        self.cuts = 0

    async def start(self) -> CuttableProxy:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def _accept(self, client_reader, client_writer) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection(
                "127.0.0.1", self.target_port
            )
        except OSError:
            client_writer.transport.abort()
            return
        link = (client_writer, upstream_writer)
        self.links.add(link)
        try:
            await asyncio.gather(
                self._pipe(client_reader, upstream_writer, record=True),
                self._pipe(upstream_reader, client_writer),
            )
        finally:
            self.links.discard(link)

    async def _pipe(self, reader, writer, record: bool = False) -> None:
        try:
            while data := await reader.read(65536):
                if record:
                    self.client_bytes += data
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    def cut(self) -> int:
        self.cuts += 1
        links = list(self.links)
        for client, upstream in links:
            client.transport.abort()
            upstream.transport.abort()
        return len(links)

    def event_requests(self) -> list[tuple[str, int | None]]:
        """Every GET of a turn's events seen so far: (path, Last-Event-ID header or None)."""
        found = []
        text = self.client_bytes.decode("latin-1")
        for match in re.finditer(
            r"GET (/api/v1/turns/[^ ]+/events[^ ]*) HTTP/1\.1\r\n(.*?)\r\n\r\n", text, re.S
        ):
            header = re.search(r"^last-event-id:\s*(\d+)\s*$", match.group(2), re.I | re.M)
            found.append((match.group(1), int(header.group(1)) if header else None))
        return found

    async def close(self) -> None:
        self.cut()
        self.server.close()
        await self.server.wait_closed()


# Installed in the page before its own scripts: after every DOM change, each column's visible
# text must be a prefix of that provider's expected answer. A duplicated or missing piece of
# text breaks the prefix at once, even though `done` later replaces it with the stored text.
TEXT_CHECKER = """
((expected) => {
  window.__textViolations = [];
  window.__textChecks = 0;
  const check = () => {
    window.__textChecks += 1;
    for (const column of document.querySelectorAll("#turns .answer")) {
      const want = expected[column.dataset.provider];
      const text = column.querySelector(".answer-text");
      if (want == null || !text || column.querySelector(".answer-empty")) continue;
      if (!want.startsWith(text.textContent)) {
        window.__textViolations.push({provider: column.dataset.provider, text: text.textContent});
      }
    }
  };
  new MutationObserver(check).observe(document, {subtree: true, childList: true, characterData: true});
})(%s);
"""


async def install_text_checker(page, expected_texts: dict[str, str]) -> None:
    await page.add_init_script(script=TEXT_CHECKER % json.dumps(expected_texts))


async def text_violations(page) -> list:
    return await page.evaluate("() => window.__textViolations")


# -- driving the page -------------------------------------------------------------------------


async def open_page(page, url: str) -> None:
    await page.goto(url)
    await page.wait_for_selector("html[data-ready]")


async def ask(page, prompt: str) -> None:
    """Ask as a reader does: once Send is there to press. While a turn runs, Send is hidden
    (Stop all stands in its place) and a question is refused with a notice; a test that asked
    as soon as the answers were complete, before the turn's end, lost its question now and then."""
    from playwright.async_api import expect

    await expect(page.locator("#send")).to_be_visible(timeout=WAIT)
    await expect(page.locator("#send")).to_be_enabled(timeout=WAIT)
    await page.fill("#prompt", prompt)
    await page.press("#prompt", "Enter")


def last_turn(page):
    return page.locator("#turns > .turn").last


def answer(page, provider: str, turn=None):
    return (turn or last_turn(page)).locator(f'.answer[data-provider="{provider}"]')


async def status_is(page, provider: str, status: str, turn=None) -> None:
    from playwright.async_api import expect

    await expect(answer(page, provider, turn)).to_have_attribute(
        "data-status", status, timeout=WAIT
    )


async def text_of(page, provider: str, turn=None) -> str:
    return await answer(page, provider, turn).locator(".answer-text").text_content()


async def every_column_has_text(page, providers) -> None:
    await page.wait_for_function(
        """(names) => names.every((name) => {
            const el = document.querySelector(
              `#turns > .turn:last-child .answer[data-provider="${name}"] .answer-text`);
            return el && el.textContent.length > 0;
        })""",
        arg=list(providers),
        timeout=WAIT,
    )


def hash_params(url: str) -> dict[str, str]:
    fragment = url.partition("#")[2]
    return dict(part.split("=", 1) for part in fragment.split("&") if "=" in part)
