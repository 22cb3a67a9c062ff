"""The page's reasoning, images and turn settings in Chromium: the reasoning streams live above
each answer and folds once it answers; an image dropped, pasted or chosen goes with the
question and shows as a thumbnail, live and stored; the turn settings are sent, shown and
remembered."""

from __future__ import annotations

import base64
import io

from PIL import Image

from tests.support.browser import expect
from tests.support.page_helpers import answer, ask, last_turn, open_page, status_is


def png(colour=(255, 0, 0), size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, "PNG")
    return buffer.getvalue()


async def choose_only(page, *providers: str) -> None:
    for chip in await page.locator("#providers .chip input").all():
        name = await chip.get_attribute("value")
        if (name in providers) != await chip.is_checked():
            await chip.click()


async def set_turn_settings(page, *, reasoning=None, temperature=None, system=None) -> None:
    await page.click("#turn-settings-open")
    if system is not None:
        await page.fill("#turn-system", system)
    if temperature is not None:
        await page.fill("#turn-temperature", str(temperature))
    if reasoning is not None:
        await page.select_option("#turn-reasoning", reasoning)
    await page.keyboard.press("Escape")


async def test_reasoning_streams_above_the_answer_and_folds(gateway, page, sim) -> None:
    await open_page(page, gateway.url + "/")
    await choose_only(page, "claude", "grok")
    await set_turn_settings(page, reasoning="high", temperature=0.3)
    await expect(page.locator("#turn-settings-summary")).to_have_text(
        "temperature 0.3 · reasoning high"
    )
    await ask(page, "Why is the sky blue?")
    claude = answer(page, "claude")
    reasoning = claude.locator(".reasoning")
    await expect(reasoning).to_be_visible()
    await status_is(page, "claude", "complete")
    await expect(reasoning).to_have_attribute("data-state", "done")
    # Folded once the answer began; its summary says how long and how many tokens.
    assert await reasoning.get_attribute("open") is None
    await expect(reasoning.locator(".reasoning-title")).to_contain_text("Thought for")
    await expect(reasoning.locator(".reasoning-meta")).to_have_text(" · 56 tokens")
    tokens = claude.locator('[data-metric="tokens"]')
    await expect(tokens).to_contain_text("68 out · 56 reasoning")
    await reasoning.locator("summary").click()
    await expect(reasoning.locator(".reasoning-text")).to_contain_text("Understanding the question")
    # Grok's default model counts its reasoning but shows none; the answer's text has none.
    await status_is(page, "grok", "complete")
    assert await answer(page, "grok").locator(".reasoning").count() == 0
    assert "Understanding the question" not in await claude.locator(".answer-text").text_content()
    # The turn's settings are shown with its prompt; what a model was not sent, under it.
    turn = last_turn(page)
    await expect(turn.locator(".prompt-settings")).to_have_text(
        "Turn settings: temperature 0.3 · reasoning high"
    )
    await expect(claude.locator(".answer-note")).to_contain_text("temperature")
    sent = sim.requests("anthropic")[-1]["body"]
    assert sent["thinking"]["type"] == "adaptive" and "temperature" not in sent

    # Stored: the conversation opened again shows the reasoning folded, and the settings.
    await page.reload()
    await page.wait_for_selector("html[data-ready]")
    stored = answer(page, "claude").locator(".reasoning")
    await expect(stored).to_be_visible()
    assert await stored.get_attribute("open") is None
    await expect(stored.locator(".reasoning-title")).to_have_text("Reasoning")
    await expect(last_turn(page).locator(".prompt-settings")).to_contain_text("reasoning high")
    # The settings were remembered for the next question.
    await expect(page.locator("#turn-settings-summary")).to_contain_text("reasoning high")


async def test_an_image_goes_with_the_question_and_stays_in_the_transcript(
    gateway, page, sim
) -> None:
    await open_page(page, gateway.url + "/")
    await choose_only(page, "gemini")
    await page.set_input_files(
        "#attach-input", files=[{"name": "red.png", "mimeType": "image/png", "buffer": png()}]
    )
    thumb = page.locator("#attachments .attachment")
    await expect(thumb).to_have_attribute("data-state", "ready")
    shown = thumb.locator("img")
    assert await shown.evaluate("(img) => img.decode().then(() => img.naturalWidth)") == 64
    # A second one pasted into the prompt box, then taken away again.
    blue = base64.b64encode(png((0, 0, 255))).decode()
    await page.evaluate(
        """(data) => {
            const bytes = Uint8Array.from(atob(data), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "blue.png", { type: "image/png" }));
            const event = new ClipboardEvent("paste", { clipboardData: transfer, bubbles: true, cancelable: true });
            document.querySelector("#prompt").dispatchEvent(event);
        }""",
        blue,
    )
    await expect(page.locator("#attachments .attachment")).to_have_count(2)
    await expect(page.locator("#attachments .attachment").nth(1)).to_have_attribute(
        "data-state", "ready"
    )
    await page.locator("#attachments .attachment-remove").nth(1).click()
    await expect(page.locator("#attachments .attachment")).to_have_count(1)

    await ask(page, "What colour is it?")
    await status_is(page, "gemini", "complete")
    await expect(answer(page, "gemini").locator(".answer-text")).to_contain_text(
        "The image is a 64x48 PNG, mostly red"
    )
    await expect(page.locator("#attachments")).to_be_hidden()
    live = last_turn(page).locator(".prompt-image img")
    await expect(live).to_have_count(1)
    assert await live.evaluate("(img) => img.decode().then(() => img.naturalWidth)") == 64
    parts = sim.requests("gemini")[-1]["body"]["contents"][-1]["parts"]
    assert parts[0]["inlineData"]["mimeType"] == "image/png"

    # Stored: the thumbnail is the gateway's copy, served to this browser.
    await page.reload()
    await page.wait_for_selector("html[data-ready]")
    image = last_turn(page).locator(".prompt-image img")
    await expect(image).to_have_count(1)
    assert "/api/v1/uploads/" in await image.get_attribute("src")
    assert await image.evaluate("(img) => img.decode().then(() => img.naturalWidth)") == 64


async def test_a_dropped_file_that_is_not_an_image_is_refused(gateway, page) -> None:
    await open_page(page, gateway.url + "/")
    await page.evaluate(
        """() => {
            const transfer = new DataTransfer();
            transfer.items.add(new File(["not an image"], "fake.png", { type: "image/png" }));
            const form = document.querySelector("#composer");
            form.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true, cancelable: true }));
            form.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true, cancelable: true }));
        }"""
    )
    await expect(page.locator("#notice")).to_be_visible()
    await expect(page.locator("#notice-text")).to_contain_text("not a PNG, JPEG, WebP or GIF")
    await expect(page.locator("#attachments .attachment")).to_have_count(0)
