"""A scenario's figures: rounds pooled, and what the gateway added over the direct baseline."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from gateway.tools.bench.measure import KB
from gateway.tools.bench.rounds import GatewayRound
from gateway.tools.bench.scenarios import Scenario
from gateway.tools.loadtest import LoadReport, Stats


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
    floor: list[GatewayRound] | None = None,
) -> dict[str, Any]:
    """``floor``: the same scenario's rounds through nginx, when it ran."""
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
        else sum(max(e - s, 0) for s, e in zip(stored, expected, strict=True))  # type: ignore[misc,operator]  # no None: checked above
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
        # saturation: how much of what the simulators deliver directly the gateway relays
        "relayed_percent_of_direct": round(
            100 * gateway["tokens_per_s"] / direct["tokens_per_s"], 1
        )
        if direct["tokens_per_s"] and gateway["tokens_per_s"] is not None
        else None,
        "tokens_vs_direct": ratio(gateway["tokens_per_s"], direct["tokens_per_s"]),
        "relayed_tokens": tokens,
        "gateway_cpu_s": round(cpu, 3),
        "cpu_us_per_token": round(cpu * 1e6 / tokens, 2) if tokens else None,
        **user_and_system(rounds, tokens, "cpu"),
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
    if floor:
        derived.update(floor_figures(floor, derived, direct))
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


def floor_figures(
    rounds: list[GatewayRound], gateway: dict[str, Any], direct: dict[str, Any]
) -> dict[str, Any]:
    """nginx's figures in the same scenario, and the gateway's as ratios to them."""
    floor = combine([r.report for r in rounds])
    tokens = floor["tokens"]
    cpu = sum(r.cpu_s for r in rounds)
    wall = sum(r.wall_s for r in rounds)
    nginx_cpu = round(cpu * 1e6 / tokens, 2) if tokens else None
    ttft = floor["ttft_ms"]["all"]
    return {
        "nginx_cpu_us_per_token": nginx_cpu,
        **user_and_system(rounds, tokens, "nginx_cpu"),
        "nginx_ttft_p50_ms": ttft["p50"],
        "nginx_ttft_p99_ms": ttft["p99"],
        "nginx_tokens_per_s": floor["tokens_per_s"],
        "nginx_core_busy_percent": round(100 * cpu / wall, 1) if wall else None,
        "nginx_cpu_wait_percent": round(100 * sum(r.cpu_wait_s for r in rounds) / wall, 1)
        if wall
        else None,
        "nginx_errors": floor["error_count"],
        "nginx_tokens_vs_direct": ratio(floor["tokens_per_s"], direct["tokens_per_s"]),
        "cpu_per_token_vs_nginx": ratio(gateway["cpu_us_per_token"], nginx_cpu),
        "ttft_p50_vs_nginx": ratio(gateway["gateway_ttft_p50_ms"], ttft["p50"]),
        "ttft_p50_over_nginx_ms": round(gateway["gateway_ttft_p50_ms"] - ttft["p50"], 3)
        if gateway["gateway_ttft_p50_ms"] is not None and ttft["p50"] is not None
        else None,
    }


def user_and_system(rounds: list[GatewayRound], tokens: int, prefix: str) -> dict[str, Any]:
    """CPU per token split into the process's own code and the kernel's work for it."""
    user = sum(r.user_s for r in rounds)
    system = sum(r.system_s for r in rounds)
    return {
        f"{prefix}_user_us_per_token": round(user * 1e6 / tokens, 2) if tokens else None,
        f"{prefix}_system_us_per_token": round(system * 1e6 / tokens, 2) if tokens else None,
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 2)
