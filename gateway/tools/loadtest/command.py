"""``multichat loadtest`` from the command line: flags to a ``LoadConfig``, the run, the report."""

from __future__ import annotations

import argparse
import asyncio
import sys

import orjson

from gateway.tools.loadtest.client import Endpoint
from gateway.tools.loadtest.config import LoadConfig
from gateway.tools.loadtest.report import format_table
from gateway.tools.loadtest.run import run_load
from gateway.tools.runner import event_loop_factory, raise_open_files_limit


def config_from_args(args: argparse.Namespace) -> LoadConfig:
    return LoadConfig(
        url=args.url,
        more_urls=tuple(args.also_url),
        listen=args.listen,
        clients=args.clients,
        turns=args.turns,
        duration=args.duration,
        ramp_up=args.ramp_up,
        providers=tuple(p.strip() for p in args.providers.split(",") if p.strip()),
        model_suffix=args.model_suffix,
        prompt=args.prompt,
        eventsource=args.eventsource,
        direct=args.direct,
        simulator_url=args.simulator_url,
        turn_timeout=args.turn_timeout,
        show_violations=args.show_violations,
    )


def main(args: argparse.Namespace) -> int:
    """Exit status 0 when every turn completed cleanly, 1 when any failed or broke the
    contract, 2 for a bad command line."""
    try:
        config = config_from_args(args)
        config.validate()
        Endpoint.parse(config.simulator_url if config.direct else config.url)  # type: ignore[arg-type]  # the config requires the URL of its mode
    except ValueError as error:
        print(f"multichat loadtest: {error}", file=sys.stderr)
        return 2
    raise_open_files_limit()
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        report = runner.run(run_load(config))
    result = report.as_dict()
    if args.json:
        sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        print(format_table(result))
    return 0 if report.ok else 1
