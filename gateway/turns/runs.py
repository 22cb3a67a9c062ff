"""Runs of one answer: each retry of a provider in a turn stores a new run (0, 1, 2 ...) and
keeps the others. Which run the provider's history uses: the one its user picked (stored on
the turn, migration 0014), else its latest complete one, else its latest cancelled one that has
text (the user saw it), as context.py reads them; none when every run failed. The page shows
the picked run, else the latest."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def history_run(runs: Sequence[Mapping], picked: int | None) -> int | None:
    """``runs``: one provider's answers in a turn, oldest first (``run``, ``status``,
    ``content``)."""
    if picked is not None and any(r["run"] == picked for r in runs):
        return picked
    for wanted in ("complete", "cancelled"):
        for row in reversed(runs):
            if row["status"] == wanted and (wanted == "complete" or row["has_text"]):
                return row["run"]
    return None


def shown_run(runs: Sequence[Mapping], picked: int | None) -> int | None:
    if picked is not None and any(r["run"] == picked for r in runs):
        return picked
    return runs[-1]["run"] if runs else None
