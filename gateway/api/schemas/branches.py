"""Branches and runs: editing a prompt, the path on screen and where it branches, switching
branches, and the runs of an answer (api.md §7)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, Field, field_validator

from gateway.api.schemas.common import AnswerStatus, Documented, ModelEntry, NonBlank, Strict
from providers import PROVIDERS

TURN_ID = r"^[A-Za-z0-9_-]{22}$"


class EditRequest(Strict):
    prompt: NonBlank = Field(min_length=1, description="The edited prompt.")
    models: (
        Annotated[
            list[ModelEntry], Documented(minItems=1, maxItems=len(PROVIDERS), uniqueItems=True)
        ]
        | None
    ) = Field(
        default=None,
        description="Providers to ask; null (or left out): the edited turn's, with its models.",
    )

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


class CurrentRequest(Strict):
    turn_id: Annotated[str, Documented(pattern=TURN_ID)] = Field(
        description="A turn of the conversation: the path on screen goes through it, down to "
        "where that branch went last"
    )

    @field_validator("turn_id")
    @classmethod
    def _turn_id(cls, value: str) -> str:
        if not re.fullmatch(TURN_ID[1:-1], value):
            raise ValueError("is not a turn id")
        return value


def _whole(value: Any) -> Any:
    """JSON Schema's integer is any number without a fraction: 3.0 is one."""
    return int(value) if type(value) is float and value.is_integer() else value


RunNumber = Annotated[
    int,
    Field(ge=0, le=1_000_000, description="The run: 0 the first answer, 1, 2 ... its retries"),
    BeforeValidator(_whole),
]


class RunPick(Strict):
    run: RunNumber


class BranchOut(BaseModel):
    index: int = Field(description="0-based, among the turns that continue the same parent")
    count: int
    siblings: list[str] = Field(description="Every sibling's turn id, this one's too, oldest first")


class PathTurn(BaseModel):
    turn_id: str
    parent_id: str | None = Field(description="The turn it continues; null: a first turn")
    branch: BranchOut
    runs: dict[str, int] = Field(
        default_factory=dict,
        description="Each answer's run shown, by provider (a blind turn before its vote: by "
        "label): the picked one, else the latest",
    )


class RunOut(BaseModel):
    run: int
    message_id: int
    status: AnswerStatus
    model: str | None = Field(description="null in a blind turn until its vote")
    created_at: datetime


class CurrentPath(BaseModel):
    conversation_id: int
    path: list[PathTurn]
