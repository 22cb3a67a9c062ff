"""Named queries from ``.sql`` files, run through asyncpg with bind parameters only.

A file holds blocks that start with ``-- name: some_query``; parameters are written ``:name``
and become ``$1, $2 ...`` once, at load time. A query is run against anything with asyncpg's
query methods (a pool or a connection): ``await Q.get_conversation.fetchrow(pool, id=7)``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

QUERY_DIR = Path(__file__).parent / "queries"

_NAME = re.compile(r"^--\s*name:\s*([a-z_][a-z0-9_]*)\s*$", re.MULTILINE)
# ":name" but not the "::type" of a cast, nor a word followed by a colon.
_PARAM = re.compile(r"(?<![:\w]):([a-zA-Z_]\w*)")


class Executor(Protocol):
    async def fetch(self, query: str, *args: Any) -> list: ...
    async def fetchrow(self, query: str, *args: Any) -> Any: ...
    async def fetchval(self, query: str, *args: Any) -> Any: ...
    async def execute(self, query: str, *args: Any) -> str: ...


@dataclass(frozen=True, slots=True)
class Query:
    name: str
    sql: str
    params: tuple[str, ...]

    def args(self, values: dict[str, Any]) -> list[Any]:
        missing = set(self.params) - values.keys()
        if missing:
            raise TypeError(f"query {self.name} needs {', '.join(sorted(missing))}")
        return [values[name] for name in self.params]

    async def fetch(self, db: Executor, **values: Any) -> list:
        return await db.fetch(self.sql, *self.args(values))

    async def fetchrow(self, db: Executor, **values: Any) -> Any:
        return await db.fetchrow(self.sql, *self.args(values))

    async def fetchval(self, db: Executor, **values: Any) -> Any:
        return await db.fetchval(self.sql, *self.args(values))

    async def execute(self, db: Executor, **values: Any) -> str:
        return await db.execute(self.sql, *self.args(values))


class Queries:
    """All named queries of a folder, as attributes."""

    def __init__(self, queries: dict[str, Query]) -> None:
        self._queries = queries

    def __getattr__(self, name: str) -> Query:
        try:
            return self._queries[name]
        except KeyError:
            raise AttributeError(f"no query named {name!r}") from None

    def __iter__(self) -> Iterator[Query]:
        return iter(self._queries.values())


def parse_queries(text: str) -> dict[str, Query]:
    queries: dict[str, Query] = {}
    matches = list(_NAME.finditer(text))
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        body = text[match.end() : following.start() if following else len(text)]
        queries[match.group(1)] = _compile(match.group(1), body)
    return queries


def _compile(name: str, body: str) -> Query:
    lines = [line for line in body.strip().splitlines() if not line.lstrip().startswith("--")]
    sql = "\n".join(lines).strip().rstrip(";")
    order: list[str] = []

    def number(match: re.Match[str]) -> str:
        if match.group(1) not in order:
            order.append(match.group(1))
        return f"${order.index(match.group(1)) + 1}"

    return Query(name, _PARAM.sub(number, sql), tuple(order))


def load_queries(directory: Path = QUERY_DIR) -> Queries:
    queries: dict[str, Query] = {}
    for path in sorted(directory.glob("*.sql")):
        for name, query in parse_queries(path.read_text(encoding="utf-8")).items():
            if name in queries:
                raise ValueError(f"query {name} is defined twice (again in {path.name})")
            queries[name] = query
    return Queries(queries)


# Loaded once at import: every module shares the same parsed queries.
Q = load_queries()
