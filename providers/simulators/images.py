"""The images a simulated API receives: decoded (Pillow), checked, and described in the answer.

A simulated model "sees" an image's format, size and dominant colour, and opens its answer
with them (``preface``): "The image is a 64x48 PNG, mostly red (#ff0000)." That is how tests
and the page see that each provider really got the image, in its own API's format.

Each API refuses different things (its own module says which, and in its own words); what
they share is here: strict base64, data URIs, and telling undecodable bytes and a declared
type that does not match the bytes apart.
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}

# Named colours a description picks the nearest of.
PALETTE = {
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "grey": (128, 128, 128),
    "red": (220, 30, 30),
    "orange": (245, 140, 20),
    "yellow": (240, 220, 30),
    "green": (40, 170, 60),
    "cyan": (30, 200, 220),
    "blue": (30, 70, 220),
    "purple": (130, 50, 180),
    "pink": (240, 130, 180),
    "brown": (130, 80, 40),
}


class ImageError(ValueError):
    """``reason``: base64 | undecodable | mismatch | too_large."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class ImageFacts:
    format: str  # PNG | JPEG | WEBP | GIF
    width: int
    height: int
    colour: str
    hex: str

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.format]

    def describe(self) -> str:
        return f"a {self.width}x{self.height} {self.format}, mostly {self.colour} ({self.hex})"


def strict_base64(text: object, *, url_safe: bool = False) -> bytes:
    """Base64 that must be valid; ``url_safe`` also takes the URL alphabet (-_), as protobuf
    JSON (Gemini) does: python-genai sends bytes that way."""
    if not isinstance(text, str) or not text:
        raise ImageError("base64")
    if url_safe:
        text = text.replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise ImageError("base64") from None


def data_uri(url: object) -> tuple[str, str] | None:
    """``data:image/png;base64,AAAA`` -> ("image/png", "AAAA"); None if it is not one."""
    if not isinstance(url, str) or not url.startswith("data:"):
        return None
    head, comma, payload = url.partition(",")
    if not comma or not head.endswith(";base64"):
        return None
    return head[5:-7], payload


def inspect(data: bytes, declared: str | None = None, *, max_side: int | None = None) -> ImageFacts:
    """The facts of an image; ImageError if the bytes are no image of a known type, or not
    of the ``declared`` media type, or (``max_side``) too large in pixels."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            kind = image.format
            if kind not in MEDIA_TYPES:
                raise ImageError("undecodable", f"{kind} images are not supported")
            if declared is not None and MEDIA_TYPES[kind] != declared:
                raise ImageError("mismatch", f"the bytes are {MEDIA_TYPES[kind]}")
            width, height = image.size
            if max_side is not None and max(width, height) > max_side:
                raise ImageError("too_large", f"{width}x{height} pixels")
            image.draft("RGB", (64, 64))  # JPEG decodes at a fraction of its size
            image.thumbnail((64, 64))
            pixels = image.convert("RGB")
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, Warning) as error:
        raise ImageError("undecodable", str(error)) from None
    colour = dominant(pixels)
    return ImageFacts(
        kind, width, height, nearest_name(colour), "#{:02x}{:02x}{:02x}".format(*colour)
    )


def dominant(image: Image.Image) -> tuple[int, int, int]:
    """The most frequent colour, counted on colours rounded to 32 levels per channel."""
    counts: dict[tuple[int, int, int], int] = {}
    for count, (r, g, b) in image.getcolors(image.width * image.height) or ():  # type: ignore[misc]  # an RGB image: (count, (r, g, b))
        key = (r >> 3, g >> 3, b >> 3)
        counts[key] = counts.get(key, 0) + count
    r, g, b = max(counts, key=counts.__getitem__)
    return (r << 3 | r >> 2, g << 3 | g >> 2, b << 3 | b >> 2)


def nearest_name(colour: tuple[int, int, int]) -> str:
    return min(
        PALETTE,
        key=lambda name: sum((a - b) ** 2 for a, b in zip(PALETTE[name], colour, strict=True)),
    )


def preface(images: Sequence[ImageFacts]) -> str:
    """What a simulated model says first about the images it got (empty without images)."""
    if not images:
        return ""
    if len(images) == 1:
        return f"The image is {images[0].describe()}."
    return " ".join(f"Image {i} is {facts.describe()}." for i, facts in enumerate(images, 1))


def image_tokens(facts: ImageFacts) -> int:
    """Input tokens an image costs: about one per 750 pixels, at most 1600 (Anthropic's rule,
    used for every simulated API)."""
    return max(1, min(1600, facts.width * facts.height // 750))
