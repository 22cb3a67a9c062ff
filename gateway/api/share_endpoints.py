"""The share links' endpoints, declared as every endpoint is (``gateway.api.endpoints`` adds
them to its list). What a link opens, ``/s/<token>``, is no API endpoint: see shared_view."""

from __future__ import annotations

import gateway.api.shares as shares
from gateway.api.openapi import ApiEndpoint
from gateway.api.paths import API
from gateway.api.schemas.shares import (
    LeaderboardShareCreate,
    ShareCreate,
    ShareCreated,
    ShareInfo,
)

SHARE = """\
A link to a read-only view of the conversation, or of one of its turns (`turn_id`), for anyone
who has it: no key needed, and nothing else of yours reachable from it. It opens as a page in a
browser and as JSON with `Accept: application/json` (docs/sharing.md shows the shape).

The view leaves out what each answer cost unless `show_costs`, and each prompt's settings
(system prompt, temperature ...) and the context policy unless `show_settings`. A blind turn's
answers show only once it was voted on (before: their labels, withheld). It follows the
conversation as it is at each view: later turns show in a whole-conversation link.

The `url` is in this answer only (the gateway keeps a hash of its token). It stops working when
revoked (`DELETE` here, or `DELETE /shares/{id}`), when `expires_in` seconds have passed, when
the conversation is deleted, or when your key is revoked; it then answers 404, as a link that
never existed does."""

LEADERBOARD_SHARE = """\
A link to a read-only view of your leaderboard for anyone who has it (no key needed): the
standings as they are now, kept with the link (`live: false`, the default), or as they are at
each view (`live: true`). `days` keeps to the last N days' votes. As JSON with
`Accept: application/json`, as a page in a browser."""

_SHARE_ID = {"share_id": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1}}

SHARE_ENDPOINTS: list[ApiEndpoint] = [
    ApiEndpoint(
        "POST",
        f"{API}/conversations/{{conversation_id:id}}/share",
        shares.share_conversation,
        "Share a conversation, or one of its turns, as a read-only link",
        "sharing",
        description=SHARE,
        body=ShareCreate,
        body_optional=True,
        response=ShareCreated,
        status=201,
        errors=(400, 404, 413, 415, 422, 503),
    ),
    ApiEndpoint(
        "GET",
        f"{API}/conversations/{{conversation_id:id}}/share",
        shares.conversation_shares,
        "The conversation's links that still open (never their URLs)",
        "sharing",
        response=ShareInfo,
        response_is_list=True,
        errors=(404, 503),
    ),
    ApiEndpoint(
        "DELETE",
        f"{API}/conversations/{{conversation_id:id}}/share",
        shares.unshare_conversation,
        "Revoke every link of the conversation (with turn_id, those of that turn only)",
        "sharing",
        status=204,
        errors=(404, 422, 503),
        query=(
            {
                "name": "turn_id",
                "in": "query",
                "required": False,
                "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{22}$"},
            },
        ),
    ),
    ApiEndpoint(
        "POST",
        f"{API}/leaderboard/share",
        shares.share_leaderboard,
        "Share your leaderboard as a read-only link: a snapshot, or live",
        "sharing",
        description=LEADERBOARD_SHARE,
        body=LeaderboardShareCreate,
        body_optional=True,
        response=ShareCreated,
        status=201,
        errors=(400, 413, 415, 422, 503),
    ),
    ApiEndpoint(
        "DELETE",
        f"{API}/leaderboard/share",
        shares.unshare_leaderboard,
        "Revoke every leaderboard link of yours",
        "sharing",
        status=204,
        errors=(503,),
    ),
    ApiEndpoint(
        "GET",
        f"{API}/shares",
        shares.list_shares,
        "Your links that still open, newest first (never their URLs)",
        "sharing",
        response=ShareInfo,
        response_is_list=True,
        errors=(503,),
    ),
    ApiEndpoint(
        "DELETE",
        f"{API}/shares/{{share_id:id}}",
        shares.revoke_share,
        "Revoke one link",
        "sharing",
        status=204,
        errors=(404, 503),
        path_schemas=_SHARE_ID,
    ),
]
