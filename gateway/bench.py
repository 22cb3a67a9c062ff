"""``multichat bench``: the streaming benchmark, direct against the simulators vs through the gateway.

What it does, in order:

1. Raises RLIMIT_NOFILE, splits the machine's cores: the gateway gets the first core, everything
   else (this process with the load generator, the simulators, the embedded PostgreSQL) the
   rest. On a 2-core machine that is core 0 for the gateway and core 1 for the load side.
2. Starts PostgreSQL (embedded, in a temporary data directory; or the server of DATABASE_URL)
   and the simulators (``multichat simulate``, a separate process).
3. For each scenario, starts a fresh gateway (``multichat serve``, a separate process, with
   SIMULATOR_URL pointing at the simulators, no keys, no ``.env``), warms it up, measures its
   idle RSS, then runs rounds: the same load direct (``loadtest --direct``) and through the
   gateway, alternating which goes first. While the gateway runs it samples the gateway's
   user+sys CPU and RSS from /proc and the simulators' count of open streams.
4. Writes bench-results/latest.json and latest.md and prints the Markdown table.

Numbers, and how each is computed:

* added TTFT p50/p99: gateway percentile minus direct percentile, over every sample of every
  round (the samples are not paired, so this is a difference of percentiles).
* added gap p99: the same for the gap between consecutive deltas of one provider.
* gateway CPU per relayed token: the gateway process's user+sys time (/proc/<pid>/stat) over
  its rounds, divided by the delta events the load generator received through it. Turn set-up,
  database writes and everything else the gateway does in that time is included.
* peak RSS: VmHWM of the gateway over its rounds (reset through /proc/<pid>/clear_refs when
  allowed, else the sampled maximum of VmRSS); RSS per open upstream stream: (peak RSS - idle
  RSS) / the peak number of streams the simulators had open.
* answers stored: complete assistant messages in PostgreSQL after a round minus before, against
  the turns the gateway accepted times the providers per turn.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from gateway.loadtest import (
    Connection,
    Endpoint,
    LoadConfig,
    LoadReport,
    Stats,
    build_request,
    event_loop_factory,
    raise_open_files_limit,
    run_load,
)
from providers.registry import PROVIDERS

ALL_PROVIDERS = tuple(PROVIDERS)
RESULTS_DIR = Path("bench-results")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
KB = 1024
# Above this share of a round spent waiting for a CPU, the report warns that the machine was busy.
NOISY_WAIT_PERCENT = 5.0
READY_TIMEOUT = 90.0  # seconds for the simulators or a gateway to answer after start

# -- scenarios ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    providers: tuple[str, ...]
    knobs: str  # simulator knobs on the model name
    clients: int  # concurrent turns
    duration: float | None  # seconds per round and mode during which clients start turns
    turns: int | None = None  # per client, instead of a duration (hold: one long turn each)
    ramp_up: float = 0.0
    rounds: int = 1  # each round runs direct and through the gateway
    turn_timeout: float = 60.0

    @property
    def upstream_streams(self) -> int:
        return self.clients * len(self.providers)


def scenarios(quick: bool) -> dict[str, Scenario]:
    """The five scenarios of issue 5; ``quick`` shrinks each to a few seconds (a smoke run)."""
    # ttft=0 everywhere but hold: the direct baseline then has no timer in front of the first
    # token, so added TTFT is all the gateway's own work (storing the prompt included).
    full = [
        Scenario(
            "overhead-1",
            "1 provider, 200 tokens 5 ms apart, 1 concurrent turn",
            ("claude",),
            "tokens=200,gap=5,ttft=0",
            clients=1,
            duration=10,
            rounds=3,
        ),
        Scenario(
            "overhead-50",
            "1 provider, 200 tokens 5 ms apart, 50 concurrent turns",
            ("claude",),
            "tokens=200,gap=5,ttft=0",
            clients=50,
            duration=10,
            ramp_up=1.0,
            rounds=2,
        ),
        Scenario(
            "fanout",
            "5 providers, 200 tokens 20 ms apart each, 100 concurrent turns (500 streams)",
            ALL_PROVIDERS,
            "tokens=200,gap=20,ttft=0",
            clients=100,
            duration=12,
            ramp_up=2.0,
            rounds=2,
        ),
        Scenario(
            "throughput",
            "1 provider, 1,000 tokens with no delay (the simulator writes them 16 events per "
            "write), 50 concurrent turns",
            ("claude",),
            "tokens=1000,gap=0,ttft=0",
            clients=50,
            duration=8,
            ramp_up=0.5,
            rounds=2,
        ),
        Scenario(
            "hold",
            "5 providers, 1,000 concurrent turns (5,000 streams), 1 token/s for 60 s",
            ALL_PROVIDERS,
            "tokens=60,gap=1000,ttft=1000",
            clients=1000,
            duration=None,
            turns=1,
            ramp_up=10.0,
            turn_timeout=180.0,
        ),
    ]
    if not quick:
        return {s.name: s for s in full}
    shrunk = {s.name: replace(s, duration=3, rounds=1, ramp_up=min(s.ramp_up, 1.0)) for s in full}
    shrunk["hold"] = replace(
        shrunk["hold"],
        description="5 providers, 200 concurrent turns (1,000 streams), 1 token/s for 10 s",
        clients=200,
        knobs="tokens=10,gap=1000,ttft=1000",
        ramp_up=2.0,
        duration=None,
        turn_timeout=60.0,
    )
    return shrunk


# -- targets --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    scenario: str
    metric: str  # a key of the scenario's "derived" figures
    limit: float
    higher_is_better: bool = False
    unit: str = ""


TARGETS = (
    *(
        Target("gateway CPU per relayed token", name, "cpu_us_per_token", 50, unit="µs")
        for name in ("overhead-1", "overhead-50", "fanout", "throughput")
    ),
    Target("added TTFT p50 at 1 turn", "overhead-1", "added_ttft_p50_ms", 2, unit="ms"),
    Target("added TTFT p99 at 50 turns", "overhead-50", "added_ttft_p99_ms", 10, unit="ms"),
    Target(
        "relayed tokens/s on one core",
        "throughput",
        "gateway_tokens_per_s",
        20_000,
        higher_is_better=True,
        unit="/s",
    ),
    Target("fan-out errors", "fanout", "gateway_errors", 0),
    Target("fan-out answers not stored (any round)", "fanout", "answers_missing", 0),
    Target("hold errors", "hold", "gateway_errors", 0),
    Target("hold RSS per upstream stream", "hold", "rss_kb_per_stream", 30, unit="KB"),
)


def judge(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target next to its measured value, for the scenarios that ran."""
    verdicts = []
    for target in TARGETS:
        scenario = results.get(target.scenario)
        if scenario is None:
            continue
        value = scenario["derived"].get(target.metric)
        if value is None:
            passed = False
        elif target.higher_is_better:
            passed = value >= target.limit
        else:
            passed = value <= target.limit
        verdicts.append(
            {
                "target": target.name,
                "scenario": target.scenario,
                "metric": target.metric,
                "measured": value,
                "limit": target.limit,
                "comparison": ">=" if target.higher_is_better else "<=",
                "unit": target.unit,
                "pass": passed,
            }
        )
    return verdicts


# -- processes ------------------------------------------------------------------------------------


def core_plan() -> tuple[set[int] | None, set[int] | None]:
    """(gateway cores, load-side cores), or (None, None) when there is one core to share."""
    cores = sorted(os.sched_getaffinity(0))
    if len(cores) < 2:
        return None, None
    return {cores[0]}, set(cores[1:])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def multichat_command() -> list[str]:
    script = Path(sys.executable).with_name("multichat")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gateway"]


class ProcStat:
    """A process's CPU time and memory, read from /proc (Linux)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def cpu_seconds(self) -> float:
        """user + sys of every thread of the process."""
        with open(f"/proc/{self.pid}/stat", "rb") as file:
            fields = file.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime

    def cpu_wait_seconds(self) -> float:
        """Time the main thread (the event loop) spent runnable but waiting for a CPU: high
        when something else, on this machine, competes for the core."""
        try:
            with open(f"/proc/{self.pid}/schedstat", "rb") as file:
                return int(file.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return 0.0

    def memory(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak RSS) in bytes."""
        values = {}
        with open(f"/proc/{self.pid}/status", "rb") as file:
            for line in file:
                if line.startswith((b"VmRSS:", b"VmHWM:")):
                    name, amount, _ = line.split()
                    values[name[:-1].decode()] = int(amount) * KB
        return values

    def reset_peak(self) -> bool:
        """Reset VmHWM to the current RSS ("5" to clear_refs); False when not allowed."""
        try:
            with open(f"/proc/{self.pid}/clear_refs", "w") as file:
                file.write("5")
            return True
        except OSError:
            return False


class Child:
    """A ``multichat`` subprocess, pinned to ``cores``, its output in a log file."""

    def __init__(
        self,
        args: Sequence[str],
        log: Path,
        cores: set[int] | None,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.log = log
        self.output = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [*multichat_command(), *args],
            stdout=self.output,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
        )
        if cores:
            # Pinned right after the fork: the interpreter is still starting, and any thread
            # it creates later inherits the mask.
            os.sched_setaffinity(self.process.pid, cores)
        self.stat = ProcStat(self.process.pid)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20.0) -> None:
        if self.alive():
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.output.close()

    def tail(self, lines: int = 20) -> str:
        text = self.log.read_text(errors="replace").splitlines()
        return "\n".join(text[-lines:])


async def http_get(url: str) -> tuple[int, bytes]:
    """A GET on a fresh connection, with the load generator's own HTTP client (callers bound
    it with asyncio.timeout)."""
    endpoint = Endpoint.parse(url)
    path = url.split(endpoint.authority, 1)[1] or "/"
    connection = await Connection.open(endpoint.host, endpoint.port)
    try:
        response = await connection.send(build_request("GET", endpoint.authority, path))
    finally:
        connection.close()
    return response.status, response.body


async def wait_until_ready(child: Child, url: str, what: str) -> None:
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            while True:
                if not child.alive():
                    raise RuntimeError(f"{what} exited at start-up:\n{child.tail()}")
                with contextlib.suppress(OSError, TimeoutError):
                    async with asyncio.timeout(2.0):
                        status, _ = await http_get(url)
                    if status == 200:
                        return
                await asyncio.sleep(0.1)
    except TimeoutError:
        raise RuntimeError(
            f"{what} did not answer {url} within {READY_TIMEOUT:.0f} s:\n{child.tail()}"
        ) from None


def gateway_environment(dsn: str, simulator_url: str, port: int, data_dir: Path) -> dict[str, str]:
    """The process environment minus every gateway and provider setting, plus the bench's: so
    that no key in the developer's shell sends load to a real provider."""
    from gateway.settings import Settings

    settings = {name.upper() for name in Settings.model_fields}
    prefixes = tuple(f"{name.upper()}_" for name in PROVIDERS)
    environment = {
        name: value
        for name, value in os.environ.items()
        if name.upper() not in settings and not name.upper().startswith(prefixes)
    }
    environment.update(
        DATABASE_URL=dsn,
        SIMULATOR_URL=simulator_url,
        HOST="127.0.0.1",
        PORT=str(port),
        DATA_DIR=str(data_dir),
        LOG_LEVEL="warning",
        MAX_CONCURRENT_TURNS="20000",  # above hold's 1,000 turns: the limit must not be measured
        DB_POOL_MIN="2",
        DB_POOL_MAX="20",
    )
    for name, spec in PROVIDERS.items():
        environment[spec.key_env] = ""  # an empty key means simulated
        # hold sends one token a second: both timeouts well above that
        environment[f"{name.upper()}_FIRST_TOKEN_TIMEOUT"] = "30"
        environment[f"{name.upper()}_IDLE_TIMEOUT"] = "30"
    return environment


class Database:
    """Where the gateway stores answers: an embedded PostgreSQL of the bench's own, or the
    server of DATABASE_URL."""

    def __init__(self, work_dir: Path) -> None:
        self.external = os.environ.get("DATABASE_URL") or None
        self.embedded = None
        self.work_dir = work_dir
        self.dsn = ""

    def start(self) -> str:
        if self.external:
            self.dsn = self.external
            return self.dsn
        from storage.embedded import EmbeddedPostgres

        self.embedded = EmbeddedPostgres(self.work_dir / "data")
        self.dsn = self.embedded.start()
        return self.dsn

    async def complete_answers(self) -> int | None:
        import asyncpg

        try:
            connection = await asyncpg.connect(self.dsn)
        except (OSError, asyncpg.PostgresError):
            return None
        try:
            return await connection.fetchval(
                "SELECT count(*) FROM messages WHERE role = 'assistant' AND status = 'complete'"
            )
        except asyncpg.UndefinedTableError:
            return 0
        finally:
            await connection.close()

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


# -- measuring ------------------------------------------------------------------------------------


class GatewaySampler:
    """While the gateway serves a round: its RSS every ``every`` seconds and the simulators'
    open streams, both cheap next to the load."""

    def __init__(self, gateway: ProcStat, simulator_url: str, every: float = 0.5) -> None:
        self.gateway = gateway
        self.simulator_url = simulator_url
        self.every = every
        self.peak_rss = 0
        self.peak_open_streams = 0
        self.rss_at_peak_streams = 0  # RSS sampled when the most streams were open
        self.task: asyncio.Task[None] | None = None

    def __enter__(self) -> GatewaySampler:
        self.task = asyncio.create_task(self.run())
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self.task is not None
        self.task.cancel()

    async def run(self) -> None:
        while True:
            self.peak_rss = max(self.peak_rss, self.gateway.memory()["VmRSS"])
            with contextlib.suppress(OSError, TimeoutError, ValueError):
                async with asyncio.timeout(2.0):
                    status, body = await http_get(f"{self.simulator_url}/_sim/stats")
                if status == 200:
                    stats = orjson.loads(body)
                    opened = sum(flavour["open"] for flavour in stats.values())
                    if opened >= self.peak_open_streams:
                        self.peak_open_streams = opened
                        self.rss_at_peak_streams = self.gateway.memory()["VmRSS"]
            await asyncio.sleep(self.every)


@dataclass(slots=True)
class GatewayRound:
    report: LoadReport
    wall_s: float
    cpu_s: float
    simulator_cpu_s: float
    cpu_wait_s: float  # the gateway's event loop, runnable but not running
    load_cpu_wait_s: float  # the same for this process (the load generator)
    peak_rss: int
    peak_open_streams: int
    rss_at_peak_streams: int
    stored: int | None
    expected: int


def load_config(scenario: Scenario, url: str, simulator_url: str, direct: bool) -> LoadConfig:
    return LoadConfig(
        url=url,
        clients=scenario.clients,
        turns=scenario.turns,
        duration=scenario.duration,
        ramp_up=scenario.ramp_up,
        providers=scenario.providers,
        model_suffix="+" + scenario.knobs,
        direct=direct,
        simulator_url=simulator_url,
        turn_timeout=scenario.turn_timeout,
        show_violations=3,
        progress=False,
    )


def combine(reports: Sequence[LoadReport]) -> dict[str, Any]:
    """Several rounds' reports as one: samples pooled, counts and times summed."""
    first = reports[0]
    stats = Stats(first.config)
    for report in reports:
        other = report.stats
        stats.turns_started += other.turns_started
        stats.turns_ok += other.turns_ok
        stats.turns_failed += other.turns_failed
        stats.turns_accepted += other.turns_accepted
        stats.deltas += other.deltas
        stats.turn_time.extend(other.turn_time)
        stats.reported_ttft.extend(other.reported_ttft)
        for provider, samples in other.ttft.items():
            stats.ttft[provider].extend(samples)
        for provider, samples in other.gaps.items():
            stats.gaps[provider].extend(samples)
        stats.errors.update(other.errors)
        stats.violations += other.violations
        stats.violation_examples += other.violation_examples
        stats.peak_open_turns = max(stats.peak_open_turns, other.peak_open_turns)
    elapsed = sum(r.elapsed for r in reports)
    cpu = sum(r.cpu_seconds for r in reports)
    return LoadReport(first.config, elapsed, cpu, stats).as_dict()


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

    async def start_gateway(self, name: str) -> tuple[Child, str]:
        port = free_port()
        data_dir = self.work_dir / "gateway-data"
        data_dir.mkdir(exist_ok=True)
        gateway = Child(
            ["serve", "--port", str(port)],
            self.logs / f"gateway-{name}.log",
            self.gateway_cores,
            env=gateway_environment(self.database.dsn, self.simulator_url, port, data_dir),
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
            results[scenario.name] = await self.run_scenario(scenario)
            derived = results[scenario.name]["derived"]
            print(f"bench: {scenario.name}: {one_line(derived)}", flush=True)
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


async def idle_figures(gateway: ProcStat, seconds: float = 2.0) -> tuple[int, float]:
    """The gateway's RSS and CPU use with nothing to do, after the warm-up: the base that
    per-stream memory is counted from, and the background CPU included in per-token CPU."""
    before = gateway.cpu_seconds()
    await asyncio.sleep(seconds)
    cpu_percent = round(100 * (gateway.cpu_seconds() - before) / seconds, 2)
    return gateway.memory()["VmRSS"], cpu_percent


def difference(through: dict[str, Any], direct: dict[str, Any], key: str) -> float | None:
    if through.get(key) is None or direct.get(key) is None:
        return None
    return round(through[key] - direct[key], 3)


def summarise_scenario(
    scenario: Scenario,
    direct_reports: list[LoadReport],
    rounds: list[GatewayRound],
    idle_rss: int,
    idle_cpu_percent: float,
) -> dict[str, Any]:
    direct = combine(direct_reports)
    gateway = combine([r.report for r in rounds])
    cpu = sum(r.cpu_s for r in rounds)
    wall = sum(r.wall_s for r in rounds)
    tokens = gateway["tokens"]
    peak_rss = max(r.peak_rss for r in rounds)
    busiest = max(rounds, key=lambda r: r.peak_open_streams)
    open_streams = busiest.peak_open_streams
    stored = [r.stored for r in rounds]
    expected = [r.expected for r in rounds]
    missing = (
        None
        if any(s is None for s in stored)
        else sum(max(e - s, 0) for s, e in zip(stored, expected, strict=True))  # type: ignore[operator]
    )
    ttft_direct, ttft_gateway = direct["ttft_ms"]["all"], gateway["ttft_ms"]["all"]
    gap_direct, gap_gateway = direct["gap_ms"]["all"], gateway["gap_ms"]["all"]
    derived = {
        "direct_ttft_p50_ms": ttft_direct["p50"],
        "direct_ttft_p99_ms": ttft_direct["p99"],
        "gateway_ttft_p50_ms": ttft_gateway["p50"],
        "gateway_ttft_p99_ms": ttft_gateway["p99"],
        "added_ttft_p50_ms": difference(ttft_gateway, ttft_direct, "p50"),
        "added_ttft_p99_ms": difference(ttft_gateway, ttft_direct, "p99"),
        "direct_gap_p99_ms": gap_direct["p99"],
        "gateway_gap_p99_ms": gap_gateway["p99"],
        "added_gap_p99_ms": difference(gap_gateway, gap_direct, "p99"),
        "direct_tokens_per_s": direct["tokens_per_s"],
        "gateway_tokens_per_s": gateway["tokens_per_s"],
        "relayed_tokens": tokens,
        "gateway_cpu_s": round(cpu, 3),
        "cpu_us_per_token": round(cpu * 1e6 / tokens, 2) if tokens else None,
        "gateway_core_busy_percent": round(100 * cpu / wall, 1) if wall else None,
        "simulators_cpu_percent": round(100 * sum(r.simulator_cpu_s for r in rounds) / wall, 1)
        if wall
        else None,
        "load_side_cpu_percent": round(
            100 * (sum(r.simulator_cpu_s for r in rounds) + gateway["client_cpu_s"]) / wall, 1
        )
        if wall
        else None,
        "gateway_cpu_wait_percent": round(100 * sum(r.cpu_wait_s for r in rounds) / wall, 1)
        if wall
        else None,
        "load_generator_cpu_wait_percent": round(
            100 * sum(r.load_cpu_wait_s for r in rounds) / wall, 1
        )
        if wall
        else None,
        "gateway_reported_ttft_p50_ms": gateway["reported_upstream_ttft_ms"]["p50"],
        "idle_rss_mb": round(idle_rss / KB / KB, 1),
        "idle_cpu_percent": idle_cpu_percent,
        "peak_rss_mb": round(peak_rss / KB / KB, 1),
        "peak_upstream_streams": open_streams,
        "rss_kb_per_stream": round((peak_rss - idle_rss) / KB / open_streams, 1)
        if open_streams
        else None,
        # The same with the RSS sampled when the most streams were open, rather than the peak
        # (which can come later, e.g. while finished turns are stored and kept for replay).
        "rss_kb_per_stream_while_open": round(
            (busiest.rss_at_peak_streams - idle_rss) / KB / open_streams, 1
        )
        if open_streams
        else None,
        "direct_errors": direct["error_count"],
        "gateway_errors": gateway["error_count"],
        "violations": gateway["violations"] + direct["violations"],
        "answers_stored": stored,
        "answers_expected": expected,
        "answers_missing": missing,
    }
    return {
        "scenario": asdict(scenario),
        "direct": direct,
        "gateway": gateway,
        "rounds": [
            {
                "wall_s": round(r.wall_s, 3),
                "gateway_cpu_s": round(r.cpu_s, 3),
                "simulator_cpu_s": round(r.simulator_cpu_s, 3),
                "gateway_cpu_wait_s": round(r.cpu_wait_s, 3),
                "load_generator_cpu_wait_s": round(r.load_cpu_wait_s, 3),
                "tokens": r.report.stats.deltas,
                "errors": sum(r.report.stats.errors.values()),
                "peak_rss_mb": round(r.peak_rss / KB / KB, 1),
                "peak_upstream_streams": r.peak_open_streams,
                "answers_stored": r.stored,
                "answers_expected": r.expected,
            }
            for r in rounds
        ],
        "derived": derived,
    }


def one_line(derived: dict[str, Any]) -> str:
    return (
        f"added TTFT p50 {fmt(derived['added_ttft_p50_ms'])} ms, p99 "
        f"{fmt(derived['added_ttft_p99_ms'])} ms; {fmt(derived['cpu_us_per_token'])} µs CPU/token; "
        f"{fmt(derived['gateway_tokens_per_s'], 0)} tokens/s; errors {derived['gateway_errors']}"
    )


# -- the report -----------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as file:
        for line in file:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": load_average(),
    }


def load_average() -> str:
    """1, 5 and 15 minute load averages: other work on the machine shows up here."""
    with contextlib.suppress(OSError), open("/proc/loadavg") as file:
        return " ".join(file.read().split()[:3])
    return "unknown"


def fmt(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float | int):
        return f"{value:,.{digits}f}"
    return str(value)


def markdown(result: dict[str, Any]) -> str:
    info = result["machine"]
    lines = [
        f"Benchmark run {result['date']}{' (quick: indicative only)' if result['quick'] else ''}",
        "",
        f"- Machine: {info['cpu']}, {info['cores']} cores, Python {info['python']}, "
        f"{info['platform']} (load average {info['load_average_at_start']} at the start, "
        f"{result['load_average_at_end']} at the end)",
        f"- Layout: {result['layout']}",
        f"- Command: `{result['command']}`",
        "",
        "| scenario | TTFT p50 / p99 direct → gateway (ms) | added TTFT p50 / p99 (ms) "
        "| gap p99 direct → gateway (ms) | relayed tokens/s | gateway CPU per token (µs) "
        "| gateway core busy | peak RSS (MB) | RSS per upstream stream (KB) | errors "
        "| answers stored / expected |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, scenario in result["scenarios"].items():
        d = scenario["derived"]
        stored = "–" if d["answers_missing"] is None else (
            f"{sum(d['answers_stored'])} / {sum(d['answers_expected'])}"
        )  # fmt: skip
        # Per-stream RSS means something only with many streams open at once.
        per_stream = "–"
        if d["peak_upstream_streams"] >= 100:
            per_stream = (
                f"{fmt(d['rss_kb_per_stream'], 1)} "
                f"({fmt(d['rss_kb_per_stream_while_open'], 1)} while open)"
            )
        lines.append(
            f"| {name} | {fmt(d['direct_ttft_p50_ms'])} / {fmt(d['direct_ttft_p99_ms'])} → "
            f"{fmt(d['gateway_ttft_p50_ms'])} / {fmt(d['gateway_ttft_p99_ms'])} "
            f"| {fmt(d['added_ttft_p50_ms'])} / {fmt(d['added_ttft_p99_ms'])} "
            f"| {fmt(d['direct_gap_p99_ms'])} → {fmt(d['gateway_gap_p99_ms'])} "
            f"| {fmt(d['gateway_tokens_per_s'], 0)} | {fmt(d['cpu_us_per_token'], 1)} "
            f"| {fmt(d['gateway_core_busy_percent'], 0)}% | {fmt(d['peak_rss_mb'], 1)} "
            f"| {per_stream} | {d['gateway_errors']} | {stored} |"
        )
    lines += [
        "",
        "The harness, to show it is not what is measured (gateway rounds; core 1 holds the "
        "simulators and the load generator):",
        "",
        "| scenario | simulators CPU | load generator CPU | load generator µs per event "
        "(direct / gateway) | gateway waited for a CPU | load generator waited for a CPU |",
        "|---|---|---|---|---|---|",
    ]
    for name, scenario in result["scenarios"].items():
        d = scenario["derived"]
        lines.append(
            f"| {name} | {fmt(d['simulators_cpu_percent'], 0)}% "
            f"| {fmt(scenario['gateway']['client_cpu_percent'], 0)}% "
            f"| {fmt(scenario['direct']['client_cpu_us_per_token'], 1)} / "
            f"{fmt(scenario['gateway']['client_cpu_us_per_token'], 1)} "
            f"| {fmt(d['gateway_cpu_wait_percent'], 1)}% "
            f"| {fmt(d['load_generator_cpu_wait_percent'], 1)}% |"
        )
    disturbed = [
        f"{name} ({d['gateway_cpu_wait_percent']}%)"
        for name, d in ((n, s["derived"]) for n, s in result["scenarios"].items())
        if (d["gateway_cpu_wait_percent"] or 0) > NOISY_WAIT_PERCENT
    ]
    if disturbed:
        lines += [
            "",
            "**Warning:** other work on this machine competed with the gateway for its core in "
            + ", ".join(disturbed)
            + "; those numbers are worse than the gateway alone would give.",
        ]
    lines += ["", "| target | scenario | measured | limit | result |", "|---|---|---|---|---|"]
    for verdict in result["targets"]:
        unit = f" {verdict['unit']}" if verdict["unit"] else ""
        digits = 2 if verdict["unit"] in ("µs", "ms", "KB") else 0
        lines.append(
            f"| {verdict['target']} | {verdict['scenario']} "
            f"| {fmt(verdict['measured'], digits)}{unit} "
            f"| {verdict['comparison']} {fmt(verdict['limit'], 0)}{unit} "
            f"| {'pass' if verdict['pass'] else '**FAIL**'} |"
        )
    lines += ["", "Scenarios:"]
    for name, scenario in result["scenarios"].items():
        s = scenario["scenario"]
        amount = f"{s['duration']:g} s" if s["duration"] else f"{s['turns']} turn per client"
        lines.append(
            f"- {name}: {s['description']}; knobs `{s['knobs']}`; {s['rounds']} round(s) of "
            f"{amount} each way, ramp-up {s['ramp_up']:g} s"
        )
    return "\n".join(lines) + "\n"


def layout_text(gateway_cores: set[int] | None, load_cores: set[int] | None, external: bool) -> str:
    database = "PostgreSQL from DATABASE_URL (not pinned)" if external else "embedded PostgreSQL"
    if not gateway_cores or not load_cores:
        return f"one core: nothing pinned; {database} shares it"
    load = ",".join(map(str, sorted(load_cores)))
    pinned = "" if external else f", {database}"
    return (
        f"gateway on core {min(gateway_cores)}; simulators, load generator{pinned} on core(s) "
        f"{load}" + (f"; {database}" if external else "")
    )


def write_results(result: dict[str, Any], output_dir: Path) -> tuple[Path, Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    data = orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    json_path, md_path = output_dir / "latest.json", output_dir / "latest.md"
    json_path.write_bytes(data)
    md_path.write_text(markdown(result))
    stamp = result["date"].replace(":", "").replace("-", "")
    (output_dir / f"bench-{stamp}.json").write_bytes(data)
    return json_path, md_path


# -- command line ---------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a smoke run of a few seconds each")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=list(scenarios(False)),
        help="run only this scenario (repeatable)",
    )
    parser.add_argument("--rounds", type=int, help="override each scenario's rounds")
    parser.add_argument(
        "--duration", type=float, help="override each timed scenario's seconds per round and mode"
    )
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR)


def chosen_scenarios(args: argparse.Namespace) -> list[Scenario]:
    table = scenarios(args.quick)
    chosen = [table[name] for name in (args.scenario or table)]
    if args.rounds:
        chosen = [replace(s, rounds=args.rounds) for s in chosen]
    if args.duration:
        chosen = [replace(s, duration=args.duration) if s.duration else s for s in chosen]
    return chosen


def main(args: argparse.Namespace) -> int:
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
                results = runner.run(bench.run(chosen))
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
        "scenarios": results,
    }
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
