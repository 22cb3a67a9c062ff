"""The turn domain: one prompt, one leg per provider, one merged and resumable event stream.

No HTTP here. What this package offers:

* ``TurnRegistry``: not from here but from ``gateway.turns.registry``, which puts the
  collaborators together (and, with Redis, the bus, whose mirrors import this package's
  event log: importing it here would make the two packages import each other).
* ``Turn`` and ``TurnSnapshot`` (``turn``): a stored turn and what clients may know of it.
* ``EventLog``, ``LegState`` (``log``): a turn's encoded events and the listeners reading them.
* ``run_leg`` (``leg``): one provider answering, its text relayed as it arrives.
* ``StoredTurn`` (``replay``): a finished turn rebuilt from PostgreSQL, same events, same ids.
* ``Rerun`` (``reruns.choice``): what a retry or an added provider started in a turn.
* ``build_threads`` (``context``): each provider's own view of the conversation.
* ``LeaseKeeper`` (``leases``): whose turns are still running, across gateways.
* The domain errors (``errors``), which ``gateway.api`` maps to status codes.
* The SSE encoding of events (``events``).
"""

from gateway.turns.context import build_threads
from gateway.turns.errors import (
    Conflict,
    InvalidChoice,
    NotFound,
    PromptTooLong,
    ShuttingDown,
    TooBusy,
    TurnError,
)
from gateway.turns.events import delta_bytes, delta_prefix, event_bytes, retry_bytes
from gateway.turns.leases import LEASE_SECONDS, LeaseKeeper
from gateway.turns.leg import Leg, LegResult, run_leg
from gateway.turns.log import EventLog, LegState, Listener
from gateway.turns.replay import StoredTurn, answer_error, done_from_row, load_stored_turn
from gateway.turns.reruns.choice import Rerun
from gateway.turns.turn import ProviderSnapshot, Turn, TurnSnapshot

__all__ = [
    "LEASE_SECONDS",
    "Conflict",
    "EventLog",
    "InvalidChoice",
    "LeaseKeeper",
    "Leg",
    "LegResult",
    "LegState",
    "Listener",
    "NotFound",
    "PromptTooLong",
    "Rerun",
    "ProviderSnapshot",
    "ShuttingDown",
    "StoredTurn",
    "TooBusy",
    "Turn",
    "TurnError",
    "TurnSnapshot",
    "answer_error",
    "build_threads",
    "delta_bytes",
    "delta_prefix",
    "done_from_row",
    "event_bytes",
    "load_stored_turn",
    "retry_bytes",
    "run_leg",
]
