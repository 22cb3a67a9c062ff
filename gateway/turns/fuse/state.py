"""A fusion as a leg of its turn: the leg named ``fuse`` (no provider has that name), whose
events say ``"provider": "fuse"`` and whose ``start`` and ``done`` also name the judge.

It sits among the turn's legs so that the turn's end waits for it, its ``done`` id is stored
with the others and the ``end`` lists its status; but it is not one of the turn's providers:
the ``turn`` event, the turn's row and a retry's choices leave it out (``providers_only``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.turns.events import done_data
from gateway.turns.log import LegState

FUSE = "fuse"


@dataclass(slots=True)
class FuseState(LegState):
    judge: str = ""  # the judge's provider (``model`` is its model)
    fused_from: tuple[int, ...] = ()  # the message ids of the answers it drew on

    def start_data(self) -> dict:
        # The sources too: a process that takes the turn over from its stream stores the
        # fusion cut short with them (gateway.bus.takeover).
        return {
            "provider": FUSE,
            "judge": self.judge,
            "model": self.model,
            "fused_from": list(self.fused_from),
        }


def providers_only(legs: Mapping[str, LegState]) -> dict[str, LegState]:
    """A turn's legs without its fusion: the providers it asked."""
    return {name: leg for name, leg in legs.items() if name != FUSE}


def fuse_done(answer: Mapping, message_id: int | None, error: dict | None) -> dict:
    """A fusion's ``done``, from the answer being stored or from its row."""
    return done_data(answer, message_id, error) | {
        "provider": FUSE,
        "judge": answer["judge_provider"],
        "fused_from": list(answer["fused_from"] or ()),
    }


def fusion_leg(row: Mapping, done: dict, done_event_id: int | None) -> FuseState:
    """A stored fusion as a finished leg (a turn rebuilt from the record)."""
    state = FuseState(
        FUSE,
        row["model"],
        False,
        status=row["status"],
        judge=row["judge_provider"] or "",
        fused_from=tuple(row["fused_from"] or ()),
    )
    state.message_id = row["id"]
    state.done = done
    state.done_event_id = done_event_id
    state.run = row["run"]
    state.cost_usd = row["cost_usd"]
    return state
