"""The providers, health and readiness."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class ProviderInfo(BaseModel):
    name: str
    display_name: str
    model: str
    models: list[str] = Field(
        default_factory=list, description="Models to offer by name: the default first"
    )
    simulated: bool
    health: Literal["ok", "degraded", "down", "unknown"]
    detail: str | None = None


class Health(BaseModel):
    status: Literal["ok", "degraded"]
    database: Literal["ok", "unavailable"]


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unavailable"]
    writer: Literal["ok", "backed_up"]  # its queue at 90 % of WRITER_QUEUE or more
    draining: bool  # shutting down: no new turns
