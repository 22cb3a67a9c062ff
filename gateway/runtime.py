"""What a running gateway holds: settings, the pool, the providers, the turn registry."""

from __future__ import annotations

from dataclasses import dataclass

import asyncpg
from starlette.requests import Request

from gateway.auth import Access
from gateway.settings import Settings
from gateway.turns import TurnRegistry
from providers import Provider


@dataclass
class Runtime:
    settings: Settings
    pool: asyncpg.Pool
    providers: dict[str, Provider]
    turns: TurnRegistry
    access: Access


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime
