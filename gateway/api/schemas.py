"""The API's request and response bodies. The OpenAPI document is generated from these."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from gateway.turns.turn_settings import TurnSettings
from providers import PROVIDERS, CallSettings

AnswerStatus = Literal["complete", "failed", "cancelled"]
ContextPolicy = Literal["isolated", "winner", "shared"]
_POLICY = (
    "How each provider sees the conversation's history: isolated (its own answers), winner "
    "(after a vote, the voted answer as its own), shared (every answer, labelled by provider)."
)
MAX_MODEL_CHARS = 200  # "provider:model" and its simulator knobs fit; a 900 KB pin does not

# The document states the rules as patterns, so that clients (and the fuzzer) know them; the
# validators below enforce them. Written with \uXXXX escapes, which every regex dialect reads.
# Whitespace is what str.strip() strips, listed, because \s differs between dialects.
_WS = (
    r"\t\n\u000b\u000c\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
NO_NUL = r"^[^\u0000]*$"
NOT_BLANK = rf"^[^\u0000]*[^\u0000{_WS}][^\u0000]*$"
MODEL_ENTRY = rf"^[{_WS}]*({'|'.join(PROVIDERS)})[{_WS}]*(:[^\u0000]*)?$"


class Documented:
    """Extra JSON Schema keywords for a type (the rule itself is enforced elsewhere)."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __hash__(self) -> int:  # typing hashes Annotated metadata
        return hash(tuple(sorted(self.keywords.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Documented) and other.keywords == self.keywords

    def __get_pydantic_json_schema__(self, core_schema, handler):
        return {**handler(core_schema), **self.keywords}


def _storable(value: str) -> str:
    """Text PostgreSQL can store and JSON can echo: no U+0000, no lone surrogate."""
    if "\x00" in value:
        raise ValueError("must not contain U+0000")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must not contain a lone surrogate (not Unicode text)") from None
    return value


# Every text field a request carries: it is stored, sent upstream or echoed in an error.
Text = Annotated[str, AfterValidator(_storable), Documented(pattern=NO_NUL)]
NonBlank = Annotated[Text, Documented(pattern=NOT_BLANK)]
ModelEntry = Annotated[Text, Field(max_length=MAX_MODEL_CHARS), Documented(pattern=MODEL_ENTRY)]


class Strict(BaseModel):
    # Strict types so that "1" is not silently taken for 1; unknown fields are refused.
    model_config = ConfigDict(extra="forbid", strict=True)


# -- conversations ---------------------------------------------------------------------------


class ConversationCreate(Strict):
    title: Text | None = Field(
        default=None, max_length=200, description="Defaults to 'New conversation'."
    )
    blind: bool = Field(default=False, description="Its turns are blind unless one says not.")
    context_policy: ContextPolicy = Field(default="isolated", description=_POLICY)


def _left_out(schema: dict[str, Any]) -> None:
    """A field that may be left out but not null: the document shows no null default."""
    schema.pop("default", None)


class ConversationRename(Strict):
    """PATCH: rename, and/or change its settings; what is left out stays as it was (null is
    not a value: a field is given or left out)."""

    model_config = ConfigDict(json_schema_extra={"minProperties": 1})

    title: NonBlank = Field(  # type: ignore[assignment]
        default=None, min_length=1, max_length=200, json_schema_extra=_left_out
    )
    blind: bool = Field(default=None, json_schema_extra=_left_out)  # type: ignore[assignment]
    context_policy: ContextPolicy = Field(  # type: ignore[assignment]
        default=None, description=_POLICY, json_schema_extra=_left_out
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


class ErrorInfo(BaseModel):
    type: str
    message: str
    status_code: int | None = None
    retryable: bool = False


class UsageInfo(BaseModel):
    input_tokens: int | None = None
    output_tokens: int | None = Field(default=None, description="Reasoning tokens included")
    reasoning_tokens: int | None = None


class AttachmentOut(BaseModel):
    upload_id: str


class TurnSettingsOut(BaseModel):
    """A turn's own settings, as it was asked (unset fields are left out of params)."""

    system: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    provider_params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    attachments: list[AttachmentOut] = Field(default_factory=list)


class UploadOut(BaseModel):
    id: str
    media_type: Literal["image/png", "image/jpeg", "image/webp", "image/gif"]
    bytes: int
    sha256: str
    width: int
    height: int


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


class ConversationDetail(Conversation):
    cost_usd: float | None = Field(
        default=None, description="What every answer cost (retries included); null: no price known"
    )
    messages: list[MessageOut]


class ExportedTurn(BaseModel):
    turn_id: str
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
    turns: list[ExportedTurn]


# -- chat and turns ---------------------------------------------------------------------------


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
    provider_params: dict[Literal[tuple(PROVIDERS)], ProviderParams] | None = Field(  # type: ignore[valid-type]
        default=None, description="What differs per provider: {provider: {...}}."
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


class VoteRequest(Strict):
    """Exactly one of the two (null is not a value)."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [{"required": ["winner"]}, {"required": ["ranking"]}],
            "examples": [{"winner": "A"}, {"ranking": ["B", "A", "C"]}, {"winner": "tie"}],
        }
    )

    winner: Annotated[Text, Field(max_length=20)] = Field(  # type: ignore[assignment]
        default=None,
        description="The best answer's label, 'tie' or 'all_bad'.",
        json_schema_extra=_left_out,
    )
    ranking: Annotated[  # type: ignore[assignment]
        list[Annotated[Text, Field(max_length=20)]], Documented(minItems=1, maxItems=26)
    ] = Field(
        default=None,
        description="Labels, best first; unlisted ones rank below them all.",
        json_schema_extra=_left_out,
    )

    @model_validator(mode="after")
    def _one(self) -> VoteRequest:
        if (self.winner is None) == (self.ranking is None):
            raise ValueError("give either winner or ranking")
        if self.ranking is not None and not self.ranking:
            raise ValueError("ranking: name at least one label")
        return self


class RevealedLabel(BaseModel):
    label: str
    provider: str
    model: str
    simulated: bool


class Vote(BaseModel):
    turn_id: str
    verdict: Literal["winner", "tie", "all_bad", "ranking"]
    winner: str | None
    ranking: list[str] | None
    created_at: datetime
    revealed: list[RevealedLabel]


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


# -- the events of a stream (spec §3.1): each event's ``data``, one line of JSON --------------


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


# -- the leaderboard ----------------------------------------------------------------------------


class Standing(BaseModel):
    provider: str
    model: str
    rank: int = Field(description="1 + how many rate higher: equal whole-point ratings tie")
    rating: float = Field(description="Bradley–Terry on the Elo scale: the models' mean is 1000")
    ci_low: float = Field(description="95 % bootstrap interval, low end")
    ci_high: float
    votes: int
    wins: int = Field(description="Pairwise: answers it beat")
    losses: int
    ties: int
    all_bad: int = Field(description="all_bad votes it was in (counted as ties)")
    win_rate: float | None = Field(description="Share of pairwise comparisons won, ties half")


class Leaderboard(BaseModel):
    since: datetime | None
    votes: int
    bootstrap_rounds: int
    standings: list[Standing]


class ProviderInfo(BaseModel):
    name: str
    display_name: str
    model: str
    models: list[str] = Field(
        default_factory=list, description="Models to offer by name: the default first"
    )
    simulated: bool
    health: Literal["ok", "degraded", "down", "unknown"]
    detail: str | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"]
    writer: Literal["ok", "backed_up"]  # its queue at 90 % of WRITER_QUEUE or more
    draining: bool  # shutting down: no new turns


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


# -- sessions (the page's sign-in) -----------------------------------------------------------


class SignIn(Strict):
    key: str = Field(min_length=1, max_length=200, description="A client key (mck_…)")


class SessionState(BaseModel):
    auth: Literal["open", "keys", "off"] = Field(
        description="open: loopback with no client keys; keys: a key is required; off: AUTH=off"
    )
    signed_in: bool
    key_name: str | None = None
