"""A turn: one prompt asked of several providers, once its prompt is stored.

What clients can know of a turn, live or long finished, is a ``TurnSnapshot``: the live one
comes from memory, a finished one from the database (``gateway.turns.replay``), same shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.turns.events import turn_data
from gateway.turns.log import EventLog, LegState


@dataclass(eq=False, slots=True)
class Turn:
    id: str
    conversation_id: int
    user_message_id: int
    legs: dict[str, LegState]
    log: EventLog
    owner: int = 0  # the client key that started it; 0 in open mode
    cost_usd: float | None = None  # what its answers cost so far, retries included

    @property
    def ended(self) -> bool:
        return self.log.ended

    def turn_event_data(self) -> dict:
        return turn_data(
            self.id,
            self.conversation_id,
            self.user_message_id,
            (
                {"provider": leg.provider, "model": leg.model, "simulated": leg.simulated}
                for leg in self.legs.values()
            ),
        )

    def snapshot(self) -> TurnSnapshot:
        return TurnSnapshot(
            turn_id=self.id,
            conversation_id=self.conversation_id,
            user_message_id=self.user_message_id,
            status="finished" if self.ended else "running",
            providers=[
                ProviderSnapshot(leg.provider, leg.model, leg.simulated, leg.status, leg.message_id)
                for leg in self.legs.values()
            ],
            cost_usd=self.cost_usd,
        )


@dataclass(frozen=True, slots=True)
class ProviderSnapshot:
    provider: str
    model: str
    simulated: bool
    status: str
    message_id: int | None


@dataclass(frozen=True, slots=True)
class TurnSnapshot:
    turn_id: str
    conversation_id: int
    user_message_id: int | None
    status: str  # running | finished | interrupted
    providers: list[ProviderSnapshot]
    cost_usd: float | None = None
