"""The command-line flags of ``multichat loadtest`` and ``multichat bench``.

Only the standard library is imported here: ``multichat`` builds every subcommand's parser at
start-up, and ``multichat serve`` must not import the tools to do so. The defaults the tools
also use (the prompt, the results directory, the scenario names) live here for that reason.
"""

from __future__ import annotations

import argparse
from pathlib import Path

DEFAULT_PROMPT = "Load test: name three rivers"
RESULTS_DIR = Path("bench-results")
LISTEN_CHOICES = ("owner", "other", "alternate")  # where an eventsource turn's events are read
# The benchmark's scenarios, in the order they run; gateway.tools.bench.scenarios defines them
# (a test checks that the two agree).
SCENARIO_NAMES = (
    "overhead-1",
    "overhead-50",
    "fanout",
    "throughput",
    "hold",
    "saturation",
    "streams-10k",
    "scale",
)


def add_loadtest_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="the gateway")
    parser.add_argument(
        "--also-url",
        action="append",
        default=[],
        help="another gateway of the same cluster (repeat): clients send turns to all in turn",
    )
    parser.add_argument(
        "--listen",
        choices=LISTEN_CHOICES,
        default="owner",
        help="with --eventsource and --also-url: read events from the gateway that took the "
        "turn, the next one, or each in turn",
    )
    parser.add_argument("--clients", type=int, default=1, help="concurrent streaming clients")
    amount = parser.add_mutually_exclusive_group()
    amount.add_argument("--turns", type=int, help="turns per client (default: 1)")
    amount.add_argument("--duration", type=float, help="seconds to keep starting turns")
    parser.add_argument("--ramp-up", type=float, default=0.0, help="seconds to start all clients")
    parser.add_argument("--providers", default="claude", help="comma-separated provider names")
    parser.add_argument(
        "--model-suffix", default="", help='simulator knobs on the model name: "+tokens=200,gap=5"'
    )
    parser.add_argument("--prompt", default=DEFAULT_PROMPT)
    parser.add_argument(
        "--eventsource", action="store_true", help="POST /turns then GET events_url"
    )
    parser.add_argument(
        "--direct", action="store_true", help="read the simulators' native streams (baseline)"
    )
    parser.add_argument("--simulator-url", help="the simulators, for --direct")
    parser.add_argument("--turn-timeout", type=float, default=120.0)
    parser.add_argument("--show-violations", type=int, default=5, help="violations to print")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds each")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=list(SCENARIO_NAMES),
        help="run only this scenario (repeatable)",
    )
    parser.add_argument("--rounds", type=int, help="override each scenario's rounds")
    parser.add_argument(
        "--duration", type=float, help="override each timed scenario's seconds per round and mode"
    )
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
