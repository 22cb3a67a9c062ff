"""Fuse (api.md §7): the request, and a turn's fused answer as ``GET /turns/{id}`` shows it."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from gateway.api.schemas.common import (
    Documented,
    ModelEntry,
    Strict,
    Text,
)
from providers import PROVIDERS

MAX_INSTRUCTIONS_CHARS = 4000


class FuseRequest(Strict):
    model: ModelEntry = Field(
        description="The judge: an enabled provider, optionally with a model: 'claude' or "
        "'claude:claude-sonnet-4-5'"
    )
    instructions: Annotated[Text, Field(max_length=MAX_INSTRUCTIONS_CHARS)] | None = Field(
        default=None, description="What the judge should also keep in mind"
    )
    answers: (
        Annotated[
            list[ModelEntry],
            Documented(minItems=1, maxItems=len(PROVIDERS), uniqueItems=True),
        ]
        | None
    ) = Field(
        default=None,
        description="The answers to fuse, by provider (or label, in a blind turn); "
        "default: every complete answer of the turn",
    )


class FusionState(BaseModel):
    """A turn's latest fusion (each fusion is stored; history uses the latest)."""

    judge: str = Field(description="The judge's provider")
    model: str = Field(description="The judge's model")
    status: Literal["pending", "streaming", "complete", "failed", "cancelled"]
    message_id: int | None = Field(description="Its stored message (kind 'fuse'), once done")
    fused_from: list[int] = Field(description="The message ids of the answers it drew on")
    content: str | None = Field(description="The fused answer; null while it streams")
