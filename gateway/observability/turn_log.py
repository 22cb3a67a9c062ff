"""The JSON line per finished turn (``LOG_FORMAT=json``): who answered, how, how fast."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from gateway.observability.records import LegRecord

if TYPE_CHECKING:
    from gateway.turns.turn import Turn

turn_log = logging.getLogger("multichat.turn")


def log_turn(turn: Turn, records: list[LegRecord], duration_ms: float) -> None:
    turn_log.info(
        "turn %s finished",
        turn.id,
        extra={
            "fields": {
                "event": "turn",
                "turn_id": turn.id,
                "conversation_id": turn.conversation_id,
                "providers": [r.provider for r in records],
                "statuses": {r.provider: r.status for r in records},
                "ttft_ms": {r.provider: r.ttft_ms for r in records},
                "tokens": {r.provider: r.tokens for r in records},
                "duration_ms": round(duration_ms, 3),
            }
        },
    )
