"""Observability (issue #13): /metrics after known turns, counted exactly; labels stay bounded;
METRICS=off; who may scrape; X-Request-ID; JSON logs from a real process; traces; readiness;
and the Grafana dashboard asks only for metrics that exist."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.app import create_app
from tests.support.gateway_process import GatewayProcess
from tests.support.gateways import make_settings, start_gateway
from tests.support.keys import bearer, make_keys
from tests.support.paths import ROOT
from tests.support.servers import ServerThread
from tests.support.sse_client import Stream, iter_events
from tests.support.turn_helpers import API, eventually

DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"
ALLOWED_LABELS = {"provider", "status", "error_type", "reason", "le"}


class Scrape:
    def __init__(self, text: str) -> None:
        self.text = text
        self.families = {f.name: f for f in text_string_to_metric_families(text)}
        self.samples = [s for f in self.families.values() for s in f.samples]

    def value(self, name: str, **labels: str) -> float:
        """The one sample of that name with exactly these labels (besides ``le``); 0 if none."""
        found = [s.value for s in self.samples if s.name == name and s.labels == labels]
        assert len(found) <= 1, (name, labels, found)
        return found[0] if found else 0.0

    def names(self) -> set[str]:
        """Every name a query may use: family names and each sample's own name."""
        return {*self.families, *(s.name for s in self.samples)} | {
            f"{f.name}{suffix}"
            for f in self.families.values()
            for suffix in {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum")}.get(
                f.type, ()
            )
        }


async def scrape(client: httpx.AsyncClient, **headers: str) -> Scrape:
    response = await client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return Scrape(response.text)


async def chat_stream(client: httpx.AsyncClient, models: list[str]) -> Stream:
    stream = Stream()
    body = {"prompt": "count me", "models": models}
    async with client.stream("POST", f"{API}/chat/stream", json=body) as response:
        assert response.status_code == 200
        async for _ in iter_events(response, stream):
            pass
    assert stream.events[-1].name == "end"
    return stream


def deltas(stream: Stream, provider: str) -> int:
    return sum(1 for e in stream.named("delta") if e.data["provider"] == provider)


async def test_metrics_count_complete_failed_retried_and_cancelled_answers_exactly(gateways):
    gateway = gateways.start()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        # 1: claude completes; chatgpt completes after one retried 503.
        first = await chat_stream(
            client, ["claude", "chatgpt:gpt-5.5+fault=status,status=503,fail_times=1"]
        )
        # 2: claude fails with a 400 (not retried).
        second = await chat_stream(client, ["claude:claude-sonnet-5+fault=status,status=400"])
        error_type = second.done("claude")["error"]["type"]
        assert second.done("claude")["status"] == "failed"
        # 3: gemini is cancelled mid-answer, while its stream is open: the open figures.
        created = await client.post(
            f"{API}/turns",
            json={"prompt": "slow", "models": ["gemini:gemini-3.5-flash+tokens=400,gap=20"]},
        )
        turn = created.json()
        third = Stream()
        async with client.stream("GET", turn["events_url"]) as response:
            async for event in iter_events(response, third):
                if event.name == "delta" and deltas(third, "gemini") == 3:
                    during = await scrape(client)
                    cancel = await client.post(f"{API}/turns/{turn['turn_id']}/cancel")
                    assert cancel.status_code == 200
        assert third.done("gemini")["status"] == "cancelled"

        assert during.value("multichat_open_turns") == 1
        assert during.value("multichat_listeners") == 1
        assert during.value("multichat_open_legs", provider="gemini") == 1
        assert during.value("multichat_upstream_streams", provider="gemini") == 1
        assert during.value("multichat_open_legs", provider="claude") == 0

        # The turns' ends are recorded before their end events are sent: nothing to wait for.
        after = await scrape(client)

    answers = {
        ("claude", "complete"): 1,
        ("chatgpt", "complete"): 1,
        ("claude", "failed"): 1,
        ("gemini", "cancelled"): 1,
    }
    for (provider, status), count in answers.items():
        labels = {"provider": provider, "status": status}
        assert after.value("multichat_answers_total", **labels) == count
        assert after.value("multichat_answer_duration_seconds_count", **labels) == count
    assert sum(s.value for s in after.samples if s.name == "multichat_answers_total") == 4
    assert after.value("multichat_answer_failures_total", provider="claude", error_type=error_type)
    assert sum(s.value for s in after.samples if s.name == "multichat_answer_failures_total") == 1

    # Attempts: claude 1 + 1 (a 400 is not retried), chatgpt 2 (one retry), gemini 1.
    for provider, attempts, retries in (("claude", 2, 0), ("chatgpt", 2, 1), ("gemini", 1, 0)):
        assert after.value("multichat_upstream_attempts_total", provider=provider) == attempts
        assert after.value("multichat_upstream_retries_total", provider=provider) == retries

    # TTFT and the mean gap once per answer that had text (not the failed one).
    for provider in ("claude", "chatgpt", "gemini"):
        assert after.value("multichat_ttft_seconds_count", provider=provider) == 1
        assert after.value("multichat_inter_token_gap_seconds_count", provider=provider) == 1

    tokens = {
        "claude": deltas(first, "claude"),
        "chatgpt": deltas(first, "chatgpt"),
        "gemini": deltas(third, "gemini"),
    }
    assert deltas(second, "claude") == 0
    for provider, count in tokens.items():
        assert after.value("multichat_relayed_tokens_total", provider=provider) == count
    every_event = len(first.events) + len(second.events) + len(third.events)
    assert after.value("multichat_relayed_events_total") == every_event

    assert after.value("multichat_turns_total") == 3
    assert after.value("multichat_turn_duration_seconds_count") == 3
    assert after.value("multichat_open_turns") == 0
    assert after.value("multichat_listeners") == 0
    assert after.value("multichat_open_legs", provider="gemini") == 0
    assert after.value("multichat_writer_queue_depth") == 0
    assert after.value("multichat_writer_queue_size") == 10_000
    commits = after.value("multichat_writer_commit_seconds_count")
    assert commits >= 1 and after.value("multichat_writer_batch_size_count") == commits
    assert after.value("multichat_writer_batch_size_sum") >= 4 + 3  # 4 answers, 3 turn ends
    assert after.value("multichat_db_pool_max") == 10
    assert after.value("process_cpu_seconds_total") > 0

    # Labels stay bounded: never a model pin, a knob or a turn id.
    for sample in after.samples:
        assert set(sample.labels) <= ALLOWED_LABELS, sample
        for value in sample.labels.values():
            assert not re.search(r"claude-|gpt-|gemini-|fault|\+[a-z]", value), sample
            assert turn["turn_id"] not in value


async def test_metrics_off_has_no_endpoint_and_no_hooks(gateways):
    gateway = gateways.start(metrics="off")
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        assert (await client.get("/metrics")).status_code == 404
        stream = await chat_stream(client, ["claude"])
        assert stream.done("claude")["status"] == "complete"


async def test_metrics_need_a_client_key_once_keys_exist_or_the_metrics_token(
    database_url, gateways
):
    keys = await make_keys(database_url, "alice")
    gateway = gateways.start(metrics_token="scraper-secret-1", multichat_key=None)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        assert (await client.get("/metrics")).status_code == 401
        assert (await client.get("/metrics", headers=bearer("wrong"))).status_code == 401
        await scrape(client, **bearer(keys["admin"]))
        # An ordinary key sees its own data, not the gateway's figures.
        assert (await client.get("/metrics", headers=bearer(keys["alice"]))).status_code == 403
        await scrape(client, **bearer("scraper-secret-1"))
        # The scraper's token opens /metrics and nothing else.
        refused = await client.get(f"{API}/conversations/", headers=bearer("scraper-secret-1"))
        assert refused.status_code == 401
        for path in ("/health/live", "/health/ready", "/health"):
            assert (await client.get(f"{API}{path}")).status_code == 200


async def test_request_ids_are_returned_taken_when_sane_and_made_otherwise(gateways):
    gateway = gateways.start()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        given = await client.get(f"{API}/health/live", headers={"x-request-id": "req-42.a/b"})
        assert given.headers["x-request-id"] == "req-42.a/b"
        for bad in ("has space", "x" * 129, ""):
            made = await client.get(f"{API}/providers", headers={"x-request-id": bad})
            assert re.fullmatch(r"[0-9a-f]{32}", made.headers["x-request-id"]), bad
        missing = await client.get("/no/such/page")
        assert missing.status_code == 404
        assert re.fullmatch(r"[0-9a-f]{32}", missing.headers["x-request-id"])
        body = {"prompt": "hi", "models": ["claude"]}
        headers = {"x-request-id": "stream-1"}
        async with client.stream("POST", f"{API}/chat/stream", json=body, headers=headers) as r:
            assert r.headers["x-request-id"] == "stream-1"
            await r.aread()


def test_json_logs_one_object_per_line_with_access_and_turn_lines(tmp_path, database_url, sim):
    process = GatewayProcess(
        tmp_path, {"DATABASE_URL": database_url, "SIMULATOR_URL": sim.url, "LOG_FORMAT": "json"}
    )
    try:
        process.wait_ready()
        with httpx.Client(base_url=process.url, timeout=30) as client:
            chat = client.post(
                f"{API}/chat/",
                json={"prompt": "log me", "models": ["claude", "gemini"]},
                headers={"x-request-id": "json-chat-1"},
            )
            assert chat.status_code == 200
            conversation = chat.json()["conversation_id"]
            read = client.get(
                f"{API}/conversations/{conversation}", headers={"x-request-id": "json-get-1"}
            )
            assert read.status_code == 200
    finally:
        process.stop()
    lines = [line for line in process.output().splitlines() if line.strip()]
    not_json = [line for line in lines if not line.startswith("{")]
    assert not not_json, not_json
    records = [json.loads(line) for line in lines]  # every line, uvicorn's included
    assert all({"ts", "level", "logger", "message"} <= set(r) for r in records)
    assert not [r for r in records if r["logger"] == "uvicorn.access"]

    access = {r["request_id"]: r for r in records if r.get("event") == "access"}
    assert [r["request_id"] for r in records if r.get("event") == "access"].count(
        "json-chat-1"
    ) == 1
    chat_line, get_line = access["json-chat-1"], access["json-get-1"]
    assert (chat_line["method"], chat_line["path"], chat_line["status"]) == (
        "POST",
        "/api/v1/chat/",
        200,
    )
    assert get_line["path"] == "/api/v1/conversations/{conversation_id:id}"  # the template
    assert get_line["client"] == "127.0.0.1"
    assert chat_line["duration_ms"] > 0

    (turn,) = [r for r in records if r.get("event") == "turn"]
    assert turn["turn_id"] == chat.json()["turn_id"]
    assert turn["conversation_id"] == conversation
    assert sorted(turn["providers"]) == ["claude", "gemini"]
    assert turn["statuses"] == {"claude": "complete", "gemini": "complete"}
    assert set(turn["ttft_ms"]) == {"claude", "gemini"} and turn["ttft_ms"]["claude"] > 0
    assert turn["tokens"]["claude"] > 0 and turn["duration_ms"] > 0


@pytest.mark.integration
def test_no_tracing_without_the_endpoint_and_no_import(tmp_path):
    code = (
        "import sys, gateway.app, gateway.observability.tracing as t;"
        "assert t.tracer_from_environment() is None;"
        # (other libraries may import OpenTelemetry's API; the gateway loads neither of these)
        "print([m for m in sys.modules if m.startswith(('opentelemetry.exporter', "
        "'opentelemetry.sdk.trace'))])"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


async def test_traces_a_span_per_turn_and_one_per_leg(database_url, sim):
    pytest.importorskip(
        "opentelemetry.sdk", reason="the otel extra is not installed (pip install '.[otel]')"
    )
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from gateway.observability.tracing import TurnTracer

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    server = ServerThread.for_app(
        lambda port: create_app(
            make_settings(database_url=database_url, port=port, simulator_url=sim.url),
            tracer=TurnTracer(provider),
        )
    ).start()
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            models = ["claude", "chatgpt:gpt-5.5+fault=status,status=400"]
            chat = await client.post(f"{API}/chat/", json={"prompt": "trace me", "models": models})
            turn_id = chat.json()["turn_id"]
        spans = await eventually(lambda: len(exporter.get_finished_spans()) == 3 and exporter)
    finally:
        server.stop()
    finished = spans.get_finished_spans()
    (turn,) = [s for s in finished if s.name == "turn"]
    assert turn.attributes["multichat.turn_id"] == turn_id
    legs = {s.attributes["multichat.provider"]: s for s in finished if s.name.startswith("leg")}
    assert set(legs) == {"claude", "chatgpt"}
    for leg in legs.values():
        assert leg.parent.span_id == turn.context.span_id
        assert leg.context.trace_id == turn.context.trace_id
        assert turn.start_time <= leg.start_time <= leg.end_time <= turn.end_time
    claude, chatgpt = legs["claude"].attributes, legs["chatgpt"].attributes
    assert (claude["multichat.status"], claude["multichat.model"]) == (
        "complete",
        "claude-sonnet-5",
    )
    assert claude["multichat.tokens"] > 0 and claude["multichat.ttft_ms"] > 0
    assert chatgpt["multichat.status"] == "failed" and "multichat.ttft_ms" not in chatgpt


async def test_ready_is_503_while_the_database_is_away_and_live_stays_200(private_postgres):
    embedded, dsn = private_postgres
    server = start_gateway(dsn, "http://127.0.0.1:9", db_command_timeout=3)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=15) as client:
            ready = await client.get(f"{API}/health/ready")
            assert ready.status_code == 200
            assert ready.json() == {
                "status": "ok",
                "database": "ok",
                "writer": "ok",
                "draining": False,
            }
            await asyncio.to_thread(embedded.stop_server)
            away = await client.get(f"{API}/health/ready")
            assert away.status_code == 503
            assert away.json()["database"] == "unavailable"
            assert (await client.get(f"{API}/health/live")).status_code == 200
            await asyncio.to_thread(embedded.start_server)

            async def ready_again() -> bool:
                return (await client.get(f"{API}/health/ready")).status_code == 200

            await eventually(ready_again, within=30)
    finally:
        server.stop()


def promql_names(expression: str) -> set[str]:
    without_strings = re.sub(r'"[^"]*"', "", expression)
    without_ranges = re.sub(r"\[[^\]]*\]", "", without_strings)
    without_labels = re.sub(r"\{[^}]*\}", "", without_ranges)
    words = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", without_labels))
    return {w for w in words if w.startswith(("multichat_", "process_"))}


def dashboard_expressions(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [node["expr"]] if isinstance(node.get("expr"), str) else []
        return found + [e for value in node.values() for e in dashboard_expressions(value)]
    if isinstance(node, list):
        return [e for item in node for e in dashboard_expressions(item)]
    return []


def metrics_doc_expressions() -> list[str]:
    section = (ROOT / "docs" / "metrics.md").read_text()
    return re.findall(r"```promql\n(.*?)```", section, flags=re.S)


async def test_the_dashboard_and_the_metrics_doc_ask_only_for_metrics_that_exist(gateways):
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["__inputs"][0]["type"] == "datasource"
    expressions = dashboard_expressions(dashboard) + metrics_doc_expressions()
    assert len(expressions) >= 10
    gateway = gateways.start()
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        await chat_stream(client, ["claude", "chatgpt:gpt-5.5+fault=status,status=400"])
        names = (await scrape(client)).names()
    used = set().union(*(promql_names(e) for e in expressions))
    assert used, expressions
    assert used <= names, sorted(used - names)


def test_the_metrics_doc_lists_every_metric_family():
    source = "".join(
        (ROOT / "gateway" / "observability" / name).read_text()
        for name in ("families.py", "collector.py")
    )
    families = set(re.findall(r'"(multichat_[a-z_]+)"', source))
    section = (ROOT / "docs" / "metrics.md").read_text()
    missing = sorted(f for f in families if f"`{f}" not in section)
    assert not missing, missing


def test_multiprocess_mode_counts_through_the_shared_directory(tmp_path, database_url, sim):
    shared = tmp_path / "prometheus"
    shared.mkdir()
    process = GatewayProcess(
        tmp_path,
        {
            "DATABASE_URL": database_url,
            "SIMULATOR_URL": sim.url,
            "PROMETHEUS_MULTIPROC_DIR": str(shared),
        },
    )
    try:
        process.wait_ready()
        with httpx.Client(base_url=process.url, timeout=30) as client:
            chat = client.post(f"{API}/chat/", json={"prompt": "shared", "models": ["claude"]})
            assert chat.status_code == 200
            response = client.get("/metrics")
        assert response.status_code == 200
        found = Scrape(response.text)
    finally:
        process.stop()
    assert any(shared.iterdir())  # the values live in the shared files
    assert found.value("multichat_answers_total", provider="claude", status="complete") == 1
    assert found.value("multichat_ttft_seconds_count", provider="claude") == 1
    assert found.value("multichat_open_turns") == 0
    assert found.value("multichat_writer_queue_size") == 10_000
    assert found.value("multichat_process_cpu_seconds") > 0
