"""What a share link opens, ``/s/<token>``: a read-only view needing no key (docs/sharing.md).

The token alone says what may be seen, and nothing else of its owner's: the view reads no
cookie and no key, sets none, and its page calls no API (it reads this same address as JSON).
Unknown, revoked and expired links, and those of a revoked key, get the same 404, so a link
tells nothing about links in general.

Shaped here, from the owner's own view of the conversation (``load_conversation``), so that
what a share shows follows what the owner sees, less what the owner did not choose to show:
costs and settings (each prompt's system prompt and parameters, the context policy) unless
asked for, and blind answers until their turn is voted on (withheld: label only). A prompt's
images are owner-only (``/uploads``): the view says how many there were.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from gateway.api.arena import standings
from gateway.api.conversations import load_conversation
from gateway.api.errors import HttpError
from gateway.api.page import STATIC_DIR
from gateway.api.schemas import ConversationDetail, MessageOut, dump
from gateway.api.shares import SHARE_PATH, window_since
from gateway.runtime import runtime
from gateway.sharing import Share, find_share
from gateway.turns.replay import sum_costs
from storage import Q

# Its own policy, stricter than the page's: no form goes anywhere, nothing is framed, and its
# script (from this origin) reads only this origin.
SHARE_CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    )
)
SHARE_HEADERS = {
    "Content-Security-Policy": SHARE_CONTENT_SECURITY_POLICY,
    "X-Robots-Tag": "noindex, nofollow, noarchive",
    # A link is a credential: no shared cache keeps what it opened, no Referer carries it.
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "Vary": "Accept",
}
NOT_SHARED = "no such share link (it may have been revoked or have expired)"
ANSWER_FIELDS = (
    "label",
    "provider",
    "model",
    "simulated",
    "status",
    "content",
    "thinking",
    "finish_reason",
    "error",
    "ttft_ms",
    "latency_ms",
    "usage",
    "citations",
    "run",
    "created_at",
    "kind",  # when messages have kinds (a fused answer's)
)


def wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "").lower()
    return "application/json" in accept and "text/html" not in accept


async def shared(request: Request) -> Response:
    gateway = runtime(request)
    share = await find_share(gateway.pool, request.path_params["token"])
    as_json = wants_json(request)
    if share is None:
        return not_shared(as_json)
    if not as_json:
        # The page reads this address again as JSON (share.js): one file for every link.
        return FileResponse(
            STATIC_DIR / "share.html", media_type="text/html", headers=SHARE_HEADERS
        )
    try:
        if share.kind == "leaderboard":
            data = await shared_leaderboard(gateway.pool, share)
        else:
            detail = await load_conversation(gateway.pool, share.conversation_id or 0, share.owner)
            verdicts = await Q.conversation_verdicts.fetch(
                gateway.pool, conversation_id=detail.id, owner=share.owner
            )
            data = shared_conversation(detail, share, {v["turn_id"]: v for v in verdicts})
    except HttpError as error:
        if error.status != 404:
            raise
        return not_shared(as_json)  # deleted since: as if never shared
    return JSONResponse(data, headers=SHARE_HEADERS)


def not_shared(as_json: bool) -> Response:
    if as_json:
        body = {"error": {"type": "not_found", "message": NOT_SHARED}}
        return JSONResponse(body, status_code=404, headers=SHARE_HEADERS)
    # The same page, which then reads the same 404 as JSON and says so.
    return FileResponse(
        STATIC_DIR / "share.html", status_code=404, media_type="text/html", headers=SHARE_HEADERS
    )


def shared_conversation(
    detail: ConversationDetail, share: Share, verdicts: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``verdicts``: the owner's vote on each voted blind turn, by turn id."""
    shown = {entry.turn_id: entry.runs for entry in detail.path}  # the runs the owner shows
    turns = [
        shared_turn(group, share, (verdicts or {}).get(group[0] or ""), shown.get(group[0] or ""))
        for group in turns_of(detail.messages)
        if share.turn_id is None or group[0] == share.turn_id
    ]
    data: dict[str, Any] = {
        "kind": "conversation",
        # A one-turn link shows that turn only, not even the conversation's name.
        "title": detail.title if share.turn_id is None else None,
        "shared_at": share.created_at.isoformat(),
        "expires_at": share.expires_at.isoformat() if share.expires_at else None,
        "show_costs": share.show_costs,
        "show_settings": share.show_settings,
        "turns": turns,
    }
    if share.show_settings:
        data["context_policy"] = detail.context_policy
    if share.show_costs:
        costs = [a.get("cost_usd") for t in turns for a in t["answers"]]
        data["cost_usd"] = sum_costs(costs)
    return data


def turns_of(messages: Iterable[MessageOut]) -> list[tuple[str | None, list[MessageOut]]]:
    """(turn id, its messages) in order: a prompt and the answers that share its turn id."""
    groups: list[tuple[str | None, list[MessageOut]]] = []
    by_turn: dict[str, list[MessageOut]] = {}
    for message in messages:
        if message.role == "user" or not groups:
            group: list[MessageOut] = []
            groups.append((message.turn_id, group))
            if message.turn_id:
                by_turn[message.turn_id] = group
        else:
            group = by_turn.get(message.turn_id or "") or groups[-1][1]
        group.append(message)
    return groups


def shared_turn(
    group: tuple[str | None, list[MessageOut]],
    share: Share,
    verdict: Any = None,
    runs: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """``runs``: the run of each answer the owner's page shows (picked, else the latest), by
    provider (or label, while sealed)."""
    _, messages = group
    prompt = next((m for m in messages if m.role == "user"), None)
    chosen: dict[tuple, MessageOut] = {}  # each provider's (or label's) run shown
    for answer in (m for m in messages if m.role == "assistant"):
        # Keyed by kind too: a fused answer is no run of its judge.
        key = (answer.kind, answer.label or answer.provider or str(answer.id))
        shown = (runs or {}).get(answer.provider or answer.label or "")
        if key not in chosen or chosen[key].run != shown:  # rows oldest first
            chosen[key] = answer
    answers = list(chosen.values())
    blind = any(a.label is not None for a in answers)
    if blind:  # by label, as the page shows them: not in the order they finished
        answers.sort(key=lambda a: a.label or "")
    voted = blind and all(a.provider is not None for a in answers)
    turn: dict[str, Any] = {
        "prompt": prompt.content if prompt else None,
        "created_at": (prompt or messages[0]).created_at.isoformat(),
        "images": len(prompt.attachments or ()) if prompt else 0,
        "blind": blind,
        "voted": voted,
        "answers": [shared_answer(a, share) for a in answers],
    }
    if voted and verdict is not None:  # how the owner judged it: labels, as the answers name
        turn["vote"] = {
            "verdict": verdict["verdict"],
            "winner": verdict["winner"],
            "ranking": verdict["ranking"],
        }
    if share.show_settings and prompt is not None and prompt.settings is not None:
        turn["settings"] = dump(prompt.settings)
    return turn


def shared_answer(answer: MessageOut, share: Share) -> dict[str, Any]:
    if answer.label is not None and answer.provider is None:
        # A blind answer before its vote: not even its text (the owner has not judged yet).
        return {"label": answer.label, "withheld": True}
    full = dump(answer)
    out = {name: full[name] for name in ANSWER_FIELDS if name in full}
    out["withheld"] = False
    if share.show_costs:
        out["cost_usd"] = full["cost_usd"]
    if share.show_settings and full["settings_ignored"]:
        out["settings_ignored"] = full["settings_ignored"]
    return out


async def shared_leaderboard(pool, share: Share) -> dict[str, Any]:
    kept = share.snapshot or {}
    if share.live:
        board = dump(await standings(pool, share.owner, window_since(kept.get("days"))))
    else:
        board = kept.get("leaderboard") or {}
    return {
        "kind": "leaderboard",
        "live": share.live,
        "days": kept.get("days"),
        "shared_at": share.created_at.isoformat(),
        "expires_at": share.expires_at.isoformat() if share.expires_at else None,
        **board,
    }


def share_routes() -> list[BaseRoute]:
    return [Route(SHARE_PATH + "{token}", shared, methods=["GET"], include_in_schema=False)]
