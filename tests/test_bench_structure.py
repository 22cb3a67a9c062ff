"""The benchmark package's shape: no module imports one that imports it back (not even under
TYPE_CHECKING), every scenario kind has a runner, and the floor's targets are ratios."""

from __future__ import annotations

import ast
from pathlib import Path

from gateway.tools.bench import TARGETS, scenarios
from gateway.tools.bench.run import KINDS

BENCH = Path(__file__).resolve().parents[1] / "gateway" / "tools" / "bench"
PACKAGE = "gateway.tools.bench"


def imports_within_the_package(path: Path) -> set[str]:
    """Every module of the package that ``path`` imports, wherever the import stands."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(PACKAGE):
            found.add(node.module.removeprefix(PACKAGE + ".") or "__init__")
        elif isinstance(node, ast.Import):
            found |= {
                a.name.removeprefix(PACKAGE + ".")
                for a in node.names
                if a.name.startswith(PACKAGE + ".")
            }
    return found


def test_no_module_of_the_benchmark_imports_one_that_imports_it_back():
    graph = {path.stem: imports_within_the_package(path) for path in BENCH.glob("*.py")}
    graph.pop("__init__")  # the package's face imports its modules; none imports it back
    for module in graph.values():
        module.discard("__init__")

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == target or (nxt not in seen and reaches(nxt, target, seen | {nxt})):
                return True
        return False

    circles = sorted(name for name in graph if reaches(name, name, {name}))
    assert not circles, f"import circles through: {circles}"


def test_every_scenario_kind_has_a_runner_and_the_floor_runs_where_the_targets_need_it():
    table = scenarios(quick=False)
    assert {s.kind for s in table.values()} <= set(KINDS)
    floored = {name for name, s in table.items() if s.floor}
    assert floored == {"overhead-1", "overhead-50", "fanout", "saturation"}
    ratio_targets = [t for t in TARGETS if t.metric.endswith("_vs_nginx") or "nginx" in t.metric]
    assert {t.scenario for t in ratio_targets} <= floored
    assert {t.scenario for t in ratio_targets} >= {"overhead-1", "overhead-50", "saturation"}
