"""The ``scale`` scenario: the same load through one gateway and through two that share Redis,
and what a listener on another worker costs.

Two figures (issue 12):

- **two over one**: relayed tokens per second through two gateways (clients spread round robin,
  half of each turn's listeners on the worker that does not run it, as a plain balancer gives)
  over the same through one gateway without Redis. The load asks for more than one gateway can
  relay, so each setup shows what it can carry.
- **remote listener extra CPU per token**: both gateways' CPU per relayed token with every
  listener on another worker (reading the turn's Redis Stream) minus the same with every
  listener on the owner (reading memory). The owner publishes to Redis in both, so the
  difference is the remote reader's own work: XREAD, decoding, re-encoding to SSE.

The balancer is the load generator itself (each client sends its turns to the gateways in
turn), so that no balancer's CPU is counted, and no nginx is needed to run the benchmark.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gateway.tools.bench.harness import Bench
from gateway.tools.bench.measure import ProcStat
from gateway.tools.bench.processes import Child, free_port
from gateway.tools.bench.rounds import load_config
from gateway.tools.bench.scenarios import Scenario
from gateway.tools.bench.summary import combine
from gateway.tools.loadtest import LoadReport, run_load

# The listener rounds: a load both gateways carry with room to spare, so that CPU per token is
# not inflated by queues and both placements relay the same tokens.
LISTENER_CLIENTS = 20
LISTENER_KNOBS = "tokens=200,gap=20,ttft=0"


class RedisServer:
    """A private ``redis-server`` for the run: nothing saved, gone with the run."""

    def __init__(self, binary: str, log: Path, work_dir: Path) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.output = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(work_dir)],
            stdout=self.output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        self.stat = ProcStat(self.process.pid)

    async def wait_until_ready(self, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                writer.close()
                return
            await asyncio.sleep(0.05)
        raise RuntimeError(f"redis-server did not listen on {self.port} within {within:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output.close()


def redis_binary() -> str | None:
    return shutil.which("redis-server") or shutil.which("redis-server", path="/usr/sbin")


@dataclass(slots=True)
class ScaleRound:
    """One load through one or more gateways: what it relayed and what each process spent."""

    report: LoadReport
    wall_s: float
    gateways_cpu_s: float
    redis_cpu_s: float
    simulator_cpu_s: float
    stored: int | None
    expected: int

    def figures(self) -> dict[str, Any]:
        report = combine([self.report])
        tokens = report["tokens"]
        missing = None if self.stored is None else max(self.expected - self.stored, 0)
        return {
            "relayed_tokens": tokens,
            "tokens_per_s": report["tokens_per_s"],
            "cpu_us_per_token": round(self.gateways_cpu_s * 1e6 / tokens, 2) if tokens else None,
            "gateways_cpu_percent": percent(self.gateways_cpu_s, self.wall_s),
            "redis_cpu_percent": percent(self.redis_cpu_s, self.wall_s),
            "redis_cpu_us_per_token": round(self.redis_cpu_s * 1e6 / tokens, 2) if tokens else None,
            "simulators_cpu_percent": percent(self.simulator_cpu_s, self.wall_s),
            "load_generator_cpu_percent": report["client_cpu_percent"],
            "ttft_p50_ms": report["ttft_ms"]["all"]["p50"],
            "ttft_p99_ms": report["ttft_ms"]["all"]["p99"],
            "errors": report["error_count"],
            # Which errors (a client's timeout, a broken stream, an HTTP status ...): a count
            # alone does not say whose fault they were.
            "error_kinds": report["errors"],
            "turn_p99_ms": report["turn_ms"]["p99"],
            "turn_max_ms": report["turn_ms"]["max"],
            "violations": report["violations"],
            "answers_stored": self.stored,
            "answers_expected": self.expected,
            "answers_missing": missing,
        }


def percent(cpu: float, wall: float) -> float | None:
    return round(100 * cpu / wall, 1) if wall else None


class ScaleRun:
    """The scale scenario on the bench's simulators and database."""

    def __init__(self, bench: Bench, scenario: Scenario) -> None:
        self.bench = bench
        self.scenario = scenario

    async def run(self) -> dict[str, Any]:
        binary = redis_binary()
        if binary is None:
            reason = "needs redis-server (Debian's redis-server package)"
            print(f"bench: scale: skipped: {reason}", flush=True)
            return {"scenario": self.scenario.name, "skipped": reason, "derived": {}}
        one = await self.through_one()
        redis = RedisServer(binary, self.bench.logs / "redis.log", self.bench.work_dir)
        try:
            await redis.wait_until_ready()
            two, owner, other = await self.through_two(redis)
        finally:
            redis.stop()
        return self.summary(one, two, owner, other)

    async def through_one(self) -> ScaleRound:
        gateway, url = await self.bench.start_gateway("scale-one", pinned=False)
        try:
            await self.bench.warm_up(self.scenario, url)
            return await self.round([gateway], [url], None, "owner")
        finally:
            gateway.stop()

    async def through_two(
        self, redis: RedisServer
    ) -> tuple[ScaleRound, list[ScaleRound], list[ScaleRound]]:
        environment = {"REDIS_URL": redis.url}
        gateways: list[Child] = []
        try:
            urls = []
            for name in ("scale-two-a", "scale-two-b"):
                gateway, url = await self.bench.start_gateway(name, pinned=False, env=environment)
                gateways.append(gateway)
                urls.append(url)
            for url in urls:
                await self.bench.warm_up(self.scenario, url)
            two = await self.round(gateways, urls, redis, "alternate")
            listeners = replace(
                self.scenario, clients=LISTENER_CLIENTS, knobs=LISTENER_KNOBS, ramp_up=1.0
            )
            owner: list[ScaleRound] = []
            other: list[ScaleRound] = []
            for number in range(self.scenario.rounds):
                order = ("owner", "other") if number % 2 == 0 else ("other", "owner")
                for listen in order:
                    measured = await self.round(gateways, urls, redis, listen, listeners)
                    (owner if listen == "owner" else other).append(measured)
            return two, owner, other
        finally:
            for gateway in gateways:
                gateway.stop()

    async def round(
        self,
        gateways: Sequence[Child],
        urls: Sequence[str],
        redis: RedisServer | None,
        listen: str,
        scenario: Scenario | None = None,
    ) -> ScaleRound:
        scenario = scenario or self.scenario
        bench = self.bench
        assert bench.simulator is not None
        config = replace(
            load_config(scenario, urls[0], bench.simulator_url, direct=False),
            more_urls=tuple(urls[1:]),
            eventsource=True,
            listen=listen,
        )
        stored_before = await bench.database.complete_answers()
        cpu = [g.stat.cpu_seconds() for g in gateways]
        redis_cpu = redis.stat.cpu_seconds() if redis else 0.0
        simulator_cpu = bench.simulator.stat.cpu_seconds()
        started = time.monotonic()
        report = await run_load(config)
        wall = time.monotonic() - started
        await asyncio.sleep(0.5)  # the last answers reach the database
        stored_after = await bench.database.complete_answers()
        return ScaleRound(
            report=report,
            wall_s=wall,
            gateways_cpu_s=sum(
                g.stat.cpu_seconds() - c for g, c in zip(gateways, cpu, strict=True)
            ),
            redis_cpu_s=(redis.stat.cpu_seconds() - redis_cpu) if redis else 0.0,
            simulator_cpu_s=bench.simulator.stat.cpu_seconds() - simulator_cpu,
            stored=None
            if stored_before is None or stored_after is None
            else stored_after - stored_before,
            expected=report.stats.turns_accepted * len(scenario.providers),
        )

    def summary(
        self,
        one: ScaleRound,
        two: ScaleRound,
        owner: list[ScaleRound],
        other: list[ScaleRound],
    ) -> dict[str, Any]:
        one_figures, two_figures = one.figures(), two.figures()
        owner_cpu = pooled_cpu_per_token(owner)
        other_cpu = pooled_cpu_per_token(other)
        rounds = [one, two, *owner, *other]
        derived = {
            "one_tokens_per_s": one_figures["tokens_per_s"],
            "two_tokens_per_s": two_figures["tokens_per_s"],
            "two_over_one": ratio(two_figures["tokens_per_s"], one_figures["tokens_per_s"]),
            "one_cpu_us_per_token": one_figures["cpu_us_per_token"],
            "two_cpu_us_per_token": two_figures["cpu_us_per_token"],
            # Issue 28's scale efficiency: what two gateways and Redis together spend per token
            # (the same load, half the listeners on the other gateway) over one gateway alone.
            "two_cpu_per_token_vs_one": ratio(
                add(two_figures["cpu_us_per_token"], two_figures["redis_cpu_us_per_token"]),
                one_figures["cpu_us_per_token"],
            ),
            "owner_listeners_cpu_us_per_token": owner_cpu,
            "remote_listeners_cpu_us_per_token": other_cpu,
            "remote_listener_extra_us_per_token": round(other_cpu - owner_cpu, 2)
            if owner_cpu is not None and other_cpu is not None
            else None,
            "errors": sum(r.figures()["errors"] for r in rounds),
            "violations": sum(r.figures()["violations"] for r in rounds),
            "answers_missing": None
            if any(r.stored is None for r in rounds)
            else sum(max(r.expected - r.stored, 0) for r in rounds),  # type: ignore[misc,operator]  # no None: checked above
            "cores": os.cpu_count(),
        }
        return {
            "scenario": self.scenario.name,
            "description": self.scenario.description,
            "one": one_figures,
            "two": two_figures,
            "listeners_on_owner": [r.figures() for r in owner],
            "listeners_elsewhere": [r.figures() for r in other],
            "derived": derived,
        }


def pooled_cpu_per_token(rounds: Sequence[ScaleRound]) -> float | None:
    tokens = sum(r.report.stats.deltas for r in rounds)
    cpu = sum(r.gateways_cpu_s for r in rounds)
    return round(cpu * 1e6 / tokens, 2) if tokens else None


def add(a: float | None, b: float | None) -> float | None:
    return a + b if a is not None and b is not None else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if not numerator or not denominator:
        return None
    return round(numerator / denominator, 2)


async def run_scale(bench: Bench, scenario: Scenario) -> dict[str, Any]:
    return await ScaleRun(bench, scenario).run()
