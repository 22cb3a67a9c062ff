"""Chat and turns: asking, a turn's state, cancelling, retry and add."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, Field, field_validator

from gateway.api.schemas.arena import Vote
from gateway.api.schemas.branches import RunOut
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
from gateway.api.schemas.fuse import FusionState
from gateway.api.schemas.uploads import AttachmentOut
from gateway.turns.turn_settings import TurnSettings
from providers import PROVIDERS, CallSettings

Reasoning = Literal["off", "low", "medium", "high"]
UPLOAD_ID = r"^[A-Za-z0-9_-]{22}$"


def _whole(value: Any) -> Any:
    """JSON Schema's integer is any number without a fraction: 300.0 is one."""
    return int(value) if type(value) is float and value.is_integer() else value


OutputTokens = Annotated[int, Field(ge=1, le=1_000_000), BeforeValidator(_whole)]


class Params(Strict):
    """A turn's parameters; each left out (or null) keeps the model's own (or the configured)."""

    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: OutputTokens | None = Field(default=None, description="The answer's")
    reasoning: Reasoning | None = Field(
        default=None, description="How hard the models reason (streamed as `thinking` events)"
    )


class ProviderParams(Params):
    system: Text | None = Field(default=None, description="This provider's system prompt")


class Attachment(Strict):
    upload_id: Annotated[str, Documented(pattern=UPLOAD_ID)] = Field(
        description="An upload of this key (POST /uploads)"
    )

    @field_validator("upload_id")
    @classmethod
    def _upload_id(cls, value: str) -> str:
        if not re.fullmatch(UPLOAD_ID[1:-1], value):
            raise ValueError("is not an upload id")
        return value


class TurnSettingsOut(BaseModel):
    """A turn's own settings, as it was asked (unset fields are left out of params)."""

    system: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    provider_params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    attachments: list[AttachmentOut] = Field(default_factory=list)


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
    system: Text | None = Field(default=None, description="A system prompt for this turn.")
    params: Params | None = None
    provider_params: dict[str, ProviderParams] | None = Field(
        default=None,
        description="What differs per provider: {provider: {...}}.",
        json_schema_extra={"propertyNames": {"enum": list(PROVIDERS)}},
    )
    # Whether they are this key's uploads, and how many a prompt may have (MAX_ATTACHMENTS),
    # is the turn domain's to say (404, 422).
    attachments: Annotated[list[Attachment], Documented(maxItems=100, uniqueItems=True)] = Field(
        default_factory=list, max_length=100, description="Images uploaded before, in order."
    )

    @field_validator("prompt")
    @classmethod
    def _prompt_not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("provider_params")
    @classmethod
    def _known_providers(
        cls, value: dict[str, ProviderParams] | None
    ) -> dict[str, ProviderParams] | None:
        for name in value or {}:
            if name not in PROVIDERS:
                raise ValueError(f"unknown provider {name[:40]!r} (known: {', '.join(PROVIDERS)})")
        return value

    def turn_settings(self) -> TurnSettings:
        def call(params: Params | None, system: str | None = None) -> CallSettings:
            if params is None:
                return CallSettings(system=system)
            return CallSettings(system, params.temperature, params.max_tokens, params.reasoning)

        return TurnSettings(
            system=self.system,
            params=call(self.params),
            provider_params={
                name: call(params, params.system)
                for name, params in (self.provider_params or {}).items()
            },
            attachments=tuple(a.upload_id for a in self.attachments),
        )


class ChatResponseItem(BaseModel):
    provider: str | None  # null in a blind turn, which names the label instead
    model: str | None
    label: str | None = None
    status: AnswerStatus
    content: str
    thinking: str | None = None
    error: str | None
    error_detail: ErrorInfo | None = None
    message_id: int | None
    finish_reason: str | None = None
    latency_ms: float | None
    ttft_ms: float | None = None
    usage: UsageInfo | None = None
    cost_usd: float | None = None
    settings_ignored: dict[str, str] | None = None


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
    runs: list[RunOut] = Field(
        default_factory=list, description="Every stored run of this answer (retries), oldest first"
    )
    run: int | None = Field(
        default=None,
        description="The run its history uses: the one picked (PUT …/answers/{provider}/run), "
        "else the latest complete one; null: none can be used",
    )


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
    settings: TurnSettingsOut = Field(
        default_factory=TurnSettingsOut, description="Its own settings, as it was asked"
    )
    fusion: FusionState | None = Field(
        default=None, description="Its latest fused answer (POST /turns/{id}/fuse), if any"
    )
