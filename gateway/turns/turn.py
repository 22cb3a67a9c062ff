"""A turn: one prompt asked of several providers, once its prompt is stored.

What clients can know of a turn, live or long finished, is a ``TurnSnapshot``: the live one
comes from memory, a finished one from the database (``gateway.turns.replay``), same shape.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.turns.events import reveal_data, turn_data
from gateway.turns.fuse.state import FUSE, FuseState, providers_only
from gateway.turns.log import EventLog, LegState
from gateway.turns.turn_settings import TurnSettings


@dataclass(eq=False, slots=True)
class Turn:
    id: str
    conversation_id: int
    user_message_id: int
    legs: dict[str, LegState]
    log: EventLog
    owner: int = 0  # the client key that started it; 0 in open mode
    cost_usd: float | None = None  # what its answers cost so far, retries included
    settings: TurnSettings = TurnSettings()  # as asked; a retry uses them again

    @property
    def ended(self) -> bool:
        return self.log.ended

    def turn_event_data(self) -> dict:
        return turn_data(
            self.id,
            self.conversation_id,
            self.user_message_id,
            (leg.entry() for leg in providers_only(self.legs).values()),
        )

    def reveal(self) -> bool:
        """After a vote: tell the open stream who each label was. Not once every leg is
        finished: the end's id is then already taken (and stored), and nothing may follow it."""
        if all(leg.finished for leg in self.legs.values()):
            return False
        legs = providers_only(self.legs).values()
        self.log.publish("reveal", reveal_data(self.id, [leg.entry() for leg in legs]))
        return True

    def snapshot(self) -> TurnSnapshot:
        return TurnSnapshot(
            turn_id=self.id,
            conversation_id=self.conversation_id,
            user_message_id=self.user_message_id,
            status="finished" if self.ended else "running",
            providers=[
                ProviderSnapshot(
                    leg.provider, leg.model, leg.simulated, leg.status, leg.message_id, leg.label
                )
                for leg in providers_only(self.legs).values()
            ],
            cost_usd=self.cost_usd,
            settings=self.settings,
            fusion=fusion_snapshot(self.legs.get(FUSE)),
        )


@dataclass(frozen=True, slots=True)
class ProviderSnapshot:
    provider: str
    model: str
    simulated: bool
    status: str
    message_id: int | None
    label: str | None = None  # a blind turn's


@dataclass(frozen=True, slots=True)
class FusionSnapshot:
    """A turn's latest fusion: its judge, the answers it drew on and (once done) its text."""

    judge: str
    model: str
    status: str
    message_id: int | None
    fused_from: tuple[int, ...]
    content: str | None


def fusion_snapshot(leg: LegState | None) -> FusionSnapshot | None:
    if not isinstance(leg, FuseState):
        return None
    content = leg.done["content"] if leg.done is not None else None
    return FusionSnapshot(leg.judge, leg.model, leg.status, leg.message_id, leg.fused_from, content)


@dataclass(frozen=True, slots=True)
class TurnSnapshot:
    turn_id: str
    conversation_id: int
    user_message_id: int | None
    status: str  # running | finished | interrupted
    providers: list[ProviderSnapshot]
    cost_usd: float | None = None
    settings: TurnSettings = TurnSettings()
    fusion: FusionSnapshot | None = None

    @property
    def blind(self) -> bool:
        return any(p.label is not None for p in self.providers)
