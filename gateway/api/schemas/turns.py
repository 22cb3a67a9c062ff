"""Chat and turns: asking, a turn's state, cancelling, retry and add."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from gateway.api.schemas.arena import Vote
from gateway.api.schemas.common import (
    MAX_MODEL_CHARS,
    AnswerStatus,
    Documented,
    ErrorInfo,
    ModelEntry,
    NonBlank,
    Strict,
    Text,
    UsageInfo,
)
from providers import PROVIDERS


class ChatRequest(Strict):
    prompt: NonBlank = Field(min_length=1, description="The user's prompt.")
    conversation_id: int | None = Field(default=None, description="null starts a new conversation.")
    # Empty, too long or a provider named twice is refused by the turn domain (422).
    models: (
        Annotated[
            list[ModelEntry], Documented(minItems=1, maxItems=len(PROVIDERS), uniqueItems=True)
        ]
        | None
    ) = Field(
        default=None,
        description="Providers to ask, e.g. ['claude', 'chatgpt:gpt-4o-mini']; null asks every one.",
    )
    blind: bool | None = Field(
        default=None,
        description="Label the answers A, B, … and hide who gave them until a vote; "
        "null: as the conversation is set.",
    )

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


class ChatResponseItem(BaseModel):
    provider: str | None  # null in a blind turn, which names the label instead
    model: str | None
    label: str | None = None
    status: AnswerStatus
    content: str
    error: str | None
    error_detail: ErrorInfo | None = None
    message_id: int | None
    finish_reason: str | None = None
    latency_ms: float | None
    ttft_ms: float | None = None
    usage: UsageInfo | None = None
    cost_usd: float | None = None


class ChatResponse(BaseModel):
    conversation_id: int
    user_message_id: int
    turn_id: str
    responses: list[ChatResponseItem]


class TurnCreated(BaseModel):
    turn_id: str
    conversation_id: int
    user_message_id: int
    events_url: str


class CancelRequest(Strict):
    providers: list[Annotated[Text, Field(max_length=MAX_MODEL_CHARS)]] | None = Field(
        default=None, description="Omit to cancel every provider."
    )


class RerunRequest(Strict):
    providers: Annotated[
        list[ModelEntry], Documented(minItems=1, maxItems=len(PROVIDERS), uniqueItems=True)
    ] = Field(
        description="Retry: providers of the turn; add: providers not in it. "
        "An entry may pin a model: 'chatgpt:gpt-4o-mini'."
    )


class RerunStarted(BaseModel):
    turn_id: str
    conversation_id: int
    providers: list[str]
    last_event_id: int = Field(
        description="The turn's last event id before this run: its events come after it"
    )
    events_url: str = Field(
        description="The turn's stream from just after last_event_id: the run's events, "
        "then an end once every provider of the turn is done"
    )


class TurnProviderState(BaseModel):
    provider: str | None = Field(description="null in a blind turn until its vote")
    model: str | None
    simulated: bool | None
    status: Literal["pending", "streaming", "complete", "failed", "cancelled"]
    message_id: int | None = None
    label: str | None = None


class TurnState(BaseModel):
    turn_id: str
    conversation_id: int
    user_message_id: int | None
    status: Literal["running", "finished", "interrupted"]
    providers: list[TurnProviderState]
    blind: bool = False
    vote: Vote | None = None
    cost_usd: float | None = Field(
        default=None, description="What its answers cost so far, retries included"
    )
