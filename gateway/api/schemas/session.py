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
    auth: Literal["keys", "off"] = Field(
        description="keys: every call needs credentials; off: AUTH=off (an outer proxy decides)"
    )
    signed_in: bool
    key_name: str | None = None
    admin: bool = Field(default=False, description="the key may manage keys and read /metrics")
