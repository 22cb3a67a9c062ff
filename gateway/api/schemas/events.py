"""The events of a stream (api.md §3.1): each event's ``data``, one line of JSON; ``STREAM_EVENTS``
names them, for the document."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from gateway.api.schemas.common import (
    AnswerStatus,
    ErrorInfo,
    UsageInfo,
)

# A blind turn's events name a ``label`` instead of ``provider``, and carry no ``model``.


class TurnEventProvider(BaseModel):
    provider: str | None = None
    model: str | None = None
    simulated: bool | None = None
    label: str | None = None


class TurnEvent(BaseModel):
    turn_id: str
    conversation_id: int
    user_message_id: int
    providers: list[TurnEventProvider]
    blind: bool = False


class StartEvent(BaseModel):
    provider: str | None = None
    model: str | None = None
    label: str | None = None
    judge: str | None = Field(
        default=None, description="A fusion's (provider 'fuse'): the judge's provider"
    )


class DeltaEvent(BaseModel):
    provider: str | None = None
    label: str | None = None
    text: str


class ThinkingEvent(BaseModel):
    """A piece of an answer's reasoning (never part of its content)."""

    provider: str | None = None
    label: str | None = None
    text: str


class DoneEvent(BaseModel):
    provider: str | None = None
    label: str | None = None
    status: AnswerStatus
    message_id: int | None
    model: str | None = None
    content: str
    thinking: str | None = Field(default=None, description="The whole reasoning; null: none came")
    settings_ignored: dict[str, str] | None = Field(
        default=None, description="Settings the model was not given, and why (blind: not why)"
    )
    finish_reason: str | None
    usage: UsageInfo | None
    ttft_ms: float | None
    latency_ms: float | None
    error: ErrorInfo | None
    citations: list[str] | None
    cost_usd: float | None = Field(
        default=None, description="USD; null when the model has no price; absent when blind"
    )
    judge: str | None = Field(
        default=None, description="A fusion's (provider 'fuse'): the judge's provider"
    )
    fused_from: list[int] | None = Field(
        default=None, description="A fusion's: the message ids of the answers it drew on"
    )


class StatusEvent(BaseModel):
    provider: str | None = None
    label: str | None = None
    state: Literal["waiting", "retrying", "streaming"]
    attempt: int = Field(description="waiting, streaming: this attempt; retrying: the next one")
    attempts: int = Field(description="at most this many attempts")
    retry_in_ms: int | None = Field(description="retrying: the wait before the next attempt")


class EndEvent(BaseModel):
    turn_id: str
    statuses: dict[str, AnswerStatus]


class RevealIdentity(BaseModel):
    provider: str
    model: str
    simulated: bool


class RevealEvent(BaseModel):
    """A blind turn was voted on while its stream was open: who each label was."""

    turn_id: str
    labels: dict[str, RevealIdentity]


STREAM_EVENTS: dict[str, type[BaseModel]] = {
    "turn": TurnEvent,
    "start": StartEvent,
    "status": StatusEvent,
    "delta": DeltaEvent,
    "thinking": ThinkingEvent,
    "done": DoneEvent,
    "reveal": RevealEvent,
    "end": EndEvent,
}
