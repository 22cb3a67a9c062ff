"""Share links without a server: tokens, their redaction from log lines, and what a view
leaves out (#25 item 3)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from gateway.api.schemas import MessageOut
from gateway.api.shared_view import shared_answer, shared_turn, turns_of
from gateway.observability.logs import RedactTokens, redact
from gateway.sharing import Share, new_token, plausible_token, token_hash

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def share(**overrides) -> Share:
    fields = dict(
        id=1, owner=2, kind="conversation", conversation_id=3, turn_id=None, show_costs=False,
        show_settings=False, live=False, snapshot=None, created_at=NOW, expires_at=None,
    )  # fmt: skip
    return Share(**(fields | overrides))


def message(id: int, role: str, turn: str | None, **more) -> MessageOut:
    fields = dict(
        id=id, turn_id=turn, role=role, provider="claude" if role == "assistant" else None,
        model="m" if role == "assistant" else None, status="complete", content=f"text {id}",
        created_at=NOW, cost_usd=0.5 if role == "assistant" else None,
    )  # fmt: skip
    return MessageOut(**(fields | more))


def test_tokens_are_long_random_and_only_plausible_ones_are_looked_up():
    tokens = {new_token() for _ in range(100)}
    assert len(tokens) == 100 and all(plausible_token(t) and len(t) == 43 for t in tokens)
    assert not plausible_token("A" * 42) and not plausible_token("A" * 42 + "/")
    token = tokens.pop()
    assert len(token_hash(token)) == 32 and token_hash(token) != token_hash(token[::-1])


def test_share_paths_are_redacted_in_access_lines_and_urls():
    token = new_token()
    assert redact(f"/s/{token}") == "/s/[redacted]"
    assert redact(f"http://h:8000/s/{token}?x=1") == "http://h:8000/s/[redacted]?x=1"
    assert redact("/static/share.js") == "/static/share.js"
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/s/{token}", "1.1", 200), None,
    )  # fmt: skip
    RedactTokens().filter(record)
    assert token not in record.getMessage() and "/s/[redacted]" in record.getMessage()


def test_a_view_shows_each_answers_latest_run_and_no_cost_unless_chosen():
    messages = [
        message(1, "user", "t1"),
        message(2, "assistant", "t1"),
        message(3, "assistant", "t1", content="retried", run=1),
        message(4, "user", "t2"),
        message(5, "assistant", "t2", provider="gemini"),
    ]
    groups = turns_of(messages)
    assert [turn for turn, _ in groups] == ["t1", "t2"]
    first = shared_turn(groups[0], share())
    assert [a["content"] for a in first["answers"]] == ["retried"]
    assert "cost_usd" not in first["answers"][0] and "settings" not in first
    assert shared_turn(groups[0], share(show_costs=True))["answers"][0]["cost_usd"] == 0.5


def test_an_unvoted_blind_answer_shows_its_label_only():
    hidden = message(2, "assistant", "t", provider=None, model=None, label="B", content="secret")
    assert shared_answer(hidden, share(show_costs=True, show_settings=True)) == {
        "label": "B",
        "withheld": True,
    }


async def test_an_error_on_a_share_link_logs_its_path_redacted(caplog):
    from starlette.requests import Request

    from gateway.api.errors import EXCEPTION_HANDLERS

    token = new_token()
    scope = {
        "type": "http",
        "method": "GET",
        "path": f"/s/{token}",
        "headers": [],
        "query_string": b"",
    }
    with caplog.at_level(logging.INFO, logger="multichat"):
        response = await EXCEPTION_HANDLERS[Exception](Request(scope), RuntimeError("boom"))
    assert response.status_code == 500
    assert token not in caplog.text and "/s/[redacted]" in caplog.text
