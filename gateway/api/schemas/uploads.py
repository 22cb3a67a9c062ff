"""Uploads: images for prompts, and a prompt's images as the API shows them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class UploadOut(BaseModel):
    id: str
    media_type: Literal["image/png", "image/jpeg", "image/webp", "image/gif"]
    bytes: int
    sha256: str
    width: int
    height: int


class AttachmentOut(BaseModel):
    upload_id: str
