"""Retry and add: a turn's providers asked again, or new ones asked, on the turn's own stream.

A rerun appends to the turn's event log: new ``start``/``delta``/``done`` events for those
providers, ids going on from the last one. A turn still running takes them before its one
``end``; a finished turn (from memory, or rebuilt from PostgreSQL in any process, after a
restart too) is reopened, and a second ``end`` closes the new run. Each rerun answer is a new
row (``run`` 1, 2 ... for a retry; 0 for an added provider), so nothing stored is replaced.
This module holds the pure parts: which providers may be asked, and a stored turn as a live one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.turns.errors import (
    Conflict,
    InvalidChoice,
    NotFound,
    ShuttingDown,
    TooBusy,
    TurnError,
)
from gateway.turns.fuse.state import FUSE, fusion_leg, providers_only
from gateway.turns.log import EventLog, LegState
from gateway.turns.replay import StoredTurn, done_from_row, fusion_done_from_row
from gateway.turns.turn import Turn
from providers import InvalidModel, Provider, check_model


@dataclass(frozen=True, slots=True)
class Rerun:
    turn_id: str
    conversation_id: int
    after: int  # the last event id before the rerun's first: resume after it to follow the run
    providers: list[str]

    def as_dict(self) -> dict:
        return {
            "turn_id": self.turn_id,
            "conversation_id": self.conversation_id,
            "after": self.after,
            "providers": self.providers,
        }


# The domain errors a rerun asked of another process can answer with, by name (over Redis).
def error_reply(error: TurnError) -> dict:
    return {
        "error": type(error).__name__,
        "message": error.message,
        "unknown_provider": getattr(error, "unknown_provider", False),
    }


def error_from_reply(reply: dict) -> TurnError:
    kind, message = reply["error"], reply.get("message", "")
    if kind == "InvalidChoice":
        return InvalidChoice(message, unknown_provider=bool(reply.get("unknown_provider")))
    if kind == "NotFound":
        return NotFound("turn")
    if kind == "ShuttingDown":
        return ShuttingDown(message)
    if kind == "TooBusy":
        return TooBusy(message)
    return Conflict(message)


def choose_rerun(
    configured: Mapping[str, Provider],
    in_turn: Mapping[str, str],
    entries: Sequence[str],
    *,
    add: bool,
) -> list[tuple[Provider, str]]:
    """The providers to run and their models. ``in_turn`` maps each provider of the turn to
    its model. Retry takes only those; add only the others. An entry may pin a model."""
    if not entries:
        raise InvalidChoice("providers: name at least one provider")
    chosen: list[tuple[Provider, str]] = []
    for entry in entries:
        name, _, model = entry.partition(":")
        name, model = name.strip(), model.strip()
        provider = configured.get(name)
        if provider is None:
            known = ", ".join(configured)
            raise InvalidChoice(
                f"providers: unknown provider {name!r} (known: {known})", unknown_provider=True
            )
        if any(p is provider for p, _ in chosen):
            raise InvalidChoice(f"providers: {name!r} is listed twice")
        if add and name in in_turn:
            raise InvalidChoice(f"providers: {name!r} is already in this turn (retry it instead)")
        if not add and name not in in_turn:
            raise InvalidChoice(f"providers: {name!r} is not in this turn (add it instead)")
        model = pinned(provider, model, "providers") if model else in_turn.get(name, "")
        chosen.append((provider, model or provider.config.model))
    return chosen


def pinned(provider: Provider, model: str, field: str) -> str:
    """The model a client pinned (or the provider's default), if it may be: 422 otherwise."""
    if not model:
        return provider.config.model
    try:
        return check_model(provider.config, model)
    except InvalidModel as error:
        raise InvalidChoice(f"{field}: {error}") from None


def models_of(stored: StoredTurn) -> dict[str, str]:
    """Each provider of a stored turn and the model of its latest answer (or the one asked)."""
    return {
        entry["provider"]: (
            stored.answers[entry["provider"]]["model"]
            if entry["provider"] in stored.answers
            else entry["model"]
        )
        for entry in stored.row["providers"]
    }


def runs_of(stored: StoredTurn) -> dict[str, int]:
    """Each provider of a stored turn and the run of its latest answer (0: none yet), as
    ``turn_from_stored`` rebuilds its legs."""
    return {
        entry["provider"]: stored.answers[entry["provider"]]["run"]
        if entry["provider"] in stored.answers
        else 0
        for entry in stored.row["providers"]
    }


def turn_from_stored(stored: StoredTurn, log: EventLog) -> Turn:
    """A finished turn as a live one, each provider's state that of its latest answer."""
    row = stored.row
    done_ids = row["done_event_ids"] or {}
    legs: dict[str, LegState] = {}
    for entry in row["providers"]:
        name = entry["provider"]
        answer = stored.answers.get(name)
        state = LegState(name, entry["model"], entry["simulated"], label=entry.get("label"))
        if answer is not None:
            state.model = answer["model"]
            state.status = answer["status"]
            state.message_id = answer["id"]
            state.done = done_from_row(answer, state.label)
            state.done_event_id = done_ids.get(name)
            state.run = answer["run"]
        legs[name] = state
    if (fusion := stored.answers.get(FUSE)) is not None:  # its latest fusion, done
        legs[FUSE] = fusion_leg(fusion, fusion_done_from_row(fusion), done_ids.get(FUSE))
    return Turn(
        row["id"],
        row["conversation_id"],
        row["user_message_id"],
        legs,
        log,
        row["owner"],
        stored.cost_usd,
        stored.settings,
    )


def providers_entry(turn: Turn) -> list[dict]:
    """The turn's providers as its row lists them (the ``turn`` event of a replay)."""
    return [leg.entry() for leg in providers_only(turn.legs).values()]


def unblind_entries(labels: Mapping[str, str], entries: Sequence[str], *, add: bool) -> list[str]:
    """A blind turn's rerun names labels (``labels``: provider -> label); the providers they
    stand for. Nothing may be added to one: the new answer's name would be known."""
    if add:
        raise Conflict("a blind turn takes no new providers: their answers would not be blind")
    by_label = {label: provider for provider, label in labels.items()}
    unknown = [entry for entry in entries if entry not in by_label]
    if unknown:
        raise InvalidChoice(
            f"providers: a blind turn's retry names its labels ({', '.join(sorted(by_label))}),"
            f" not {', '.join(map(repr, unknown))}",
            unknown_provider=True,
        )
    return [by_label[entry] for entry in entries]
