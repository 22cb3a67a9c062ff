"""What every scenario runs on: the simulators and the database for the whole run, a fresh
gateway (or nginx) when a scenario asks, warm-ups, and one measured round through a relay."""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import replace
from pathlib import Path

from gateway.tools.bench.database import Database
from gateway.tools.bench.floor import Nginx
from gateway.tools.bench.measure import GatewaySampler, ProcStat
from gateway.tools.bench.processes import (
    Child,
    core_plan,
    free_port,
    gateway_environment,
    wait_until_ready,
)
from gateway.tools.bench.profile import profiling
from gateway.tools.bench.rounds import GatewayRound, load_config
from gateway.tools.bench.scenarios import Scenario
from gateway.tools.bench.tls import TlsFront
from gateway.tools.bench.tls import wanted as tls_wanted
from gateway.tools.loadtest import run_load


class Bench:
    def __init__(self, output_dir: Path, work_dir: Path) -> None:
        self.output_dir = output_dir
        self.logs = output_dir / "logs"
        self.work_dir = work_dir
        self.gateway_cores, self.load_cores = core_plan()
        self.database = Database(work_dir)
        self.simulator: Child | None = None
        self.simulator_url = ""
        self.front: TlsFront | None = None  # BENCH_TLS=1: what gateways reach the simulators by

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
        if tls_wanted():
            self.front = TlsFront(self.work_dir, port)
            self.front.start()

    async def wait_for_simulators(self) -> None:
        assert self.simulator is not None
        await wait_until_ready(self.simulator, f"{self.simulator_url}/_sim/stats", "the simulators")
        if self.front is not None:
            await self.front.wait_ready()

    def stop(self) -> None:
        if self.front is not None:
            self.front.stop()
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
        label: str = "",
    ) -> tuple[Child, str]:
        port = free_port()
        data_dir = self.work_dir / "gateway-data"
        data_dir.mkdir(exist_ok=True)
        upstream = self.front.url if self.front else self.simulator_url
        environment = gateway_environment(self.database.dsn, upstream, port, data_dir)
        environment.update(self.front.environment if self.front else {})
        environment["METRICS"] = "on" if metrics else "off"
        environment.update(env or {})
        if tree is not None:
            environment["PYTHONPATH"] = tree  # ahead of this checkout's editable install
        suffix = "-baseline" if tree else "" if metrics else "-metrics-off"
        if label:
            suffix += f"-{label}"
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

    async def start_nginx(self, name: str) -> Nginx:
        """The floor: nginx relaying the simulators' streams, on the gateway's core."""
        nginx = Nginx(self.work_dir / f"nginx-{name}", self.logs / f"nginx-{name}.log")
        nginx.start(self.simulator_url, self.gateway_cores)
        await nginx.wait_until_ready()
        return nginx

    # -- rounds --

    async def warm_up(self, scenario: Scenario, url: str, direct_url: str | None = None) -> None:
        """A few short turns each way, so that the first measured turn does not pay for lazy
        imports, pool connections and caches. ``direct_url``: where direct mode goes (the
        simulators, or nginx in front of them)."""
        warm = replace(
            scenario,
            clients=min(scenario.clients, 4),
            duration=None,
            turns=3,
            ramp_up=0,
            knobs="tokens=20,gap=0,ttft=0",
        )
        simulators = direct_url or self.simulator_url
        for is_direct in (True, False):
            report = await run_load(load_config(warm, url, simulators, is_direct))
            if not report.ok:
                errors = dict(report.stats.errors)
                raise RuntimeError(f"warm-up failed ({'direct' if is_direct else url}): {errors}")

    async def measured_round(
        self,
        scenario: Scenario,
        relay: ProcStat,
        url: str,
        *,
        direct: bool = False,
        stored: bool = True,
        profile_as: str = "",
    ) -> GatewayRound:
        """One round of the scenario's load through ``relay`` (a gateway at ``url``, or with
        ``direct`` nginx at ``url`` in front of the simulators), with the relay's CPU, its
        memory and (``stored``) the answers the database gained. ``profile_as``: the name of
        the profile BENCH_PROFILE asks for (none without it)."""
        assert self.simulator is not None
        config = (
            load_config(scenario, self.simulator_url, url, direct=True)
            if direct
            else load_config(scenario, url, self.simulator_url, direct=False)
        )
        stored_before = await self.database.complete_answers() if stored else None
        relay.reset_peak()
        cpu_before = relay.cpu_seconds()
        user_before, system_before = relay.user_system_seconds()
        simulator_before = self.simulator.stat.cpu_seconds()
        myself = ProcStat(os.getpid())
        waits_before = relay.cpu_wait_seconds(), myself.cpu_wait_seconds()
        started = time.monotonic()
        output = self.logs / f"profile-{profile_as}"
        with (
            profiling(relay.pid, output, python=not direct),
            GatewaySampler(relay, self.simulator_url) as sampler,
        ):
            report = await run_load(config)
        wall = time.monotonic() - started
        cpu = relay.cpu_seconds() - cpu_before
        user, system = relay.user_system_seconds()
        simulator_cpu = self.simulator.stat.cpu_seconds() - simulator_before
        cpu_wait = relay.cpu_wait_seconds() - waits_before[0]
        load_cpu_wait = myself.cpu_wait_seconds() - waits_before[1]
        memory = relay.memory()
        stored_after = await self.database.complete_answers() if stored else None
        return GatewayRound(
            report=report,
            wall_s=wall,
            cpu_s=cpu,
            user_s=user - user_before,
            system_s=system - system_before,
            simulator_cpu_s=simulator_cpu,
            cpu_wait_s=cpu_wait,
            load_cpu_wait_s=load_cpu_wait,
            peak_rss=max(memory["VmHWM"], sampler.peak_rss),
            peak_open_streams=sampler.peak_open_streams,
            rss_at_peak_streams=sampler.rss_at_peak_streams,
            stored=None
            if stored_before is None or stored_after is None
            else stored_after - stored_before,
            expected=report.stats.turns_accepted * len(scenario.providers) if not direct else 0,
        )


async def settle() -> None:
    """Between two loads: let closed connections settle."""
    await asyncio.sleep(0.5)
