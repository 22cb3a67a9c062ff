"""The targets the benchmark judges, each against one figure of one scenario."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Target:
    name: str
    scenario: str
    metric: str  # a key of the scenario's "derived" figures
    limit: float
    higher_is_better: bool = False
    unit: str = ""


TARGETS = (
    # Issue 14's limits: per token, where nothing amortises (1 turn) and where it does.
    Target("gateway CPU per relayed token", "overhead-1", "cpu_us_per_token", 60, unit="µs"),
    Target("gateway CPU per relayed token", "overhead-50", "cpu_us_per_token", 30, unit="µs"),
    Target("gateway CPU per relayed token", "fanout", "cpu_us_per_token", 25, unit="µs"),
    Target("gateway CPU per relayed token", "throughput", "cpu_us_per_token", 50, unit="µs"),
    Target("added TTFT p50 at 1 turn", "overhead-1", "added_ttft_p50_ms", 1, unit="ms"),
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
    Target(
        "two gateways over one, relayed tokens/s",
        "scale",
        "two_over_one",
        1.7,
        higher_is_better=True,
        unit="×",
    ),
    Target(
        "extra CPU per token of a listener on another worker",
        "scale",
        "remote_listener_extra_us_per_token",
        10,
        unit="µs",
    ),
    Target("scale errors", "scale", "errors", 0),
    Target("scale answers not stored", "scale", "answers_missing", 0),
    Target(
        "tokens/s relayed, share of the direct run",
        "saturation",
        "relayed_percent_of_direct",
        90,
        higher_is_better=True,
        unit="%",
    ),
    Target("added TTFT p99 at saturation", "saturation", "added_ttft_p99_ms", 50, unit="ms"),
    Target("10,000 streams: errors", "streams-10k", "gateway_errors", 0),
    Target(
        "10,000 streams: memory per open upstream stream",
        "streams-10k",
        "rss_kb_per_stream_while_open",
        25,
        unit="KB",
    ),
    Target("10,000 streams: idle RSS", "streams-10k", "idle_rss_mb", 60, unit="MB"),
    Target("10,000 streams: answers not stored", "streams-10k", "answers_missing", 0),
)


def judge(results: dict[str, Any]) -> list[dict[str, Any]]:
    """Each target next to its measured value, for the scenarios that ran."""
    verdicts = []
    for target in TARGETS:
        scenario = results.get(target.scenario)
        if scenario is None or scenario.get("skipped"):
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
