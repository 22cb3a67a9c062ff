"""The turn-settings type and the image check, without a server: what each provider is given,
how settings are kept and read back, and every reason an upload is refused."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from gateway.turns.errors import InvalidChoice
from gateway.turns.turn_settings import TurnSettings
from gateway.turns.uploads import BadUpload, check_image
from providers import CallSettings

LIMIT = 1_000_000


def image_bytes(kind: str = "PNG", size=(8, 6), colour=(0, 128, 255)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, kind)
    return buffer.getvalue()


def test_each_provider_gets_the_turn_settings_under_its_own() -> None:
    settings = TurnSettings(
        system="Be terse.",
        params=CallSettings(temperature=0.2, reasoning="high"),
        provider_params={"claude": CallSettings(reasoning="low", system="Be Claude.")},
    )
    assert settings.for_provider("claude") == CallSettings("Be Claude.", 0.2, None, "low")
    assert settings.for_provider("gemini") == CallSettings("Be terse.", 0.2, None, "high")
    assert TurnSettings().for_provider("gemini") is None  # nothing set: the provider's own


def test_settings_round_trip_through_their_stored_form() -> None:
    settings = TurnSettings(
        system="S",
        params=CallSettings(max_tokens=300),
        provider_params={"grok": CallSettings(temperature=0.0), "gemini": CallSettings()},
        attachments=("a" * 22,),
    )
    stored = settings.as_json()
    assert stored == {
        "system": "S",
        "params": {"max_tokens": 300},
        "provider_params": {"grok": {"temperature": 0.0}},
    }
    again = TurnSettings.from_json(stored, settings.attachments)
    assert again.for_provider("grok") == settings.for_provider("grok")
    assert again.shown() == {
        "system": "S",
        "params": {"max_tokens": 300},
        "provider_params": {"grok": {"temperature": 0.0}},
        "attachments": [{"upload_id": "a" * 22}],
    }
    assert TurnSettings().as_json() is None


@pytest.mark.parametrize(
    ("settings", "words"),
    [
        (TurnSettings(params=CallSettings(temperature=2.5)), "params.temperature: from 0 to 2"),
        (TurnSettings(params=CallSettings(max_tokens=0)), "params.max_tokens"),
        (TurnSettings(params=CallSettings(reasoning="max")), "params.reasoning: one of off"),  # type: ignore[arg-type]
        (TurnSettings(provider_params={"hal": CallSettings()}), "unknown provider 'hal'"),
        (TurnSettings(system="x" * 11), "system: longer than 10"),
    ],
)
def test_settings_that_cannot_be_are_refused(settings, words) -> None:
    with pytest.raises(InvalidChoice) as refused:
        settings.check(["claude", "gemini"], max_system_chars=10)
    assert words in refused.value.message


@pytest.mark.parametrize("kind", ["PNG", "JPEG", "WEBP", "GIF"])
def test_the_four_image_types_are_taken(kind: str) -> None:
    checked = check_image(image_bytes(kind), None, LIMIT)
    assert (checked.media_type, checked.width, checked.height) == (
        f"image/{kind.lower()}",
        8,
        6,
    )
    assert check_image(image_bytes(kind), f"image/{kind.lower()}", LIMIT) == checked


@pytest.mark.parametrize(
    ("data", "declared", "reason"),
    [
        (b"", None, "empty"),
        (b"%PDF-1.7 not an image at all", None, "not_an_image"),
        (image_bytes("BMP"), None, "unsupported_type"),
        (image_bytes("PNG"), "image/jpeg", "type_mismatch"),
        (image_bytes("JPEG", (64, 64))[:-400], None, "truncated"),
        (image_bytes("PNG", (300, 300))[:-30], None, "truncated"),
        (image_bytes("PNG") + b"", None, None),
        (b"x" * (LIMIT + 1), None, "too_large"),
    ],
)
def test_every_bad_upload_is_refused_with_its_reason(data, declared, reason) -> None:
    if reason is None:
        check_image(data, declared, LIMIT)
        return
    with pytest.raises(BadUpload) as refused:
        check_image(data, declared, LIMIT)
    assert refused.value.reason == reason
