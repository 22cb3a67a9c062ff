"""Sessions: the page's sign-in."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from gateway.api.schemas.common import (
    Strict,
)


class SignIn(Strict):
    key: str = Field(min_length=1, max_length=200, description="A client key (mck_…)")


class SessionState(BaseModel):
    auth: Literal["open", "keys", "off"] = Field(
        description="open: loopback with no client keys; keys: a key is required; off: AUTH=off"
    )
    signed_in: bool
    key_name: str | None = None
