"""Share links: asking for one, the link made (its URL shown once), and the links listed.

What a link opens (``/s/<token>``) is shaped by ``gateway.api.shared_view`` and documented in
docs/sharing.md: it is not part of the API, which always needs a key.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, Field

from gateway.api.schemas.common import Documented, Strict, Text, _left_out
from gateway.api.schemas.turns import _whole
from gateway.sharing.links import MAX_EXPIRES_IN

# JSON Schema's integer: 60.0 is one too (as turn settings take it).
Whole = Annotated[int, BeforeValidator(_whole)]

_EXPIRES_IN = Field(
    default=None,
    ge=1,
    le=MAX_EXPIRES_IN,
    description="Seconds until the link stops working; left out: until it is revoked.",
    json_schema_extra=_left_out,
)


class ShareCreate(Strict):
    """What to share of a conversation (all of it by default) and what to show."""

    turn_id: Annotated[Text, Documented(pattern="^[A-Za-z0-9_-]{22}$")] = Field(  # type: ignore[assignment]  # absent, not null
        default=None,
        description="Share this turn only (one of the conversation's).",
        json_schema_extra=_left_out,
    )
    expires_in: Whole = _EXPIRES_IN  # type: ignore[assignment]  # absent, not null
    show_costs: bool = Field(default=False, description="Show what each answer cost.")
    show_settings: bool = Field(
        default=False,
        description="Show each prompt's settings (system prompt, temperature ...) and the "
        "conversation's context policy.",
    )


class LeaderboardShareCreate(Strict):
    live: bool = Field(
        default=False,
        description="false: the standings as they are now, kept; true: as they are at each view.",
    )
    days: Whole = Field(  # type: ignore[assignment]  # absent, not null
        default=None,
        ge=1,
        le=100_000,
        description="Only the votes of the last N days (at each view, when live).",
        json_schema_extra=_left_out,
    )
    expires_in: Whole = _EXPIRES_IN  # type: ignore[assignment]  # absent, not null


class ShareInfo(BaseModel):
    """A link as listed: never its token, which is not kept."""

    id: int
    kind: Literal["conversation", "leaderboard"]
    conversation_id: int | None = None
    turn_id: str | None = None
    show_costs: bool = False
    show_settings: bool = False
    live: bool = False
    created_at: datetime
    expires_at: datetime | None = Field(description="null: until revoked")


class ShareCreated(ShareInfo):
    url: str = Field(
        description="The link: a read-only view for anyone who has it, no key needed. Shown "
        "in this answer only."
    )
