"""Every API endpoint, declared once with its models (routes and OpenAPI come from this list)."""

from __future__ import annotations

import gateway.api.arena as arena
import gateway.api.branches as branches
import gateway.api.chat as chat
import gateway.api.conversations as conv
import gateway.api.export as export
import gateway.api.fuse as fuse
import gateway.api.keys as keys
import gateway.api.search as search
import gateway.api.session as session
import gateway.api.system as system
import gateway.api.turns as turns
import gateway.api.uploads as uploads
from gateway.api.openapi import ApiEndpoint
from gateway.api.paths import API
from gateway.api.schemas import (
    NO_NUL,
    STREAM_EVENTS,
    CancelRequest,
    ChatRequest,
    ChatResponse,
    Conversation,
    ConversationCreate,
    ConversationDetail,
    ConversationExport,
    ConversationHit,
    ConversationRename,
    FuseRequest,
    Health,
    Leaderboard,
    Liveness,
    ProviderInfo,
    Readiness,
    RerunRequest,
    RerunStarted,
    SessionState,
    SignIn,
    TurnCreated,
    TurnState,
    UploadOut,
    Vote,
    VoteRequest,
)
from gateway.api.share_endpoints import SHARE_ENDPOINTS

# Documented so that clients (and fuzzers) know what a turn id looks like; any other answers 404.
_TURN_ID = {"turn_id": {"type": "string", "pattern": f"^{turns.TURN_ID.pattern}$"}}

_PAGE = (
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20},
    },
    {
        "name": "offset",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 0, "maximum": conv.MAX_ID, "default": 0},
    },
)

RERUN = """\
The providers run again (retry: providers the turn has; add: providers it does not have; an
entry may pin a model, `"chatgpt:gpt-4o-mini"`), for this turn's prompt and the history before
it, on a running or a finished turn, also one only in the database (after a restart).

Their events come on the turn's own stream, `GET /turns/{id}/events`, with ids going on from
the turn's last one: `status`, `start`, `delta`, `done` for each of them. On a running turn they
come before its one `end`. A finished turn is reopened: after its new `done`s, a second `end`
(with every provider's latest status) closes the run. The answer gives `last_event_id`, the
last id before the run, and `events_url`, the stream from just after it: open it (an
EventSource stops at that `end`); `Last-Event-ID` resumes it as always.

Each run stores a new answer (`run` 1, 2 ... for a retry, 0 for an added provider); nothing is
replaced. The turn, its replay and `GET /turns/{id}` show each provider's latest answer; the
provider's history in later turns uses its latest complete one.

409: that provider still answers in this turn (a turn running on another gateway process is
retried there, over Redis; 409 if that process does not answer).
404: no such turn, or another key's. 422: a provider the turn has (add) or has not (retry), or
unknown."""

FUSE = """\
The judge (`"model"`: an enabled provider, optionally pinned, `"claude:claude-sonnet-4-5"`) is
given the turn's prompt and its complete answers (all of them, or those `"answers"` names, by
provider or by a blind turn's label), each marked with its source, and the optional
`"instructions"`, and writes one answer. It streams on the turn's own stream as retry and add
do, with ids going on: `start` (`"provider": "fuse"`, `judge`, `model`), `delta`s, and its own
`done` (`judge`, `model`, `fused_from`: the message ids it drew on, cost, usage, timing); a
finished turn is reopened and closed by a second `end`. It is stored as a message of kind
`fuse`; `GET /turns/{id}` (`fusion`), the conversation, its export and the context policy
`fused` use the turn's latest fusion.

409: a blind turn before its vote, a turn being fused already, a named answer that is not
complete (or no complete answer at all). A turn running on another gateway process is fused
there, over Redis (409 if that process does not answer).
404: no such turn, or another key's. 422: an unknown judge or model, an answer not in the turn."""

UPLOAD = """\
One image, multipart/form-data in the field `file`: PNG, JPEG, WebP or GIF, at most
MAX_UPLOAD_BYTES (20 MB by default). The whole image is decoded: a file that is not an image
(415), of another type than it was sent as, truncated or damaged (422), or too large (413) is
refused with `error.type` naming why, and nothing is stored. Its bytes are stored once per
SHA-256; the same image uploaded again by the same key is the same upload. A prompt attaches
it with `"attachments": [{"upload_id": id}]`."""

_IMAGES = {
    media_type: {"schema": {"type": "string", "format": "binary"}}
    for media_type in ("image/png", "image/jpeg", "image/webp", "image/gif")
}

ENDPOINTS: list[ApiEndpoint] = [
    ApiEndpoint(
        "POST",
        f"{API}/uploads",
        uploads.create_upload,
        "Upload an image for prompts",
        "uploads",
        response=UploadOut,
        status=201,
        errors=(503,),
        body_content={
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                },
                "encoding": {"file": {"contentType": ", ".join(_IMAGES)}},
            }
        },
        description=UPLOAD,
    ),
    ApiEndpoint(
        "GET",
        f"{API}/uploads/{{upload_id:str}}",
        uploads.read_upload,
        "An uploaded image (its owner's only)",
        "uploads",
        errors=(404, 503),
        other_content=_IMAGES,
        path_schemas={"upload_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]{22}$"}},
    ),
    ApiEndpoint(
        "POST",
        f"{API}/conversations/",
        conv.create_conversation,
        "Create a conversation",
        "conversations",
        body=ConversationCreate,
        response=Conversation,
        status=201,
        errors=(400, 413, 422, 503),
    ),
    ApiEndpoint(
        "GET",
        f"{API}/conversations/",
        conv.list_conversations,
        "List conversations, most recent activity first; with q, those whose prompts or "
        "answers match it, best first (PostgreSQL full-text search)",
        "conversations",
        response=ConversationHit,
        response_is_list=True,
        errors=(422, 503),
        query=(
            *_PAGE,
            {
                "name": "q",
                "in": "query",
                "required": False,
                "description": 'Words to find (web-search syntax: "a phrase", -not, or)',
                "schema": {
                    "type": "string",
                    "maxLength": search.MAX_QUERY_CHARS,
                    "pattern": NO_NUL,
                },
            },
        ),
    ),
    ApiEndpoint(
        "GET",
        f"{API}/conversations/{{conversation_id:id}}/export",
        export.export_conversation,
        "The whole conversation as a download: every turn, every provider's answers side by side",
        "conversations",
        response=ConversationExport,
        errors=(404, 422, 503),
        query=(
            {
                "name": "format",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "enum": list(export.FORMATS), "default": "markdown"},
            },
        ),
        other_content={"text/markdown": {"schema": {"type": "string"}}},
    ),
    ApiEndpoint(
        "GET",
        f"{API}/conversations/{{conversation_id:id}}",
        conv.get_conversation,
        "A conversation: the turns on its current path (or ?path=, the path through a turn), "
        "their messages in order, and where each branches",
        "conversations",
        response=ConversationDetail,
        errors=(404, 503),
        query=(
            {
                "name": "path",
                "in": "query",
                "required": False,
                "description": "A turn id: show the path through that turn (not kept; "
                "PUT …/current keeps it)",
                "schema": {"type": "string", "pattern": f"^{turns.TURN_ID.pattern}$"},
            },
        ),
    ),
    ApiEndpoint(
        "PATCH",
        f"{API}/conversations/{{conversation_id:id}}",
        conv.rename_conversation,
        "Rename a conversation, or change whether it is blind and its context policy",
        "conversations",
        body=ConversationRename,
        response=Conversation,
        errors=(400, 404, 413, 422, 503),
    ),
    ApiEndpoint(
        "DELETE",
        f"{API}/conversations/{{conversation_id:id}}",
        conv.delete_conversation,
        "Delete a conversation and its messages",
        "conversations",
        status=204,
        errors=(404, 503),
    ),
    ApiEndpoint(
        "POST",
        f"{API}/chat/",
        chat.chat,
        "Send a prompt to every (or the chosen) provider and wait for every answer",
        "chat",
        body=ChatRequest,
        response=ChatResponse,
        errors=(400, 404, 413, 422, 429, 503),
    ),
    ApiEndpoint(
        "POST",
        f"{API}/chat/stream",
        chat.chat_stream,
        "Send a prompt; the response is the turn's event stream",
        "chat",
        body=ChatRequest,
        stream=True,
        events=STREAM_EVENTS,
        errors=(400, 404, 413, 422, 429, 503),
    ),
    ApiEndpoint(
        "POST",
        f"{API}/turns",
        turns.create_turn,
        "Start a turn (EventSource step 1); stream it from events_url",
        "turns",
        body=ChatRequest,
        response=TurnCreated,
        status=201,
        errors=(400, 404, 413, 422, 429, 503),
    ),
    ApiEndpoint(
        "GET",
        f"{API}/turns/{{turn_id}}/events",
        turns.turn_events,
        "A turn's event stream (EventSource step 2); honours Last-Event-ID and ?last_event_id=",
        "turns",
        stream=True,
        events=STREAM_EVENTS,
        no_content=True,
        errors=(404, 422, 503),
        path_schemas=_TURN_ID,
        query=(
            {
                "name": "last_event_id",
                "in": "query",
                "required": False,
                "schema": {
                    "type": "integer",
                    "minimum": 0,
                    "maximum": 10**turns.MAX_EVENT_ID_DIGITS - 1,
                },
            },
        ),
    ),
    ApiEndpoint(
        "POST",
        f"{API}/turns/{{turn_id}}/cancel",
        turns.cancel_turn,
        "Cancel a turn now, or only the named providers",
        "turns",
        body=CancelRequest,
        body_optional=True,
        response=TurnState,
        errors=(400, 404, 413, 415, 422, 503),
        path_schemas=_TURN_ID,
    ),
    ApiEndpoint(
        "POST",
        f"{API}/turns/{{turn_id}}/retry",
        turns.retry_turn,
        "Ask providers of a turn again; their new start, delta and done events come on the "
        "turn's stream (follow events_url). 409 while that provider still answers",
        "turns",
        description=RERUN,
        body=RerunRequest,
        response=RerunStarted,
        status=202,
        errors=(400, 404, 409, 413, 415, 422, 429, 503),
        path_schemas=_TURN_ID,
    ),
    ApiEndpoint(
        "POST",
        f"{API}/turns/{{turn_id}}/add",
        turns.add_to_turn,
        "Ask providers that were not in a turn, on the turn's stream (follow events_url)",
        "turns",
        description=RERUN,
        body=RerunRequest,
        response=RerunStarted,
        status=202,
        errors=(400, 404, 409, 413, 415, 422, 429, 503),
        path_schemas=_TURN_ID,
    ),
    ApiEndpoint(
        "POST",
        f"{API}/turns/{{turn_id}}/fuse",
        fuse.fuse_turn,
        "A judge model fuses the turn's answers into one, streamed on the turn's stream as "
        "provider 'fuse' (follow events_url)",
        "turns",
        description=FUSE,
        body=FuseRequest,
        response=RerunStarted,
        status=202,
        errors=(400, 404, 409, 413, 415, 422, 429, 503),
        path_schemas=_TURN_ID,
    ),
    ApiEndpoint(
        "GET",
        f"{API}/turns/{{turn_id}}",
        turns.get_turn,
        "A turn's state",
        "turns",
        response=TurnState,
        errors=(404, 503),
        path_schemas=_TURN_ID,
    ),
    ApiEndpoint(
        "POST",
        f"{API}/turns/{{turn_id}}/vote",
        arena.vote,
        "Vote on a blind turn (once): reveals who each label was",
        "arena",
        body=VoteRequest,
        response=Vote,
        status=201,
        errors=(400, 404, 409, 413, 415, 422, 503),
        path_schemas=_TURN_ID,
    ),
    ApiEndpoint(
        "GET",
        f"{API}/leaderboard",
        arena.get_leaderboard,
        "Bradley–Terry ratings from your votes, with 95 % bootstrap intervals",
        "arena",
        response=Leaderboard,
        errors=(422, 503),
        query=(
            {
                "name": "since",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "format": "date-time"},
            },
            {
                "name": "days",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "minimum": 1, "maximum": arena.MAX_DAYS},
            },
        ),
    ),
    ApiEndpoint(
        "GET",
        f"{API}/providers",
        system.list_providers,
        "Each provider: model, live or simulated, health",
        "providers",
        response=ProviderInfo,
        response_is_list=True,
    ),
    ApiEndpoint(
        "GET",
        f"{API}/health",
        system.health,
        "Liveness and database reachability",
        "system",
        public=True,
        response=Health,
        errors=(503,),
    ),
    ApiEndpoint(
        "GET",
        f"{API}/health/live",
        system.health_live,
        "Liveness: the process answers (always 200)",
        "system",
        public=True,
        response=Liveness,
    ),
    ApiEndpoint(
        "GET",
        f"{API}/health/ready",
        system.health_ready,
        "Readiness: the database answers, the writer keeps up, not shutting down",
        "system",
        public=True,
        response=Readiness,
        errors=(503,),
    ),
    ApiEndpoint(
        "GET",
        f"{API}/session",
        session.session_state,
        "How this gateway authenticates, and who this request is (session cookie or bearer key)",
        "session",
        response=SessionState,
        public=True,
    ),
    ApiEndpoint(
        "POST",
        f"{API}/session",
        session.sign_in,
        "Sign in with a client key: sets an HttpOnly, SameSite=Strict session cookie",
        "session",
        body=SignIn,
        response=SessionState,
        errors=(400, 401, 413, 415, 422),
        public=True,
    ),
    ApiEndpoint(
        "DELETE",
        f"{API}/session",
        session.sign_out,
        "Sign out: the session ends on the server (on every process) and its cookie is cleared",
        "session",
        status=204,
        public=True,
    ),
    ApiEndpoint(
        "GET",
        f"{API}/keys",
        keys.list_keys,
        "Every client key, live or revoked (never the keys themselves); admin keys only",
        "keys",
        response=keys.KeyInfo,
        response_is_list=True,
        errors=(403, 503),
    ),
    ApiEndpoint(
        "POST",
        f"{API}/keys",
        keys.create,
        "Make a client key; the key is in this answer only. Admin keys only",
        "keys",
        body=keys.KeyCreate,
        response=keys.KeyCreated,
        status=201,
        errors=(400, 403, 409, 413, 415, 422, 503),
    ),
    ApiEndpoint(
        "DELETE",
        f"{API}/keys/{{key_id:id}}",
        keys.revoke,
        "Revoke a key: its sessions, events_url tokens and running turns end with it (within a"
        " second on every gateway process). Admin keys only; MULTICHAT_KEY's key changes with"
        " the variable (409)",
        "keys",
        status=204,
        errors=(403, 404, 409, 503),
    ),
    *branches.ENDPOINTS,
]
# Share links (gateway/api/share_endpoints.py), kept apart: their own module, their own tag.
ENDPOINTS += SHARE_ENDPOINTS
