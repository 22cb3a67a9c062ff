"""Secrets out of logs (#20, point 5): the token of a turn's ``events_url`` is a credential; no
access line (text or JSON) and no span attribute carries it."""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from gateway.observability.logs import RedactTokens, redact
from tests.support.gateway_process import GatewayProcess
from tests.support.keys import bearer, make_keys, no_suite_key_environment
from tests.support.turn_helpers import API

FAST = "+tokens=4,gap=1"


@pytest.mark.parametrize("log_format", ["text", "json"])
async def test_the_events_url_token_is_redacted_from_access_lines(
    tmp_path, database_url, sim, log_format
):
    keys = await make_keys(database_url, "alice")
    process = GatewayProcess(
        tmp_path, no_suite_key_environment(database_url, sim.url, LOG_FORMAT=log_format)
    )
    try:
        await asyncio.to_thread(process.wait_ready)
        async with httpx.AsyncClient(base_url=process.url, timeout=30) as client:
            body = {"prompt": "log me", "models": [f"claude:claude-sonnet-5{FAST}"]}
            created = await client.post(f"{API}/turns", json=body, headers=bearer(keys["alice"]))
            assert created.status_code == 201
            events_url = created.json()["events_url"]
            token = events_url.split("token=", 1)[1]
            # As an EventSource would: no key, the token alone; and a refused one too.
            assert (await client.get(events_url)).status_code == 200
            assert (await client.get(f"{events_url}x&last_event_id=2")).status_code == 401
    finally:
        process.stop()
    output = process.output()
    assert token[:20] not in output, "the token must not reach the log"
    if log_format == "text":
        assert "token=[redacted]" in output, output[-2000:]


def test_redaction_keeps_the_rest_of_the_line():
    line = "/api/v1/turns/abc/events?last_event_id=3&token=eyJ0.abc-_x&x=1"
    assert redact(line) == "/api/v1/turns/abc/events?last_event_id=3&token=[redacted]&x=1"
    assert redact("/api/v1/turns/abc/events?TOKEN=s3cret") == (
        "/api/v1/turns/abc/events?TOKEN=[redacted]"
    )
    assert redact("/no/token/here") == "/no/token/here"
    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, "", 0, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/v1/turns/t/events?token=secret", "1.1", 200), None,
    )  # fmt: skip
    RedactTokens().filter(record)
    assert "secret" not in record.getMessage() and "token=[redacted]" in record.getMessage()


def test_span_attributes_carry_no_token():
    from gateway.observability.tracing import safe

    attributes = safe({"url.full": "http://h/api/v1/turns/t/events?token=secret", "n": 3})
    assert attributes == {"url.full": "http://h/api/v1/turns/t/events?token=[redacted]", "n": 3}
