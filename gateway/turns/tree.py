"""A conversation as a tree of turns (migration 0014): each turn continues its parent, and an
edited prompt starts a sibling of the turn it edits. What is on screen is one path, from a
first turn down to a leaf; the conversation stores that leaf (its current turn).

Pure functions over the conversation's turns, given oldest first as (id, parent id) pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Parent:
    """The turn a new turn continues, when the caller says (an edit): None, a first turn."""

    turn_id: str | None


@dataclass(frozen=True, slots=True)
class Branch:
    """Where a turn stands among its siblings (the turns that continue the same parent)."""

    index: int  # 0-based, oldest first
    count: int
    siblings: tuple[str, ...]  # every sibling's id, itself included, oldest first


class Tree:
    def __init__(self, turns: Iterable[tuple[str, str | None]]) -> None:
        self.parent: dict[str, str | None] = {}
        self.children: dict[str | None, list[str]] = {}  # None: the first turns
        for turn_id, parent_id in turns:
            self.parent[turn_id] = parent_id
            self.children.setdefault(parent_id, []).append(turn_id)

    def __contains__(self, turn_id: object) -> bool:
        return turn_id in self.parent

    def leaf_below(self, turn_id: str) -> str:
        """The leaf reached from a turn by its newest child, then that one's, and so on: a
        branch opened by its first turn shows where it went last."""
        seen = {turn_id}
        while kids := self.children.get(turn_id):
            turn_id = kids[-1]
            if turn_id in seen:  # a cycle cannot be stored, but a loop must never hang
                break
            seen.add(turn_id)
        return turn_id

    def path_to(self, turn_id: str) -> list[str]:
        """The turns from a first one down to ``turn_id``, in order."""
        path: list[str] = []
        at: str | None = turn_id
        while at is not None and at in self.parent and at not in path:
            path.append(at)
            at = self.parent[at]
        return path[::-1]

    def current_path(self, current: str | None, through: str | None = None) -> list[str]:
        """The path on screen: through ``through`` if given (a view of another branch), else
        to the stored current leaf; with neither known, to the newest turn's leaf."""
        start = next((t for t in (through, current) if t in self.parent), None)
        if start is None:
            if not self.parent:
                return []
            start = next(reversed(self.parent))
        return self.path_to(self.leaf_below(start))

    def branch(self, turn_id: str) -> Branch:
        siblings = self.children.get(self.parent.get(turn_id), [turn_id])
        return Branch(siblings.index(turn_id), len(siblings), tuple(siblings))


def off_path(turns: Sequence[str], path: Sequence[str]) -> list[str]:
    """The turns of other branches, in their order."""
    on = set(path)
    return [t for t in turns if t not in on]
