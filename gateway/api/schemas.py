"""The API's request and response bodies. The OpenAPI document is generated from these."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

AnswerStatus = Literal["complete", "failed", "cancelled"]


class Strict(BaseModel):
    # Strict types so that "1" is not silently taken for 1; unknown fields are refused.
    model_config = ConfigDict(extra="forbid", strict=True)


# -- conversations ---------------------------------------------------------------------------


class ConversationCreate(Strict):
    title: str | None = Field(
        default=None, max_length=200, description="Defaults to 'New conversation'."
    )


class ConversationRename(Strict):
    title: str = Field(min_length=1, max_length=200)

    @field_validator("title")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()


class Conversation(BaseModel):
    id: int
    title: str
    created_at: datetime
    updated_at: datetime
    message_count: int = 0


class ErrorInfo(BaseModel):
    type: str
    message: str
    status_code: int | None = None
    retryable: bool = False


class UsageInfo(BaseModel):
    input_tokens: int | None = None
    output_tokens: int | None = None


class MessageOut(BaseModel):
    id: int
    turn_id: str | None
    role: Literal["user", "assistant"]
    provider: str | None
    model: str | None
    status: AnswerStatus
    content: str
    finish_reason: str | None = None
    error: ErrorInfo | None = None
    ttft_ms: float | None = None
    latency_ms: float | None = None
    usage: UsageInfo | None = None
    citations: list[str] | None = None
    created_at: datetime


class ConversationDetail(Conversation):
    messages: list[MessageOut]


# -- chat and turns ---------------------------------------------------------------------------


class ChatRequest(Strict):
    prompt: str = Field(description="The user's prompt.")
    conversation_id: int | None = Field(default=None, description="null starts a new conversation.")
    models: list[str] | None = Field(
        default=None,
        description="Providers to ask, e.g. ['claude', 'chatgpt:gpt-4o-mini']; null asks every one.",
    )

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value


class ChatResponseItem(BaseModel):
    provider: str
    model: str
    status: AnswerStatus
    content: str
    error: str | None
    error_detail: ErrorInfo | None = None
    message_id: int | None
    finish_reason: str | None = None
    latency_ms: float | None
    ttft_ms: float | None = None
    usage: UsageInfo | None = None


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
    providers: list[str] | None = Field(default=None, description="Omit to cancel every provider.")


class TurnProviderState(BaseModel):
    provider: str
    model: str
    simulated: bool
    status: Literal["pending", "streaming", "complete", "failed", "cancelled"]
    message_id: int | None = None


class TurnState(BaseModel):
    turn_id: str
    conversation_id: int
    user_message_id: int | None
    status: Literal["running", "finished", "interrupted"]
    providers: list[TurnProviderState]


class ProviderInfo(BaseModel):
    name: str
    display_name: str
    model: str
    simulated: bool
    health: Literal["ok", "degraded", "down", "unknown"]
    detail: str | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
