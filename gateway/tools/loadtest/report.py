"""A run's report: the figures a streaming gateway is judged by, as a dict and as a table."""

from __future__ import annotations

from array import array
from dataclasses import dataclass, field
from typing import Any

from gateway.tools.loadtest.config import LoadConfig
from gateway.tools.loadtest.stats import NS_PER_MS, Stats, summarise


@dataclass
class LoadReport:
    config: LoadConfig
    elapsed: float
    cpu_seconds: float  # this process's user+sys time during the run
    stats: Stats
    summary: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.stats.turns_failed == 0 and self.stats.violations == 0

    def as_dict(self) -> dict[str, Any]:
        stats, config = self.stats, self.config
        elapsed = max(self.elapsed, 1e-9)
        every_ttft = array("q")
        every_gap = array("q")
        for samples in stats.ttft.values():
            every_ttft.extend(samples)
        for samples in stats.gaps.values():
            every_gap.extend(samples)
        return {
            "mode": config.mode,
            "url": config.simulator_url if config.direct else config.url,
            "clients": config.clients,
            "turns_per_client": config.turns,
            "duration_s": config.duration,
            "ramp_up_s": config.ramp_up,
            "providers": list(config.providers),
            "model_suffix": config.suffix(),
            "elapsed_s": round(self.elapsed, 3),
            "turns": {
                "started": stats.turns_started,
                "ok": stats.turns_ok,
                "failed": stats.turns_failed,
                "accepted": stats.turns_accepted,
            },
            "tokens": stats.deltas,
            "turns_per_s": round(stats.turns_ok / elapsed, 2),
            "tokens_per_s": round(stats.deltas / elapsed, 1),
            "ttft_ms": {
                "all": summarise(every_ttft),
                **{p: summarise(stats.ttft[p]) for p in config.providers},
            },
            "gap_ms": {
                "all": summarise(every_gap, (50, 99)),
                **{p: summarise(stats.gaps[p], (50, 99)) for p in config.providers},
            },
            "turn_ms": summarise(stats.turn_time, (50, 99)),
            "reported_upstream_ttft_ms": summarise(
                [round(ms * NS_PER_MS) for ms in stats.reported_ttft], (50, 99)
            ),
            "errors": dict(sorted(stats.errors.items())),
            "error_count": sum(stats.errors.values()),
            "violations": stats.violations,
            "violation_examples": stats.violation_examples,
            "peak_open_turns": stats.peak_open_turns,
            "client_cpu_s": round(self.cpu_seconds, 3),
            "client_cpu_percent": round(100.0 * self.cpu_seconds / elapsed, 1),
            "client_cpu_us_per_token": round(self.cpu_seconds * 1e6 / stats.deltas, 2)
            if stats.deltas
            else None,
        }


def format_table(report: dict[str, Any]) -> str:
    """The report as an aligned plain-text table."""

    def ms(summary: dict[str, Any], *points: str) -> str:
        return " / ".join("-" if summary.get(p) is None else f"{summary[p]:.2f}" for p in points)

    turns = report["turns"]
    rows = [
        ("mode", f"{report['mode']} -> {report['url']}"),
        ("clients", f"{report['clients']} (ramp-up {report['ramp_up_s']} s)"),
        ("providers", ", ".join(report["providers"]) + f" {report['model_suffix']}".rstrip()),
        ("elapsed", f"{report['elapsed_s']:.2f} s"),
        ("turns", f"{turns['ok']} ok, {turns['failed']} failed, {turns['started']} started"),
        ("turns/s", f"{report['turns_per_s']:,.2f}"),
        ("tokens", f"{report['tokens']:,} ({report['tokens_per_s']:,.0f}/s)"),
        ("TTFT ms p50/p95/p99", ms(report["ttft_ms"]["all"], "p50", "p95", "p99")),
    ]
    if len(report["providers"]) > 1:
        rows += [
            (f"  {p}", ms(report["ttft_ms"][p], "p50", "p95", "p99")) for p in report["providers"]
        ]
    rows += [
        ("gap ms p50/p99", ms(report["gap_ms"]["all"], "p50", "p99")),
        ("turn ms p50/p99", ms(report["turn_ms"], "p50", "p99")),
        ("gateway's ttft_ms p50/p99", ms(report["reported_upstream_ttft_ms"], "p50", "p99")),
        ("client CPU", f"{report['client_cpu_s']:.2f} s ({report['client_cpu_percent']}%)"),
        ("errors", str(report["error_count"]) if report["error_count"] else "none"),
    ]
    rows += [(f"  {kind}", str(count)) for kind, count in report["errors"].items()]
    width = max(len(name) for name, _ in rows)
    return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)
