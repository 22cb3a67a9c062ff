"""One round of a scenario: the load configuration of each mode, and what a gateway round measured."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.tools.bench.processes import BENCH_KEY
from gateway.tools.bench.scenarios import Scenario
from gateway.tools.loadtest import LoadConfig, LoadReport


@dataclass(slots=True)
class GatewayRound:
    report: LoadReport
    wall_s: float
    cpu_s: float
    user_s: float  # of cpu_s, in clock ticks: the relay's own code ...
    system_s: float  # ... and the kernel's work for it
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
        key=BENCH_KEY,
    )
