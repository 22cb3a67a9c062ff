"""Every API endpoint, declared once with its models (routes and OpenAPI come from this list)."""

from __future__ import annotations

from gateway.models import (
    Conversation,
    ConversationCreate,
    ConversationDetail,
    ConversationRename,
    Health,
    ProviderInfo,
)
from gateway.openapi import Endpoint
from gateway.routes import conversations as conv
from gateway.routes import system

API = "/api/v1"

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
        "schema": {"type": "integer", "minimum": 0, "default": 0},
    },
)

ENDPOINTS: list[Endpoint] = [
    Endpoint(
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
    Endpoint(
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
    Endpoint(
        "GET",
        f"{API}/conversations/{{conversation_id:int}}",
        conv.get_conversation,
        "A conversation with all its messages in order",
        "conversations",
        response=ConversationDetail,
        errors=(404, 503),
    ),
    Endpoint(
        "PATCH",
        f"{API}/conversations/{{conversation_id:int}}",
        conv.rename_conversation,
        "Rename a conversation",
        "conversations",
        body=ConversationRename,
        response=Conversation,
        errors=(400, 404, 413, 422, 503),
    ),
    Endpoint(
        "DELETE",
        f"{API}/conversations/{{conversation_id:int}}",
        conv.delete_conversation,
        "Delete a conversation and its messages",
        "conversations",
        status=204,
        errors=(404, 503),
    ),
    Endpoint(
        "GET",
        f"{API}/providers",
        system.list_providers,
        "Each provider: model, live or simulated, health",
        "providers",
        response=ProviderInfo,
        response_is_list=True,
    ),
    Endpoint(
        "GET",
        f"{API}/health",
        system.health,
        "Liveness and database reachability",
        "system",
        response=Health,
        errors=(503,),
    ),
]
