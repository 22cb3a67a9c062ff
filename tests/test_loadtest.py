"""The load generator and the benchmark: exact counts, the stream checker catching each kind of
broken stream, the HTTP client's framing, direct mode, and one tiny benchmark end to end.

No test asserts a timing: the benchmark is where speed is judged.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Callable

import asyncpg
import pytest

from gateway import cli
from gateway.tools.arguments import SCENARIO_NAMES
from gateway.tools.bench import scenarios
from gateway.tools.bench.floor import nginx_binary
from gateway.tools.loadtest import (
    Connection,
    GatewayStream,
    LoadConfig,
    Stats,
    format_table,
    percentile,
    run_load,
)
from gateway.tools.loadtest.native import native_request
from gateway.turns.events import event_bytes
from providers import Message, make_adapter
from providers.registry import PROVIDERS
from tests.support.paths import ROOT
from tests.support.stream_bytes import delta, done, end, good_stream, turn

ALL = tuple(PROVIDERS)
FAST = "tokens=7,gap=0,ttft=0"


# -- a stream, built event by event ---------------------------------------------------------------


def check(events: list[bytes], split: int | None = None) -> tuple[list[str], GatewayStream]:
    """Feed the events through the SSE parser (in pieces of ``split`` bytes) and the checker."""
    reader = GatewayStream(Stats(LoadConfig()), sent=0, expected=("claude", "gemini"))
    body = b"".join(events)
    step = split or len(body)
    for start in range(0, len(body), step):
        reader.feed(body[start : start + step], now=start + 1)
    return [v.kind for v in reader.checker.finish()], reader


def test_a_good_stream_has_no_violation_however_it_is_cut():
    for split in (None, 1, 2, 3, 5, 13, 64):
        kinds, reader = check(good_stream(), split)
        assert kinds == [], split
        assert reader.stats.deltas == 3
        assert sorted(reader.stats.ttft) == ["claude", "gemini"]


def test_crlf_line_endings_and_multiline_data_parse_like_lf():
    crlf = [e.replace(b"\n", b"\r\n") for e in good_stream()]
    for split in (None, 1, 7):
        kinds, reader = check(crlf, split)
        assert kinds == [] and reader.stats.deltas == 3, split
    # data split over two lines is joined with LF, as the SSE standard says
    split_data = [
        turn(),
        b'id: 2\nevent: delta\ndata: {"provider":"claude",\ndata: "text":"a"}\n\n',
    ]
    checker_kinds, _ = check(split_data)
    assert "malformed_delta" not in checker_kinds


@pytest.mark.parametrize(
    ("broken", "kind"),
    [
        (lambda s: s[:5] + [delta(4, "claude", "")] + s[5:], "id_not_increasing"),
        (lambda s: [s[0], *s[2:3], s[1], *s[3:]], "turn_not_first"),
        (lambda s: [e for e in s if not e.startswith(b"id: 6\n")], "missing_done"),
        (lambda s: s[:8] + [done(7, "claude", "Hello there")] + s[9:], "content_mismatch"),
        (lambda s: s + [delta(9, "claude", "!")], "event_after_end"),
        (lambda s: s[:9], "missing_end"),
        (lambda s: s[:8] + [delta(8, "gemini", "late"), end(9, {})], "event_after_done"),
        (lambda s: s[:3] + [event_bytes(4, "error", {"x": 1})] + s[4:], "event_named_error"),
        (lambda s: s[:3] + [b"id: 4\nevent: delta\ndata: {not json\n\n"] + s[4:], "malformed_delta"),
        (lambda s: s[:3] + [b'event: delta\ndata: {"provider":"claude","text":""}\n\n'], "missing_id"),
        (lambda s: s[:7] + [done(7, "claude", "Hello world"), done(8, "claude", "x")], "duplicate_done"),
        (lambda s: [s[0], turn(("claude",))] + s[2:], "turn_providers_mismatch"),
        (lambda s: s[:9] + [end(8, {"claude": "complete"})], "end_statuses_mismatch"),
    ],
)  # fmt: skip
def test_the_checker_catches_each_kind_of_broken_stream(
    broken: Callable[[list[bytes]], list[bytes]], kind: str
):
    kinds, _ = check(broken(good_stream()))
    assert kind in kinds, kinds


def test_a_failed_leg_is_reported_as_a_failure_not_a_violation():
    statuses = {"claude": "complete", "gemini": "failed"}
    events = good_stream()[:7] + [done(7, "gemini", "Hi", "failed")]
    events = [e for e in events if not e.startswith(b"id: 6\n")]
    events += [done(8, "claude", "Hello world"), end(9, statuses)]
    kinds, reader = check(events)
    assert kinds == []
    assert reader.checker.failures == [("gemini", "failed", "upstream_error")]


def test_percentiles_interpolate_between_ranks():
    values = list(range(1, 101))
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile([7], 99) == 7


# -- the HTTP client ------------------------------------------------------------------------------


class Recorder:
    """A sink that keeps what it is fed."""

    def __init__(self) -> None:
        self.data = b""

    def feed(self, data: bytes, now: int) -> None:
        self.data += data


class NullTransport:
    def write(self, data: bytes) -> None:
        pass

    def abort(self) -> None:
        pass


async def test_chunked_and_length_framing_survive_any_cut():
    body = b"".join(good_stream())
    chunks = b"".join(b"%x;ext=1\r\n%s\r\n" % (len(e), e) for e in good_stream())
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunks + b"0\r\n\r\n"
    sized = b"HTTP/1.1 429 Too Many\r\nContent-Length: 5\r\n\r\nslow!"
    for response, expected_status in ((chunked, 200), (sized, 429)):
        for split in (1, 2, 3, 9, len(response)):
            connection = Connection()
            connection.connection_made(NullTransport())  # type: ignore[arg-type]
            sink = Recorder()
            future = connection.send(b"GET / HTTP/1.1\r\n\r\n", sink)  # type: ignore[arg-type]
            for start in range(0, len(response), split):
                connection.data_received(response[start : start + split])
            result = future.result()
            assert result.status == expected_status
            if expected_status == 200:
                assert sink.data == body, split
            else:
                assert (sink.data, result.body) == (b"", b"slow!")


# -- against fake servers: what a run counts when the server misbehaves ---------------------------


async def serve_bytes(response: bytes, close: bool = False) -> tuple[asyncio.Server, str]:
    """A server answering every request of a connection with ``response`` (then closing the
    connection, with ``close``)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length" and int(value):
                        await reader.readexactly(int(value))
                writer.write(response)
                await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}"


def chunked_response(events: list[bytes]) -> bytes:
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(e), e) for e in events)
    head = (
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
    )
    return head + chunks + b"0\r\n\r\n"


async def run_against(response: bytes, close: bool = False, **overrides) -> dict:
    server, url = await serve_bytes(response, close)
    try:
        config = LoadConfig(url=url, providers=("claude", "gemini"), progress=False, **overrides)
        report = await run_load(config)
    finally:
        server.close()
    return report.as_dict()


@pytest.mark.integration
async def test_a_broken_stream_in_a_run_is_counted_and_printed(capsys):
    broken = good_stream()[:4] + [delta(3, "claude", "")] + good_stream()[4:]
    result = await run_against(chunked_response(broken), clients=2, turns=2)
    assert result["turns"] == {"started": 4, "ok": 0, "failed": 4, "accepted": 4}
    assert result["violations"] == 4
    assert result["errors"] == {"violation: id_not_increasing": 4}
    printed = capsys.readouterr().err
    assert printed.count("protocol violation") == len(result["violation_examples"]) > 0


@pytest.mark.integration
async def test_http_errors_and_cut_streams_are_counted_by_kind():
    refused = b"HTTP/1.1 429 Too Many Requests\r\ncontent-length: 2\r\nretry-after: 1\r\n\r\n{}"
    result = await run_against(refused, clients=1, turns=3)
    assert result["errors"] == {"http 429": 3} and result["turns"]["failed"] == 3
    cut = chunked_response(good_stream())[:-40]  # the body stops mid-stream
    result = await run_against(cut, close=True, clients=1, turns=2)
    assert result["errors"] == {"broken stream: eof": 2}
    # Their `turn` event came: the gateway stores their answers, so the benchmark expects them
    # (it compared stored answers with only the turns whose streams ended).
    assert result["turns"]["accepted"] == 2


# -- against the real gateway and simulators ------------------------------------------------------


async def test_counts_turns_and_tokens_exactly(streaming_gateway, sim):
    config = LoadConfig(
        url=streaming_gateway.url,
        clients=3,
        turns=2,
        providers=("claude", "chatgpt"),
        model_suffix=FAST,
        progress=False,
    )
    result = (await run_load(config)).as_dict()
    assert result["turns"] == {"started": 6, "ok": 6, "failed": 0, "accepted": 6}
    assert result["tokens"] == 6 * 2 * 7
    assert result["errors"] == {} and result["violations"] == 0
    assert result["ttft_ms"]["claude"]["n"] == result["ttft_ms"]["chatgpt"]["n"] == 6
    assert result["gap_ms"]["all"]["n"] == 6 * 2 * 6
    assert result["turn_ms"]["n"] == 6
    assert result["reported_upstream_ttft_ms"]["n"] == 12
    assert sim.stats()["anthropic"]["completed"] == sim.stats()["openai"]["completed"] == 6
    assert "turns" in format_table(result)


async def test_eventsource_mode_reads_the_same_turns(streaming_gateway, database_url):
    config = LoadConfig(
        url=streaming_gateway.url,
        clients=2,
        turns=2,
        providers=("gemini",),
        model_suffix=FAST,
        eventsource=True,
        progress=False,
    )
    result = (await run_load(config)).as_dict()
    assert result["turns"]["ok"] == 4 and result["tokens"] == 4 * 7
    assert result["errors"] == {}
    connection = await asyncpg.connect(database_url)
    try:
        stored = await connection.fetchval(
            "SELECT count(*) FROM messages WHERE role = 'assistant' AND status = 'complete'"
        )
    finally:
        await connection.close()
    assert stored == 4


async def test_direct_mode_counts_the_same_tokens_in_every_native_format(sim):
    config = LoadConfig(
        clients=2,
        turns=2,
        providers=ALL,
        model_suffix=FAST,
        direct=True,
        simulator_url=sim.url,
        progress=False,
    )
    result = (await run_load(config)).as_dict()
    assert result["errors"] == {}, result["errors"]
    assert result["turns"]["ok"] == 4
    assert result["tokens"] == 4 * len(ALL) * 7
    for provider in ALL:
        assert result["ttft_ms"][provider]["n"] == 4, provider
        assert result["gap_ms"][provider]["n"] == 4 * 6, provider
    stats = sim.stats()
    assert all(stats[PROVIDERS[p].flavour]["completed"] == 4 for p in ALL)


def test_the_command_line_prints_json(streaming_gateway, capsys):
    status = cli.main(
        [
            "loadtest",
            "--url",
            streaming_gateway.url,
            "--turns",
            "1",
            "--providers",
            "claude,grok",
            "--model-suffix",
            FAST,
            "--json",
        ]
    )
    result = json.loads(capsys.readouterr().out)
    assert status == 0
    assert result["tokens"] == 14 and result["mode"] == "stream"


def test_direct_mode_sends_what_the_gateways_adapter_sends():
    """The baseline's requests come from the adapters' own builder, with the config the
    gateway gives a simulated provider: the same path, headers and body."""
    from gateway.settings import load_settings, provider_configs

    configs = {c.name: c for c in provider_configs(load_settings(), "http://127.0.0.1:9")}
    for provider in ALL:
        config = configs.get(provider)
        if config is None or not config.simulated:
            continue  # a key or a setting in this environment: not the simulated default
        sent = native_request(provider, "m+tokens=3", "hi", "http://127.0.0.1:9")
        expected = make_adapter(config, None).build_request([Message("user", "hi")], "m+tokens=3")  # type: ignore[arg-type]
        head, body = sent.split(b"\r\n\r\n", 1)
        assert body == expected.body, provider
        assert expected.url.endswith(head.split(b" ")[1].decode()), provider
        lines = head.decode().split("\r\n")[1:]
        for name, value in expected.headers.items():
            assert f"{name}: {value}" in lines, (provider, name)


def test_the_command_line_knows_every_scenario():
    assert tuple(scenarios(False)) == tuple(scenarios(True)) == SCENARIO_NAMES


@pytest.mark.integration
def test_building_the_parser_imports_none_of_the_tools():
    """``multichat serve`` builds every subcommand's parser: the flags come from a stdlib-only
    module, and the tools are imported only when their command runs."""
    code = (
        "import sys; from unittest import mock; import gateway.cli as cli\n"
        "with mock.patch.dict(cli.COMMANDS, serve=lambda args: 0): cli.main(['serve'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('gateway.tools')))"
    )
    finished = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert finished.returncode == 0, finished.stderr
    assert finished.stdout.split() == ["['gateway.tools',", "'gateway.tools.arguments']"]


# -- the benchmark, end to end ---------------------------------------------------------------------


def test_bench_runs_a_tiny_scenario_end_to_end(database_url, tmp_path):
    """The whole pipeline in a subprocess: simulators and gateway started, both modes run, the
    JSON and Markdown written. One second of load each way keeps it to a few seconds."""
    environment = {**os.environ, "DATABASE_URL": database_url}
    command = [sys.executable, "-m", "gateway", "bench", "--quick", "--scenario", "overhead-1"]
    command += ["--duration", "1", "--output-dir", str(tmp_path)]
    finished = subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    result = json.loads((tmp_path / "latest.json").read_text())
    assert set(result) >= {"date", "command", "machine", "layout", "scenarios", "targets"}
    assert result["machine"]["cores"] and result["machine"]["cpu"]
    scenario = result["scenarios"]["overhead-1"]
    derived = scenario["derived"]
    for key in (
        "added_ttft_p50_ms",
        "added_ttft_p99_ms",
        "added_gap_p99_ms",
        "cpu_us_per_token",
        "peak_rss_mb",
        "rss_kb_per_stream",
        "gateway_errors",
        "answers_stored",
        "answers_expected",
    ):
        assert key in derived, key
    assert derived["gateway_errors"] == 0 and derived["direct_errors"] == 0
    assert derived["answers_stored"] == derived["answers_expected"]
    assert sum(derived["answers_expected"]) >= 1
    assert scenario["gateway"]["tokens"] == 200 * scenario["gateway"]["turns"]["ok"]
    markdown = (tmp_path / "latest.md").read_text()
    assert "| overhead-1 |" in markdown and result["command"] in markdown
    assert "| overhead-1 |" in finished.stdout
    # The floor: nginx relayed the same load, and the gateway's figures are ratios to it.
    if nginx_binary() is None and os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        return  # Debian's nginx-light, which .ci/run installs
    for key in ("nginx_cpu_us_per_token", "cpu_per_token_vs_nginx", "ttft_p50_over_nginx_ms"):
        assert derived[key] is not None, key
    assert derived["nginx_errors"] == 0
    assert {t["target"] for t in result["targets"]} >= {
        "CPU per relayed token, × nginx's",
        "TTFT p50 over nginx's at 1 turn",
    }
    assert "Against the floor" in markdown and "Against the floor" in finished.stdout
