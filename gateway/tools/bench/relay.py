"""The relay scenarios: the same load direct (load generator → simulators), through nginx (the
floor, where the scenario asks for it) and through the gateway, their rounds interleaved.

``BENCH_BASELINE=<a source tree>`` adds a gateway of that code, ``BENCH_METRICS=compare`` one
with ``METRICS=off``, ``BENCH_TRANSPORT=compare`` one on httpx's own transport instead of ours
(with ``BENCH_TLS=1``, over TLS): each is one more relay in the same rounds, so that the difference in CPU
per token is measured on the same noisy machine at the same moments.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gateway.tools.bench.harness import Bench, settle
from gateway.tools.bench.measure import ProcStat, idle_figures
from gateway.tools.bench.report import floor_line, one_line
from gateway.tools.bench.rounds import GatewayRound, load_config
from gateway.tools.bench.scenarios import Scenario
from gateway.tools.bench.summary import summarise_scenario
from gateway.tools.bench.tls import (
    HTTPX_TRANSPORT,
    compare_transport,
    httpx_transport_environment,
)
from gateway.tools.loadtest import LoadReport, run_load

# The names of the extra relays' results, after the scenario's name.
METRICS_OFF = "(metrics off)"
BASELINE = "(baseline)"


def compare_metrics() -> bool:
    return os.environ.get("BENCH_METRICS", "") == "compare"


def baseline_tree() -> str | None:
    return os.environ.get("BENCH_BASELINE") or None


@dataclass(slots=True)
class Relay:
    """One process the load goes through: a gateway, or nginx (loaded as in direct mode)."""

    label: str  # "" for this code's gateway, else a suffix of the scenario's name
    stat: ProcStat
    url: str
    stop: Callable[[], None]
    floor: bool = False
    idle: tuple[int, float] = (0, 0.0)
    rounds: list[GatewayRound] = field(default_factory=list)


async def run_relay(bench: Bench, scenario: Scenario) -> dict[str, Any]:
    """The scenario's results by name: the scenario's own, and one per extra gateway."""
    relays: list[Relay] = []
    try:
        await start_relays(bench, scenario, relays)
        gateways = [r for r in relays if not r.floor]
        floor = next((r for r in relays if r.floor), None)
        for relay in gateways:
            await bench.warm_up(scenario, relay.url, floor.url if floor else None)
        for relay in gateways:
            relay.idle = await idle_figures(relay.stat)
        direct = await run_rounds(bench, scenario, relays)
    finally:
        for relay in relays:
            relay.stop()
    floor_rounds = floor.rounds if floor else None
    results = {
        f"{scenario.name} {relay.label}".strip(): summarise_scenario(
            scenario, direct, relay.rounds, *relay.idle, floor=floor_rounds
        )
        for relay in gateways
    }
    ours = results[scenario.name]
    print(f"bench: {scenario.name}: {one_line(ours['derived'])}", flush=True)
    if floor is not None:
        print(f"bench: {scenario.name}: {floor_line(ours['derived'])}", flush=True)
    if len(gateways) > 1:
        label = gateways[1].label
        other = results[f"{scenario.name} {label}"]["derived"]
        cost = difference(ours["derived"]["cpu_us_per_token"], other["cpu_us_per_token"])
        print(f"bench: {scenario.name}: {label} {one_line(other)}")
        if label == HTTPX_TRANSPORT:
            saved = None if cost is None else round(-cost, 2)
            ours["derived"]["us_per_token_saved_over_httpx_transport"] = saved
            print(f"bench: {scenario.name}: our transport saves {saved} µs per token", flush=True)
        else:
            key = "us_per_token_vs_baseline" if baseline_tree() else "metrics_cost_us_per_token"
            ours["derived"][key] = cost
            what = "this code costs" if baseline_tree() else "metrics cost"
            print(f"bench: {scenario.name}: {what} {cost} µs per token more", flush=True)
    return results


async def start_relays(bench: Bench, scenario: Scenario, relays: list[Relay]) -> None:
    """This code's gateway, the baseline's or the metrics-off one, and the floor."""
    gateway, url = await bench.start_gateway(scenario.name)
    relays.append(Relay("", gateway.stat, url, gateway.stop))
    tree = baseline_tree()
    if tree or compare_metrics():
        other, other_url = await bench.start_gateway(scenario.name, metrics=bool(tree), tree=tree)
        relays.append(Relay(BASELINE if tree else METRICS_OFF, other.stat, other_url, other.stop))
    elif compare_transport():
        other, other_url = await bench.start_gateway(
            scenario.name, env=httpx_transport_environment(), label="httpx-transport"
        )
        relays.append(Relay(HTTPX_TRANSPORT, other.stat, other_url, other.stop))
    if scenario.floor:
        try:
            nginx = await bench.start_nginx(scenario.name)
        except FileNotFoundError as missing:
            print(f"bench: {scenario.name}: no floor: needs {missing}", flush=True)
        else:
            relays.append(Relay("nginx", nginx.stat, nginx.url, nginx.stop, floor=True))


async def run_rounds(bench: Bench, scenario: Scenario, relays: list[Relay]) -> list[LoadReport]:
    """Each round runs the load direct and through every relay, one at a time, the order
    turning by one each round; returns the direct reports (the relays keep theirs)."""
    direct: list[LoadReport] = []
    modes: list[Relay | None] = [None, *relays]
    for number in range(scenario.rounds):
        shift = number % len(modes)
        for relay in modes[shift:] + modes[:shift]:
            if relay is None:
                config = load_config(
                    scenario, bench.simulator_url, bench.simulator_url, direct=True
                )
                direct.append(await run_load(config))
            else:
                name = f"{scenario.name}-{relay.label.strip('()').replace(' ', '-') or 'gateway'}"
                relay.rounds.append(
                    await bench.measured_round(
                        scenario,
                        relay.stat,
                        relay.url,
                        direct=relay.floor,
                        stored=not relay.floor,
                        profile_as=f"{name}-{number + 1}",
                    )
                )
            await settle()
    return direct


def difference(a: float | None, b: float | None) -> float | None:
    return round(a - b, 2) if a is not None and b is not None else None
