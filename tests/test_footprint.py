"""What the gateway holds per process and per open upstream stream (issue 14's memory work):
each test names the saving it guards, which nothing else would notice going away."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import pytest

from gateway.turns import EventLog, LegState, Turn
from gateway.turns.events import delta_bytes
from providers import make_client
from providers.common import json_body


@pytest.mark.integration
def test_a_single_process_gateway_never_imports_redis():
    # redis-py imports the OpenTelemetry SDK and more: about 9 MB of idle RSS for nothing.
    code = "import sys, gateway.app, gateway.cli; print('redis' in sys.modules)"
    found = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert found.stdout.strip() == "False", found.stderr


async def test_the_providers_clients_share_one_ssl_context():
    clients = [make_client(max_streams=4) for _ in range(3)]
    try:
        contexts = {id(client._transport.ssl_context) for client in clients}  # noqa: SLF001
    finally:
        for client in clients:
            await client.aclose()
    assert len(contexts) == 1


def test_a_request_body_takes_its_own_size_not_orjsons_buffer():
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "stream": True}
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [json_body(body) for _ in range(100)]
        per_body = (tracemalloc.get_traced_memory()[0] - before) / len(kept)
    finally:
        tracemalloc.stop()
    assert per_body < 512, per_body  # orjson.dumps alone: about 4 KB each


def test_a_running_turns_log_keeps_a_delta_as_the_legs_own_text():
    # The leg keeps every token's text for its answer; the log holds the same object (and
    # its leg), not a second, encoded copy: about 100 bytes per token per open stream.
    legs = {"claude": LegState("claude", "model", True)}
    log = EventLog()
    log.publish("turn", Turn("t", 1, 1, legs, log).turn_event_data())
    texts = [f"token {i} " for i in range(1000)]  # the leg's own strings
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for text in texts:
            log.publish_delta(legs["claude"], text)
        per_delta = (tracemalloc.get_traced_memory()[0] - before) / len(texts)
    finally:
        tracemalloc.stop()
    assert per_delta < 40, per_delta
    # ... and a client that resumes still gets exactly the bytes the live ones got.
    assert log.events[5] == delta_bytes(6, legs["claude"].prefix, texts[4])
