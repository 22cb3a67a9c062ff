"""The house has no import circle, not even one Python tolerates (an import inside a function,
under ``TYPE_CHECKING``, or of a package whose ``__init__`` is still running), and
``providers`` and ``storage`` never import ``gateway``.

Every ``import`` statement of every module of gateway/, providers/ and storage/ counts, wherever
it stands in the module: a circle of ideas is a circle even when the interpreter is spared it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from tests.support.paths import ROOT

PACKAGES = ("gateway", "providers", "storage")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


def imported(name: str, path: Path, known: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """The first-party modules ``name`` imports anywhere in its text, with their lines.

    ``from package import name`` reads the package's namespace: it imports the package (its
    ``__init__``), and the submodule too when ``name`` is one; ``import package.module`` and
    ``from package.module import name`` need only that module. So a module of a package whose
    ``__init__`` imports it back must name its siblings by their own modules."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield target, node.lineno
            for alias in node.names:
                if (submodule := f"{target}.{alias.name}") in known:
                    yield submodule, node.lineno


def packages_run(importer: str, target: str, known: dict[str, Path]) -> list[str]:
    """The packages whose ``__init__`` importing ``target`` runs, beyond the importer's own
    (those are running already): importing ``a.b.c`` from outside ``a.b`` runs ``a.b``."""
    own = {".".join(importer.split(".")[:n]) for n in range(1, importer.count(".") + 2)}
    parts = target.split(".")
    return [
        package
        for n in range(1, len(parts))
        if (package := ".".join(parts[:n])) not in own and package in known
    ]


def graph() -> dict[str, dict[str, int]]:
    known = modules()
    edges: dict[str, dict[str, int]] = {name: {} for name in known}
    for name, path in known.items():
        for target, line in imported(name, path, known):
            if target.split(".")[0] in PACKAGES and target != name:
                assert target in known, f"{name}:{line} imports {target}, which does not exist"
                edges[name].setdefault(target, line)
                for package in packages_run(name, target, known):
                    if package != name:
                        edges[name].setdefault(package, line)
    return edges


def circles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """One circle per strongly connected group of modules (Tarjan), as a path through it."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [path_through(group, edges) for group in groups]


def path_through(group: list[str], edges: dict[str, dict[str, int]]) -> list[str]:
    """A circle inside a strongly connected group, from its first member back to it."""
    start, members = group[0], set(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for target in edges[node]:
            if target == start:
                return paths[node] + [start]
            if target in members and target not in paths:
                paths[target] = paths[node] + [target]
                queue.append(target)
    return group


def described(circle: list[str], edges: dict[str, dict[str, int]]) -> str:
    return (
        " -> ".join(f"{a} (line {edges[a][b]})" for a, b in zip(circle, circle[1:], strict=False))
        + f" -> {circle[-1]}"
    )


def test_no_import_circle_at_all():
    edges = graph()
    found = [described(c, edges) for c in circles(edges)]
    assert found == [], "import circles:\n" + "\n".join(found)


def test_providers_and_storage_never_import_the_gateway():
    edges = graph()
    wrong = [
        f"{name} imports {target} (line {line})"
        for name, targets in edges.items()
        if name.split(".")[0] in ("providers", "storage")
        for target, line in targets.items()
        if target.split(".")[0] == "gateway"
    ]
    assert wrong == []


def test_importing_a_module_of_another_package_runs_that_package():
    known = dict.fromkeys(["a", "a.b", "a.b.c", "a.b.c.d", "a.e"], Path("x.py"))
    assert packages_run("a.e", "a.b.c.d", known) == ["a.b", "a.b.c"]
    assert packages_run("a.b.c.d", "a.b.c", known) == []


def test_the_finder_sees_every_kind_of_import(tmp_path):
    """The walk counts imports in functions, under TYPE_CHECKING and relative ones: a circle
    made only of such imports is found."""
    edges = {"a": {"b": 3}, "b": {"c": 9}, "c": {"a": 1}, "d": {"a": 2}}
    assert circles(edges) == [["a", "b", "c", "a"]]
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from gateway.metrics import Metrics\n"
        "def later():\n    import gateway.turns.registry\n"
        "from . import events\nfrom .log import EventLog\n"
    )
    path = tmp_path / "module.py"
    path.write_text(source)
    known = dict.fromkeys(
        ["gateway.metrics", "gateway.turns.registry", "gateway.turns.events", "gateway.turns.log"],
        path,
    )
    found = {target for target, _ in imported("gateway.turns.thing", path, known)}
    assert found == {
        "typing",
        "gateway.turns",  # `from . import events` reads the package too
        "gateway.metrics",
        "gateway.turns.registry",
        "gateway.turns.events",
        "gateway.turns.log",
    }


def test_no_test_module_imports_another():
    """Shared test code lives in tests/support and the conftest files, never in a test module:
    importing one runs its module-level fixtures and parametrisations a second time."""
    wrong = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            for target in targets:
                if target.split(".")[-1].startswith("test_") or target in (
                    "tests",
                    "tests.browser",
                ):
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {target}")
    assert wrong == []
