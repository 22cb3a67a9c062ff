"""The API's request and response bodies, one module per resource, and the stream's events on
their own; the OpenAPI document is generated from these.

* ``common``: the text rules, ``Strict`` request models, the error and usage shapes, ``dump``.
* ``conversations``, ``turns`` (chat and turns), ``arena`` (votes, leaderboard), ``system``
  (providers, health), ``session`` (the page's sign-in): one resource each.
* ``uploads``: an upload, and a prompt's images as shown.
* ``events``: each stream event's ``data`` (api.md §3.1), and ``STREAM_EVENTS``.

Everything is re-exported here, for the handlers; the modules import each other by their
own names, never this package.
"""

from gateway.api.schemas.arena import (
    Leaderboard,
    RevealedLabel,
    Standing,
    Vote,
    VoteRequest,
)
from gateway.api.schemas.branches import (
    BranchOut,
    CurrentPath,
    CurrentRequest,
    EditRequest,
    PathTurn,
    RunOut,
    RunPick,
)
from gateway.api.schemas.common import (
    MAX_MODEL_CHARS,
    MODEL_ENTRY,
    NO_NUL,
    NOT_BLANK,
    AnswerStatus,
    ContextPolicy,
    Documented,
    ErrorInfo,
    ModelEntry,
    NonBlank,
    Strict,
    Text,
    UsageInfo,
    dump,
)
from gateway.api.schemas.conversations import (
    Conversation,
    ConversationCreate,
    ConversationDetail,
    ConversationExport,
    ConversationHit,
    ConversationRename,
    ExportedTurn,
    MessageOut,
)
from gateway.api.schemas.events import (
    STREAM_EVENTS,
    DeltaEvent,
    DoneEvent,
    EndEvent,
    RevealEvent,
    RevealIdentity,
    StartEvent,
    StatusEvent,
    ThinkingEvent,
    TurnEvent,
    TurnEventProvider,
)
from gateway.api.schemas.fuse import FuseRequest, FusionState
from gateway.api.schemas.session import (
    SessionState,
    SignIn,
)
from gateway.api.schemas.system import (
    Health,
    Liveness,
    ProviderInfo,
    Readiness,
)
from gateway.api.schemas.turns import (
    Attachment,
    CancelRequest,
    ChatRequest,
    ChatResponse,
    ChatResponseItem,
    Params,
    ProviderParams,
    RerunRequest,
    RerunStarted,
    TurnCreated,
    TurnProviderState,
    TurnSettingsOut,
    TurnState,
)
from gateway.api.schemas.uploads import AttachmentOut, UploadOut

__all__ = [
    "FuseRequest",
    "FusionState",
    "AnswerStatus",
    "Attachment",
    "AttachmentOut",
    "Params",
    "ProviderParams",
    "ThinkingEvent",
    "TurnSettingsOut",
    "UploadOut",
    "BranchOut",
    "CancelRequest",
    "CurrentPath",
    "CurrentRequest",
    "EditRequest",
    "PathTurn",
    "RunOut",
    "RunPick",
    "ChatRequest",
    "ChatResponse",
    "ChatResponseItem",
    "ContextPolicy",
    "Conversation",
    "ConversationCreate",
    "ConversationDetail",
    "ConversationExport",
    "ConversationHit",
    "ConversationRename",
    "DeltaEvent",
    "Documented",
    "DoneEvent",
    "EndEvent",
    "ErrorInfo",
    "ExportedTurn",
    "Health",
    "Leaderboard",
    "Liveness",
    "MAX_MODEL_CHARS",
    "MODEL_ENTRY",
    "MessageOut",
    "ModelEntry",
    "NOT_BLANK",
    "NO_NUL",
    "NonBlank",
    "ProviderInfo",
    "Readiness",
    "RerunRequest",
    "RerunStarted",
    "RevealEvent",
    "RevealIdentity",
    "RevealedLabel",
    "STREAM_EVENTS",
    "SessionState",
    "SignIn",
    "Standing",
    "StartEvent",
    "StatusEvent",
    "Strict",
    "Text",
    "TurnCreated",
    "TurnEvent",
    "TurnEventProvider",
    "TurnProviderState",
    "TurnState",
    "UsageInfo",
    "Vote",
    "VoteRequest",
    "dump",
]
