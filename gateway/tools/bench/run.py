"""Running the chosen scenarios, each by the runner of its kind.

A kind is a coroutine ``(bench, scenario) -> {result name: result}``: ``relay`` (direct, the
floor and the gateway, in ``relay``) and ``scale`` (one gateway against two, in ``scale``). A
new kind of scenario is a module with its runner, and a line here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from gateway.tools.bench.harness import Bench
from gateway.tools.bench.relay import run_relay
from gateway.tools.bench.report import scale_line
from gateway.tools.bench.scale import run_scale
from gateway.tools.bench.scenarios import Scenario

Runner = Callable[[Bench, Scenario], Awaitable[dict[str, Any]]]


async def scale_kind(bench: Bench, scenario: Scenario) -> dict[str, Any]:
    result = await run_scale(bench, scenario)
    print(f"bench: {scenario.name}: {scale_line(result)}", flush=True)
    return {scenario.name: result}


KINDS: dict[str, Runner] = {"relay": run_relay, "scale": scale_kind}


async def run_scenarios(bench: Bench, chosen: Sequence[Scenario]) -> dict[str, Any]:
    await bench.wait_for_simulators()
    results: dict[str, Any] = {}
    for scenario in chosen:
        print(f"bench: {scenario.name}: {scenario.description}", flush=True)
        results.update(await KINDS[scenario.kind](bench, scenario))
    return results
