"""The benchmark's TLS variant (gateway/tools/bench/tls.py): the simulators behind nginx with a
throwaway CA that the gateways trust through SSL_CERT_FILE, and the A/B of our transport
against httpx's own in one run. One second of load each way."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.cluster import need
from tests.support.paths import ROOT

pytestmark = pytest.mark.integration  # the benchmark's processes: simulators, nginx, gateways


def test_bench_over_tls_compares_the_two_transports(database_url, tmp_path):
    need("nginx", "nginx-light")
    need("openssl", "openssl")
    environment = {
        **os.environ,
        "DATABASE_URL": database_url,
        "BENCH_TLS": "1",
        "BENCH_TRANSPORT": "compare",
    }
    command = [sys.executable, "-m", "gateway", "bench", "--quick", "--scenario", "overhead-1"]
    command += ["--duration", "1", "--output-dir", str(tmp_path)]
    finished = subprocess.run(
        command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=180
    )
    assert finished.returncode == 0, finished.stdout + finished.stderr
    scenarios = json.loads((tmp_path / "latest.json").read_text())["scenarios"]
    ours, theirs = scenarios["overhead-1"], scenarios["overhead-1 (httpx transport)"]
    for scenario in (ours, theirs):
        derived = scenario["derived"]
        assert (
            derived["gateway_errors"] == 0
            and derived["answers_stored"] == (derived["answers_expected"])
        )
        assert scenario["gateway"]["tokens"] == 200 * scenario["gateway"]["turns"]["ok"] > 0
    assert "us_per_token_saved_over_httpx_transport" in ours["derived"]
    logs = tmp_path / "logs"
    ours_log = (logs / "gateway-overhead-1.log").read_text()
    theirs_log = (logs / "gateway-overhead-1-httpx-transport.log").read_text()
    assert "CAs from SSL_CERT_FILE" in ours_log  # the gateways reached https://localhost:…
    assert "httpx transport" in theirs_log and "httpx transport" not in ours_log
