"""The path of a conversation on screen (GET /conversations/{id}): which turns are on it, where
each branches, and which run of each answer is shown. See gateway/turns/tree.py and runs.py."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from gateway.api.errors import not_found
from gateway.api.schemas import BranchOut, PathTurn
from gateway.turns.runs import shown_run
from gateway.turns.tree import Tree
from storage import Pool, Q

TURN_ID = re.compile(r"[A-Za-z0-9_-]{22}")


async def load_tree(pool: Pool, conversation_id: int) -> tuple[Tree, str | None, dict]:
    """The conversation's tree, its stored current leaf, and each turn's picked runs."""
    rows = await Q.conversation_tree.fetch(pool, conversation_id=conversation_id)
    tree = Tree((row["id"], row["parent_id"]) for row in rows)
    current = rows[0]["current_turn_id"] if rows else None
    return tree, current, {row["id"]: row["picked_runs"] or {} for row in rows}


async def current_path(
    pool: Pool, conversation_id: int, rows: Sequence[Mapping], through: str | None = None
) -> list[PathTurn]:
    """``rows``: the conversation's messages (conversation_messages); ``through``: a turn the
    path must go through (``?path=``), else the stored one."""
    tree, current, picked = await load_tree(pool, conversation_id)
    if through is not None and (not TURN_ID.fullmatch(through) or through not in tree):
        raise not_found("turn")
    runs: dict[str, dict[str, list[Mapping]]] = {}  # turn -> key -> its runs, oldest first
    for row in rows:
        if row["role"] == "assistant" and row["turn_id"] is not None:
            by_key = runs.setdefault(row["turn_id"], {})
            by_key.setdefault(row["provider"], []).append(row)
    path = []
    for turn_id in tree.current_path(current, through):
        branch = tree.branch(turn_id)
        shown = {}
        for provider, answers in runs.get(turn_id, {}).items():
            run = shown_run(answers, picked[turn_id].get(provider))
            if run is not None:
                shown[key_of(answers[-1])] = run
        path.append(
            PathTurn(
                turn_id=turn_id,
                parent_id=tree.parent[turn_id],
                branch=BranchOut(index=branch.index, count=branch.count, siblings=branch.siblings),
                runs=shown,
            )
        )
    return path


def key_of(row: Mapping) -> str:
    """How the page names an answer: its provider, or its label while a blind turn is sealed."""
    hidden = row["label"] is not None and not row["revealed"]
    return row["label"] if hidden else row["provider"]


def on_path(messages: Sequence, path: Sequence[PathTurn]) -> list:
    turns = {entry.turn_id for entry in path}
    return [m for m in messages if m.turn_id is None or m.turn_id in turns]
