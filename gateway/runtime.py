"""What a running gateway holds: settings, the pool, the providers, the turn registry."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from gateway.auth import Access
from gateway.settings import Settings
from gateway.turns.registry import TurnRegistry
from providers import Provider
from storage import Pool


@dataclass
class Runtime:
    settings: Settings
    pool: Pool
    providers: dict[str, Provider]
    turns: TurnRegistry
    access: Access


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime
