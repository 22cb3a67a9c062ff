"""The runs of each answer of a turn in GET /turns/{id}: every stored run (retries), and the
one the provider's history uses (gateway/turns/runs.py)."""

from __future__ import annotations

from collections.abc import Mapping

from gateway.api.schemas import RunOut, TurnState
from gateway.turns.runs import history_run
from storage import UNAVAILABLE_ERRORS, Pool, Q


async def add_runs(pool: Pool, state: TurnState) -> None:
    try:
        rows = await Q.turn_runs.fetch(pool, turn_id=state.turn_id)
        labels = await _labels(pool, state) if state.blind else {}
    except UNAVAILABLE_ERRORS:
        return  # a live turn's state is known without the database: shown without its runs
    picked: Mapping[str, int] = (rows[0]["picked_runs"] if rows else None) or {}
    by_provider: dict[str, list[Mapping]] = {}
    for row in rows:
        if row["id"] is not None:
            by_provider.setdefault(row["provider"], []).append(row)
    # A sealed blind turn's entries name labels only (the turn's record maps them); its runs
    # keep them hidden (no model).
    for entry in state.providers:
        provider = entry.provider or labels.get(entry.label or "")
        runs = by_provider.get(provider or "", [])
        entry.runs = [
            RunOut(
                run=r["run"],
                message_id=r["id"],
                status=r["status"],
                model=r["model"] if entry.provider is not None else None,
                created_at=r["created_at"],
            )
            for r in runs
        ]
        entry.run = history_run(runs, picked.get(provider or ""))


async def _labels(pool: Pool, state: TurnState) -> dict[str, str]:
    row = await Q.get_turn.fetchrow(pool, id=state.turn_id)
    entries = row["providers"] if row is not None else []
    return {e["label"]: e["provider"] for e in entries if e.get("label")}
