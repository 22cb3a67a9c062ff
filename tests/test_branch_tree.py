"""The tree of turns and the runs of an answer, as pure functions: the path on screen, where
it branches, the leaf a switch goes to, and which run the history uses."""

from __future__ import annotations

from gateway.turns.runs import history_run, shown_run
from gateway.turns.tree import Tree

# a - b - c        b2 edits b, c2 continues b2, a2 edits a
#   \ b2 - c2
# a2
TURNS = [("a", None), ("b", "a"), ("c", "b"), ("b2", "a"), ("c2", "b2"), ("a2", None)]


def test_the_path_goes_to_the_stored_leaf_or_through_a_turn_to_its_newest_leaf():
    tree = Tree(TURNS)
    assert tree.current_path("c") == ["a", "b", "c"]
    assert tree.current_path("c", through="b2") == ["a", "b2", "c2"]
    assert tree.current_path("c", through="a") == ["a", "b2", "c2"], "the newest child each time"
    assert tree.current_path(None) == ["a2"], "nothing stored: the newest turn's path"
    assert tree.current_path("gone") == ["a2"]
    assert Tree([]).current_path(None) == []


def test_each_turn_knows_its_siblings_and_its_place_among_them():
    tree = Tree(TURNS)
    assert tree.branch("b2").index == 1 and tree.branch("b2").siblings == ("b", "b2")
    assert tree.branch("a").siblings == ("a", "a2") and tree.branch("a").count == 2
    assert tree.branch("c").count == 1
    assert tree.leaf_below("b") == "c" and tree.leaf_below("c2") == "c2"


def run(n: int, status: str, text: bool = True) -> dict:
    return {"run": n, "status": status, "has_text": text}


def test_the_history_uses_the_picked_run_else_the_latest_complete_one():
    runs = [run(0, "complete"), run(1, "complete"), run(2, "failed")]
    assert history_run(runs, None) == 1
    assert history_run(runs, 0) == 0
    assert history_run(runs, 2) == 2, "a picked run is used even when it failed"
    assert history_run(runs, 9) == 1, "a pick of no run is no pick"
    assert history_run([run(0, "failed"), run(1, "cancelled")], None) == 1
    assert history_run([run(0, "failed"), run(1, "cancelled", text=False)], None) is None
    assert shown_run(runs, None) == 2 and shown_run(runs, 0) == 0 and shown_run([], None) is None
