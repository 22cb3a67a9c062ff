"""Running the benchmark: the simulators and a fresh gateway per scenario, then its rounds."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from gateway.tools.bench.database import Database
from gateway.tools.bench.measure import GatewaySampler, ProcStat, idle_figures
from gateway.tools.bench.processes import (
    Child,
    core_plan,
    free_port,
    gateway_environment,
    wait_until_ready,
)
from gateway.tools.bench.report import one_line, scale_line
from gateway.tools.bench.rounds import GatewayRound, load_config
from gateway.tools.bench.scale import run_scale
from gateway.tools.bench.scenarios import Scenario
from gateway.tools.bench.summary import summarise_scenario
from gateway.tools.loadtest import LoadReport, run_load

# BENCH_METRICS=compare: each scenario also runs through a gateway with METRICS=off.
METRICS_OFF = "(metrics off)"
# BENCH_BASELINE=<a source tree of the gateway>: each scenario also runs through a gateway of
# that code (an A/B of two versions in one run, on the same noisy machine).
BASELINE = "(baseline)"


def compare_metrics() -> bool:
    return os.environ.get("BENCH_METRICS", "") == "compare"


def baseline_tree() -> str | None:
    return os.environ.get("BENCH_BASELINE") or None


class Bench:
    def __init__(self, output_dir: Path, work_dir: Path) -> None:
        self.output_dir = output_dir
        self.logs = output_dir / "logs"
        self.work_dir = work_dir
        self.gateway_cores, self.load_cores = core_plan()
        self.database = Database(work_dir)
        self.simulator: Child | None = None
        self.simulator_url = ""

    # -- set-up --

    def start(self) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        if self.load_cores:
            os.sched_setaffinity(0, self.load_cores)  # before PostgreSQL, which inherits it
        print(f"bench: database {'(DATABASE_URL)' if self.database.external else '(embedded)'}")
        self.database.start()
        port = free_port()
        self.simulator_url = f"http://127.0.0.1:{port}"
        self.simulator = Child(
            ["simulate", "--host", "127.0.0.1", "--port", str(port)],
            self.logs / "simulators.log",
            self.load_cores,
            cwd=self.work_dir,
        )

    def stop(self) -> None:
        if self.simulator is not None:
            self.simulator.stop()
        self.database.stop()

    async def start_gateway(
        self,
        name: str,
        metrics: bool = True,
        pinned: bool = True,
        env: dict[str, str] | None = None,
        tree: str | None = None,
    ) -> tuple[Child, str]:
        port = free_port()
        data_dir = self.work_dir / "gateway-data"
        data_dir.mkdir(exist_ok=True)
        environment = gateway_environment(self.database.dsn, self.simulator_url, port, data_dir)
        environment["METRICS"] = "on" if metrics else "off"
        environment.update(env or {})
        if tree is not None:
            environment["PYTHONPATH"] = tree  # ahead of this checkout's editable install
        suffix = "-baseline" if tree else "" if metrics else "-metrics-off"
        gateway = Child(
            ["serve", "--port", str(port)],
            self.logs / f"gateway-{name}{suffix}.log",
            self.gateway_cores if pinned else None,
            env=environment,
            cwd=self.work_dir,  # no .env from the developer's checkout
        )
        url = f"http://127.0.0.1:{port}"
        await wait_until_ready(gateway, f"{url}/api/v1/health", "the gateway")
        return gateway, url

    # -- running --

    async def run(self, chosen: Sequence[Scenario]) -> dict[str, Any]:
        assert self.simulator is not None
        await wait_until_ready(self.simulator, f"{self.simulator_url}/_sim/stats", "the simulators")
        results = {}
        for scenario in chosen:
            print(f"bench: {scenario.name}: {scenario.description}", flush=True)
            if scenario.kind == "scale":
                results[scenario.name] = await run_scale(self, scenario)
                print(f"bench: {scenario.name}: {scale_line(results[scenario.name])}", flush=True)
                continue
            if baseline_tree():
                new, old = await self.run_scenario_metrics_on_and_off(scenario, baseline_tree())
                results[scenario.name] = new
                results[f"{scenario.name} {BASELINE}"] = old
                cost = new["derived"].pop("metrics_cost_us_per_token")
                new["derived"]["us_per_token_vs_baseline"] = cost
                print(f"bench: {scenario.name}: {BASELINE} {one_line(old['derived'])}")
                print(f"bench: {scenario.name}: this code costs {cost} µs per token more")
            elif compare_metrics():
                on, off = await self.run_scenario_metrics_on_and_off(scenario)
                results[scenario.name] = on
                results[f"{scenario.name} {METRICS_OFF}"] = off
            else:
                results[scenario.name] = await self.run_scenario(scenario)
            derived = results[scenario.name]["derived"]
            print(f"bench: {scenario.name}: {one_line(derived)}", flush=True)
            if compare_metrics():
                cost = derived["metrics_cost_us_per_token"]
                print(f"bench: {scenario.name}: metrics cost {cost} µs per token", flush=True)
        return results

    async def run_scenario(self, scenario: Scenario) -> dict[str, Any]:
        gateway, url = await self.start_gateway(scenario.name)
        try:
            await self.warm_up(scenario, url)
            idle_rss, idle_cpu = await idle_figures(gateway.stat)
            direct: list[LoadReport] = []
            through: list[GatewayRound] = []
            for number in range(scenario.rounds):
                order = (True, False) if number % 2 == 0 else (False, True)
                for is_direct in order:
                    if is_direct:
                        config = load_config(scenario, url, self.simulator_url, direct=True)
                        direct.append(await run_load(config))
                    else:
                        through.append(await self.gateway_round(scenario, url, gateway))
                    await asyncio.sleep(0.5)  # let closed connections settle between runs
        finally:
            gateway.stop()
        return summarise_scenario(scenario, direct, through, idle_rss, idle_cpu)

    async def run_scenario_metrics_on_and_off(
        self, scenario: Scenario, baseline: str | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """The scenario through two gateways, metrics on and METRICS=off (or, with
        ``baseline``, this code and the baseline tree's), their rounds interleaved with the
        direct ones (on the same core, one loaded at a time): the difference in CPU per token
        is what the metrics (or this code) cost, on the same noisy machine."""
        on, on_url = await self.start_gateway(scenario.name)
        try:
            off, off_url = await self.start_gateway(
                scenario.name, metrics=baseline is not None, tree=baseline
            )
        except BaseException:
            on.stop()
            raise
        try:
            await self.warm_up(scenario, on_url)
            await self.warm_up(scenario, off_url)
            idle = {True: await idle_figures(on.stat), False: await idle_figures(off.stat)}
            direct: list[LoadReport] = []
            through: dict[bool, list[GatewayRound]] = {True: [], False: []}
            modes = ("direct", True, False)
            for number in range(scenario.rounds):
                shift = number % 3
                for mode in modes[shift:] + modes[:shift]:
                    if mode == "direct":
                        config = load_config(scenario, on_url, self.simulator_url, direct=True)
                        direct.append(await run_load(config))
                    else:
                        gateway, url = (on, on_url) if mode else (off, off_url)
                        through[bool(mode)].append(await self.gateway_round(scenario, url, gateway))
                    await asyncio.sleep(0.5)
        finally:
            on.stop()
            off.stop()
        results = {
            mode: summarise_scenario(scenario, direct, through[mode], *idle[mode])
            for mode in (True, False)
        }
        on_cpu = results[True]["derived"]["cpu_us_per_token"]
        off_cpu = results[False]["derived"]["cpu_us_per_token"]
        cost = round(on_cpu - off_cpu, 2) if on_cpu is not None and off_cpu is not None else None
        results[True]["derived"]["metrics_cost_us_per_token"] = cost
        return results[True], results[False]

    async def warm_up(self, scenario: Scenario, url: str) -> None:
        """A few short turns each way, so that the first measured turn does not pay for lazy
        imports, pool connections and caches."""
        warm = replace(
            scenario,
            clients=min(scenario.clients, 4),
            duration=None,
            turns=3,
            ramp_up=0,
            knobs="tokens=20,gap=0,ttft=0",
        )
        for is_direct in (True, False):
            report = await run_load(load_config(warm, url, self.simulator_url, is_direct))
            if not report.ok:
                errors = dict(report.stats.errors)
                raise RuntimeError(f"warm-up failed ({'direct' if is_direct else url}): {errors}")

    async def gateway_round(self, scenario: Scenario, url: str, gateway: Child) -> GatewayRound:
        assert self.simulator is not None
        config = load_config(scenario, url, self.simulator_url, direct=False)
        stored_before = await self.database.complete_answers()
        gateway.stat.reset_peak()
        cpu_before = gateway.stat.cpu_seconds()
        simulator_before = self.simulator.stat.cpu_seconds()
        myself = ProcStat(os.getpid())
        waits_before = gateway.stat.cpu_wait_seconds(), myself.cpu_wait_seconds()
        started = time.monotonic()
        with GatewaySampler(gateway.stat, self.simulator_url) as sampler:
            report = await run_load(config)
        wall = time.monotonic() - started
        cpu = gateway.stat.cpu_seconds() - cpu_before
        simulator_cpu = self.simulator.stat.cpu_seconds() - simulator_before
        cpu_wait = gateway.stat.cpu_wait_seconds() - waits_before[0]
        load_cpu_wait = myself.cpu_wait_seconds() - waits_before[1]
        memory = gateway.stat.memory()
        stored_after = await self.database.complete_answers()
        stored = (
            None if stored_before is None or stored_after is None else stored_after - stored_before
        )
        return GatewayRound(
            report=report,
            wall_s=wall,
            cpu_s=cpu,
            simulator_cpu_s=simulator_cpu,
            cpu_wait_s=cpu_wait,
            load_cpu_wait_s=load_cpu_wait,
            peak_rss=max(memory["VmHWM"], sampler.peak_rss),
            peak_open_streams=sampler.peak_open_streams,
            rss_at_peak_streams=sampler.rss_at_peak_streams,
            stored=stored,
            expected=report.stats.turns_accepted * len(scenario.providers),
        )
