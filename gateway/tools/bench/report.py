"""The benchmark's report: the machine, the Markdown tables, the files written."""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path
from typing import Any

import orjson

# Above this share of a round spent waiting for a CPU, the report warns that the machine was busy.
NOISY_WAIT_PERCENT = 5.0


def one_line(derived: dict[str, Any]) -> str:
    return (
        f"added TTFT p50 {fmt(derived['added_ttft_p50_ms'])} ms, p99 "
        f"{fmt(derived['added_ttft_p99_ms'])} ms; {fmt(derived['cpu_us_per_token'])} µs CPU/token; "
        f"{fmt(derived['gateway_tokens_per_s'], 0)} tokens/s; errors {derived['gateway_errors']}"
    )


def floor_line(derived: dict[str, Any]) -> str:
    return (
        f"nginx (the floor) {fmt(derived['nginx_cpu_us_per_token'])} µs CPU/token, TTFT p50 "
        f"{fmt(derived['nginx_ttft_p50_ms'])} ms; the gateway: "
        f"{fmt(derived['cpu_per_token_vs_nginx'])}× its CPU per token, TTFT p50 "
        f"{fmt(derived['ttft_p50_over_nginx_ms'])} ms more"
    )


def scale_line(scale: dict[str, Any]) -> str:
    if scale.get("skipped"):
        return f"skipped: {scale['skipped']}"
    d = scale["derived"]
    return (
        f"{fmt(d['one_tokens_per_s'], 0)} tokens/s through one gateway, "
        f"{fmt(d['two_tokens_per_s'], 0)} through two ({fmt(d['two_over_one'])}×); a listener "
        f"on another worker adds {fmt(d['remote_listener_extra_us_per_token'])} µs CPU/token; "
        f"errors {d['errors']}"
    )


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
    lines += floor_table(result["scenarios"])
    costs = {
        name: scenario["derived"]["metrics_cost_us_per_token"]
        for name, scenario in result["scenarios"].items()
        if "metrics_cost_us_per_token" in scenario["derived"]
    }
    if costs:
        lines += [
            "",
            "What the metrics cost (BENCH_METRICS=compare: metrics on vs METRICS=off, rounds "
            "interleaved):",
            "",
            "| scenario | CPU per token, metrics on (µs) | metrics off (µs) | difference (µs) |",
            "|---|---|---|---|",
        ]
        for name, cost in costs.items():
            on = result["scenarios"][name]["derived"]["cpu_us_per_token"]
            off = result["scenarios"][f"{name} (metrics off)"]["derived"]["cpu_us_per_token"]
            lines.append(f"| {name} | {fmt(on, 2)} | {fmt(off, 2)} | {fmt(cost, 2)} |")
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
    if result.get("scale"):
        lines += scale_table(result["scale"])
    lines += ["", "| target | scenario | measured | limit | result |", "|---|---|---|---|---|"]
    for verdict in result["targets"]:
        unit = f" {verdict['unit']}" if verdict["unit"] else ""
        digits = 2 if verdict["unit"] in ("µs", "ms", "KB", "×") else 0
        outcome = "pass" if verdict["pass"] else "**miss**"
        if verdict["measured"] is None:
            outcome = "not measured"
        lines.append(
            f"| {verdict['target']} | {verdict['scenario']} "
            f"| {fmt(verdict['measured'], digits)}{unit} "
            f"| {verdict['comparison']} {fmt(verdict['limit'], limit_digits(verdict['limit']))}{unit} "
            f"| {outcome} |"
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


def floor_table(scenarios: dict[str, Any]) -> list[str]:
    """The gateway against nginx (the floor), per scenario where the floor ran."""
    rows = [
        (n, s["derived"]) for n, s in scenarios.items() if "nginx_cpu_us_per_token" in s["derived"]
    ]
    if not rows:
        return []
    lines = [
        "",
        "Against the floor: nginx relaying the same upstream streams (one process, unbuffered, "
        "on the gateway's core), in the same run:",
        "",
        "| scenario | direct tokens/s | nginx, gateway tokens/s (× direct) "
        "| nginx CPU per token (µs): user + kernel | gateway CPU per token (µs): user + kernel "
        "| gateway ÷ nginx | TTFT p50 nginx → gateway (ms) | gateway − nginx TTFT p50 (ms) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, d in rows:
        lines.append(
            f"| {name} | {fmt(d['direct_tokens_per_s'], 0)} "
            f"| {fmt(d['nginx_tokens_per_s'], 0)} ({fmt(d['nginx_tokens_vs_direct'])}), "
            f"{fmt(d['gateway_tokens_per_s'], 0)} ({fmt(d['tokens_vs_direct'])}) "
            f"| {fmt(d['nginx_cpu_us_per_token'], 1)}: {fmt(d.get('nginx_cpu_user_us_per_token'), 1)} "
            f"+ {fmt(d.get('nginx_cpu_system_us_per_token'), 1)} "
            f"| {fmt(d['cpu_us_per_token'], 1)}: {fmt(d.get('cpu_user_us_per_token'), 1)} "
            f"+ {fmt(d.get('cpu_system_us_per_token'), 1)} "
            f"| **{fmt(d['cpu_per_token_vs_nginx'])}×** "
            f"| {fmt(d['nginx_ttft_p50_ms'])} → {fmt(d['gateway_ttft_p50_ms'])} "
            f"| {fmt(d['ttft_p50_over_nginx_ms'])} |"
        )
    return lines


def scale_table(scale: dict[str, Any]) -> list[str]:
    if scale.get("skipped"):
        return ["", f"Scale-out (`scale`): skipped, {scale['skipped']}."]
    d = scale["derived"]
    lines = [
        "",
        f"Scale-out (`scale`): {scale['description']}. Every process shares the machine's "
        f"{d['cores']} cores (nothing pinned but the load side):",
        "",
        "| setup | relayed tokens/s | gateways' CPU per token (µs) | gateways' CPU "
        "| Redis CPU | simulators CPU | load generator CPU | TTFT p50 / p99 (ms) | errors "
        "| answers stored / expected |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    setups = [
        ("one gateway, no Redis", [scale["one"]]),
        ("two gateways + Redis, half the listeners elsewhere", [scale["two"]]),
        ("two gateways, listeners on the owner", scale["listeners_on_owner"]),
        ("two gateways, listeners on the other", scale["listeners_elsewhere"]),
    ]
    for label, rounds in setups:
        for f in rounds:
            lines.append(
                f"| {label} | {fmt(f['tokens_per_s'], 0)} | {fmt(f['cpu_us_per_token'], 1)} "
                f"| {fmt(f['gateways_cpu_percent'], 0)}% | {fmt(f['redis_cpu_percent'], 0)}% "
                f"| {fmt(f['simulators_cpu_percent'], 0)}% "
                f"| {fmt(f['load_generator_cpu_percent'], 0)}% "
                f"| {fmt(f['ttft_p50_ms'])} / {fmt(f['ttft_p99_ms'])} | {error_cell(f)} "
                f"| {fmt(f['answers_stored'], 0)} / {f['answers_expected']} |"
            )
    lines += [
        "",
        f"Two over one: {fmt(d['two_over_one'])}× the tokens/s, "
        f"{fmt(d.get('two_cpu_per_token_vs_one'))}× the CPU per token (gateways and Redis). "
        "A listener on another worker: "
        f"{fmt(d['remote_listeners_cpu_us_per_token'])} µs of gateway CPU per token against "
        f"{fmt(d['owner_listeners_cpu_us_per_token'])} on the owner, "
        f"{fmt(d['remote_listener_extra_us_per_token'])} µs more.",
    ]
    return lines


def limit_digits(limit: float) -> int:
    return 0 if float(limit).is_integer() else 1


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


def error_cell(figures: dict[str, Any]) -> str:
    """A round's errors, with their kinds when there are any: "3 (broken stream: timeout ×3)"."""
    kinds = figures.get("error_kinds") or {}
    if not kinds:
        return str(figures["errors"])
    return f"{figures['errors']} ({', '.join(f'{k} ×{n}' for k, n in kinds.items())})"
