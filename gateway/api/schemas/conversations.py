"""Conversations: creating, renaming, listing, searching, reading and exporting them."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from gateway.api.schemas.branches import PathTurn
from gateway.api.schemas.common import (
    _POLICY,
    AnswerStatus,
    ContextPolicy,
    ErrorInfo,
    NonBlank,
    Strict,
    Text,
    UsageInfo,
    _left_out,
)
from gateway.api.schemas.turns import TurnSettingsOut
from gateway.api.schemas.uploads import AttachmentOut


class ConversationCreate(Strict):
    title: Text | None = Field(
        default=None, max_length=200, description="Defaults to 'New conversation'."
    )
    blind: bool = Field(default=False, description="Its turns are blind unless one says not.")
    context_policy: ContextPolicy = Field(default="isolated", description=_POLICY)


class ConversationRename(Strict):
    """PATCH: rename, and/or change its settings; what is left out stays as it was (null is
    not a value: a field is given or left out)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    title: NonBlank = Field(  # type: ignore[assignment]  # absent, not null: the document shows no null
        default=None, min_length=1, max_length=200, json_schema_extra=_left_out
    )
    # Absent, not null (the document shows no null): None means "not sent".
    blind: bool = Field(default=None, json_schema_extra=_left_out)  # type: ignore[assignment]  # absent
    context_policy: ContextPolicy = Field(
        default=None,  # type: ignore[arg-type]  # absent, not null
        description=_POLICY,
        json_schema_extra=_left_out,
    )

    @field_validator("title")
    @classmethod
    def _not_blank(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    @model_validator(mode="after")
    def _something(self) -> ConversationRename:
        if self.title is None and self.blind is None and self.context_policy is None:
            raise ValueError("give a title, blind or context_policy")
        return self


class Conversation(BaseModel):
    id: int
    title: str
    created_at: datetime
    updated_at: datetime
    message_count: int = 0
    blind: bool = False
    context_policy: ContextPolicy = "isolated"


class ConversationHit(Conversation):
    """A conversation in the list; with ``?q=``, also how well it matched and its best passage."""

    rank: float | None = Field(
        default=None, description="With q: higher is better (its matching messages' ranks summed)"
    )
    snippet: str | None = Field(
        default=None, description="With q: plain text around the best match"
    )
    turn_id: str | None = Field(
        default=None,
        description="With q: the best match's turn, on whichever branch (PUT …/current to it "
        "shows that branch)",
    )


class MessageOut(BaseModel):
    id: int
    turn_id: str | None
    role: Literal["user", "assistant"]
    provider: str | None = Field(description="null for a blind turn's answer until its vote")
    model: str | None
    simulated: bool | None = Field(
        default=None, description="Answered by the built-in simulator (null: not known, or blind)"
    )
    label: str | None = Field(default=None, description="A blind turn's answer: its label")
    status: AnswerStatus
    content: str
    thinking: str | None = Field(default=None, description="An answer's reasoning, apart")
    finish_reason: str | None = None
    error: ErrorInfo | None = None
    ttft_ms: float | None = None
    latency_ms: float | None = None
    usage: UsageInfo | None = None
    citations: list[str] | None = None
    cost_usd: float | None = None
    run: int = Field(
        default=0, description="0: the turn's first answer of this provider; 1, 2 ...: its retries"
    )
    created_at: datetime
    settings_ignored: dict[str, str] | None = Field(
        default=None, description="An answer's settings its model was not given, and why"
    )
    settings: TurnSettingsOut | None = Field(
        default=None, description="A prompt's: its turn's own settings"
    )
    attachments: list[AttachmentOut] | None = Field(
        default=None, description="A prompt's images, in order"
    )
    kind: Literal["answer", "fuse"] = Field(
        default="answer", description="'fuse': a fused answer (provider 'fuse'), by its judge"
    )
    judge: str | None = Field(default=None, description="A fused answer's judge (provider)")
    fused_from: list[int] | None = Field(
        default=None, description="A fused answer's sources: the message ids it drew on"
    )


class ConversationDetail(Conversation):
    cost_usd: float | None = Field(
        default=None,
        description="What every answer cost (retries and other branches included); null: no "
        "price known",
    )
    messages: list[MessageOut] = Field(description="The messages of the turns on the path")
    path: list[PathTurn] = Field(
        default_factory=list,
        description="The turns on screen, first to leaf, and where each branches (edits)",
    )


class ExportedTurn(BaseModel):
    turn_id: str
    parent_turn_id: str | None = Field(default=None, description="The turn it continues")
    created_at: str
    prompt: str
    answers: list[dict[str, Any]] = Field(
        description="Each answer as in a conversation's messages (without role and turn_id)"
    )


class ConversationExport(BaseModel):
    """format=json; format=markdown is the same as a Markdown document."""

    id: int
    title: str
    created_at: str
    updated_at: str
    cost_usd: float | None
    turns: list[ExportedTurn] = Field(description="The current path's turns, in order")
    branches: list[ExportedTurn] = Field(
        default_factory=list, description="Every other turn (other branches), oldest first"
    )
