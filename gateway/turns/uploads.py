"""Uploaded images: checked, stored once per SHA-256 in PostgreSQL, owned by the key that sent
them, and attached to prompts by id.

An upload must be a whole PNG, JPEG, WebP or GIF (decoded to the last pixel, so a truncated
file is refused), of the type it says it is, within the size limit. The bytes of an image are
stored once whoever uploads it; each key has its own upload of it (the same image sent again
by the same key is the same upload). Decoding runs in a worker thread: a 20 MB image takes
long enough to stall every stream of the process if it ran on the event loop.

Other keys' uploads are as good as absent, as their conversations are.
"""

from __future__ import annotations

import hashlib
import io
import secrets
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import anyio.to_thread
from PIL import Image as PILImage
from PIL import UnidentifiedImageError

from gateway.turns.errors import InvalidChoice, NotFound, TurnError
from providers import Image
from storage import Pool, Q

MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}
# Declared types that say nothing (a browser or curl that did not know): the bytes decide.
UNDECLARED = ("", "application/octet-stream")
MAX_PIXELS = 100_000_000  # a decompression bomb is refused before it is decoded


class BadUpload(TurnError):
    """An upload refused for what it is; ``reason``: empty | too_large | not_an_image |
    unsupported_type | type_mismatch | truncated | too_many_pixels."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Upload:
    id: str
    media_type: str
    bytes: int
    sha256: str  # hex
    width: int
    height: int
    created_at: datetime | None = None

    def as_dict(self) -> dict:
        return {
            "id": self.id,
            "media_type": self.media_type,
            "bytes": self.bytes,
            "sha256": self.sha256,
            "width": self.width,
            "height": self.height,
        }


@dataclass(frozen=True, slots=True)
class Checked:
    media_type: str
    width: int
    height: int


def check_image(data: bytes, declared: str | None, limit: int) -> Checked:
    """What the bytes are, or BadUpload saying why they cannot be an upload."""
    if not data:
        raise BadUpload("empty", "the file is empty")
    if len(data) > limit:
        raise BadUpload("too_large", f"the image is larger than {limit} bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            image = PILImage.open(io.BytesIO(data))
            kind = image.format
            if kind not in MEDIA_TYPES:
                raise BadUpload(
                    "unsupported_type", f"{kind} images are not taken: PNG, JPEG, WebP or GIF"
                )
            width, height = image.size
            if width * height > MAX_PIXELS:
                raise BadUpload("too_many_pixels", f"the image has more than {MAX_PIXELS} pixels")
            image.load()  # every pixel: a truncated file fails here
    except UnidentifiedImageError:
        raise BadUpload("not_an_image", "the file is not a PNG, JPEG, WebP or GIF image") from None
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise BadUpload("too_many_pixels", "the image has too many pixels") from None
    except (OSError, SyntaxError, ValueError) as error:
        raise BadUpload("truncated", f"the image is truncated or damaged ({error})") from None
    media_type = MEDIA_TYPES[kind]
    declared = (declared or "").split(";")[0].strip().lower()
    if declared not in UNDECLARED and declared != media_type:
        raise BadUpload(
            "type_mismatch", f"the file was sent as {declared[:100]} but is {media_type}"
        )
    return Checked(media_type, width, height)


async def store_upload(
    pool: Pool, owner: int, data: bytes, declared: str | None, limit: int
) -> Upload:
    checked = await anyio.to_thread.run_sync(check_image, data, declared, limit)
    digest = hashlib.sha256(data).digest()
    row = await Q.store_upload.fetchrow(
        pool,
        id=secrets.token_urlsafe(16),  # 128 random bits
        owner=owner,
        sha256=digest,
        media_type=checked.media_type,
        bytes=len(data),
        width=checked.width,
        height=checked.height,
        data=data,
    )
    return Upload(
        row["id"],
        checked.media_type,
        len(data),
        digest.hex(),
        checked.width,
        checked.height,
        row["created_at"],
    )


async def get_upload(pool: Pool, upload_id: str, owner: int) -> tuple[Upload, bytes]:
    row = await Q.get_upload.fetchrow(pool, id=upload_id, owner=owner)
    if row is None:
        raise NotFound("upload")
    upload = Upload(
        row["id"],
        row["media_type"],
        row["bytes"],
        bytes(row["sha256"]).hex(),
        row["width"],
        row["height"],
        row["created_at"],
    )
    return upload, bytes(row["data"])


async def check_attachments(pool: Pool, ids: Sequence[str], owner: int, limit: int) -> None:
    """The owner may attach these uploads to a prompt: NotFound names one that is not theirs
    (or not at all), InvalidChoice a list that cannot be."""
    if not ids:
        return
    if len(set(ids)) != len(ids):
        raise InvalidChoice("attachments: an upload is listed twice")
    found = {row["id"] for row in await Q.owned_uploads.fetch(pool, ids=list(ids), owner=owner)}
    for index, upload_id in enumerate(ids):
        if upload_id not in found:
            raise NotFound(f"attachments.{index}: upload {upload_id}")
    if len(ids) > limit:
        raise InvalidChoice(f"attachments: at most {limit} images per prompt")


async def load_images(pool: Pool, ids: Sequence[str]) -> dict[str, Image]:
    """The images of uploads already attached (checked then), by upload id."""
    if not ids:
        return {}
    rows = await Q.upload_images.fetch(pool, ids=list(ids))
    return {
        row["id"]: Image(row["media_type"], bytes(row["data"]), row["width"], row["height"])
        for row in rows
    }
