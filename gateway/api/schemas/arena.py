"""The arena: a vote on a blind turn, what it revealed, and the leaderboard."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.api.schemas.common import (
    Documented,
    Strict,
    Text,
    _left_out,
)


class VoteRequest(Strict):
    """Exactly one of the two (null is not a value)."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [{"required": ["winner"]}, {"required": ["ranking"]}],
            "examples": [{"winner": "A"}, {"ranking": ["B", "A", "C"]}, {"winner": "tie"}],
        }
    )

    winner: Annotated[Text, Field(max_length=20)] = Field(  # type: ignore[assignment]  # absent, not null: the document shows no null
        default=None,
        description="The best answer's label, 'tie' or 'all_bad'.",
        json_schema_extra=_left_out,
    )
    ranking: Annotated[
        list[Annotated[Text, Field(max_length=20)]], Documented(minItems=1, maxItems=26)
    ] = Field(
        default=None,  # type: ignore[arg-type]  # absent, not null: the document shows no null
        description="Labels, best first; unlisted ones rank below them all.",
        json_schema_extra=_left_out,
    )

    @model_validator(mode="after")
    def _one(self) -> VoteRequest:
        if (self.winner is None) == (self.ranking is None):
            raise ValueError("give either winner or ranking")
        if self.ranking is not None and not self.ranking:
            raise ValueError("ranking: name at least one label")
        return self


class RevealedLabel(BaseModel):
    label: str
    provider: str
    model: str
    simulated: bool


class Vote(BaseModel):
    turn_id: str
    verdict: Literal["winner", "tie", "all_bad", "ranking"]
    winner: str | None
    ranking: list[str] | None
    created_at: datetime
    revealed: list[RevealedLabel]


class Standing(BaseModel):
    provider: str
    model: str
    rank: int = Field(description="1 + how many rate higher: equal whole-point ratings tie")
    rating: float = Field(description="Bradley–Terry on the Elo scale: the models' mean is 1000")
    ci_low: float = Field(description="95 % bootstrap interval, low end")
    ci_high: float
    votes: int
    wins: int = Field(description="Pairwise: answers it beat")
    losses: int
    ties: int
    all_bad: int = Field(description="all_bad votes it was in (counted as ties)")
    win_rate: float | None = Field(description="Share of pairwise comparisons won, ties half")


class Leaderboard(BaseModel):
    since: datetime | None
    votes: int
    bootstrap_rounds: int
    standings: list[Standing]
