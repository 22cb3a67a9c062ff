"""Every API endpoint, declared once with its models (routes and OpenAPI come from this list)."""

from __future__ import annotations

from gateway.api import chat, system, turns
from gateway.api import conversations as conv
from gateway.api.openapi import ApiEndpoint
from gateway.api.schemas import (
    STREAM_EVENTS,
    CancelRequest,
    ChatRequest,
    ChatResponse,
    Conversation,
    ConversationCreate,
    ConversationDetail,
    ConversationRename,
    Health,
    ProviderInfo,
    TurnCreated,
    TurnState,
)

API = "/api/v1"

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

ENDPOINTS: list[ApiEndpoint] = [
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
        "List conversations, most recent activity first",
        "conversations",
        response=Conversation,
        response_is_list=True,
        errors=(422, 503),
        query=_PAGE,
    ),
    ApiEndpoint(
        "GET",
        f"{API}/conversations/{{conversation_id:id}}",
        conv.get_conversation,
        "A conversation with all its messages in order",
        "conversations",
        response=ConversationDetail,
        errors=(404, 503),
    ),
    ApiEndpoint(
        "PATCH",
        f"{API}/conversations/{{conversation_id:id}}",
        conv.rename_conversation,
        "Rename a conversation",
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
        response=Health,
        errors=(503,),
    ),
]
