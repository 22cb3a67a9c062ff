"""What a running gateway holds: settings, the pool, the providers, the turn engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import asyncpg
from starlette.requests import Request

from gateway.settings import Settings
from providers.base import Adapter, ProviderConfig

if TYPE_CHECKING:
    from gateway.engine import Engine


@dataclass
class Provider:
    config: ProviderConfig
    adapter: Adapter
    # Passive health from the most recent legs: True for an answer, False for a failure.
    recent: list[bool] = field(default_factory=list)

    def record(self, ok: bool) -> None:
        self.recent.append(ok)
        del self.recent[:-10]

    @property
    def health(self) -> str:
        if not self.recent:
            return "unknown"
        if not any(self.recent[-3:]):
            return "down"
        return "ok" if all(self.recent[-3:]) else "degraded"


@dataclass
class Runtime:
    settings: Settings
    pool: asyncpg.Pool
    providers: dict[str, Provider]
    engine: Engine | None = None

    async def before_delete(self, conversation_id: int) -> None:
        """Stop a conversation's running turns before its rows go."""
        if self.engine is not None:
            await self.engine.cancel_conversation(conversation_id)


def runtime(request: Request) -> Runtime:
    return request.app.state.runtime
