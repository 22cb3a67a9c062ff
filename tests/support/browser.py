"""One headless Chromium for the browser tests (Debian's chromium, driven by Playwright, never
downloaded), or a clear skip, which under CI=true is a failure; and Playwright's ``expect``,
which waits for a condition instead of reading the page once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
WAIT = 15_000  # ms: the longest any condition may take to come true


def expect(target):
    """Playwright's expect, which waits (up to WAIT) for the condition instead of reading the
    page once: a status shown and the button that follows it are not one paint."""
    from playwright.async_api import expect as playwright_expect

    playwright_expect.set_options(timeout=WAIT)
    return playwright_expect(target)


def missing_browser() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pip install -e '.[test]')"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)"
    return None


def no_browser(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser tests must run, not be skipped)")
    pytest.skip(reason)
