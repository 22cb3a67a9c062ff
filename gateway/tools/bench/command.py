"""``multichat bench`` from the command line: the chosen scenarios, the run, the files written."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

from gateway.tools.bench.harness import Bench
from gateway.tools.bench.profile import profiler
from gateway.tools.bench.report import layout_text, load_average, machine, markdown, write_results
from gateway.tools.bench.run import run_scenarios
from gateway.tools.bench.scenarios import Scenario, scenarios
from gateway.tools.bench.targets import judge
from gateway.tools.runner import event_loop_factory, raise_open_files_limit


def chosen_scenarios(args: argparse.Namespace) -> list[Scenario]:
    table = scenarios(args.quick)
    chosen = [table[name] for name in (args.scenario or table)]
    if args.rounds:
        chosen = [replace(s, rounds=args.rounds) for s in chosen]
    if args.duration:
        chosen = [replace(s, duration=args.duration) if s.duration else s for s in chosen]
    return chosen


def main(args: argparse.Namespace) -> int:
    profiler()  # BENCH_PROFILE names a profiler that is here, or the run stops now
    chosen = chosen_scenarios(args)
    limit = raise_open_files_limit()
    needed = max(s.upstream_streams + s.clients for s in chosen) + 200
    if limit < needed:
        print(f"bench: warning: RLIMIT_NOFILE is {limit}, {needed} are needed", file=sys.stderr)
    started = dt.datetime.now(dt.UTC).replace(microsecond=0)
    machine_info = machine()  # now, so that the load average is the one before the run
    with work_directory() as work_dir:
        bench = Bench(args.output_dir, work_dir)
        try:
            bench.start()
            with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
                results = runner.run(run_scenarios(bench, chosen))
        finally:
            bench.stop()
        layout = layout_text(bench.gateway_cores, bench.load_cores, bool(bench.database.external))
    result = {
        "date": started.isoformat().replace("+00:00", "Z"),
        "quick": args.quick,
        "command": " ".join(["multichat", *sys.argv[1:]]),
        "machine": machine_info,
        "layout": layout,
        "rlimit_nofile": limit,
        "scenarios": {n: r for n, r in results.items() if n != "scale"},
    }
    if "scale" in results:
        result["scale"] = results["scale"]
    result["targets"] = judge(results)
    result["load_average_at_end"] = load_average()
    result["elapsed_s"] = round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1)
    json_path, md_path = write_results(result, args.output_dir)
    print()
    print(markdown(result))
    print(f"bench: wrote {json_path} and {md_path}")
    return 0


@contextlib.contextmanager
def work_directory() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="multichat-bench-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
