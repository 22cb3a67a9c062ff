"""Model ids: a provider with an optional model, or ``multichat`` for a fan-out.

* ``claude``: that provider with its configured model; ``claude:claude-haiku-4-5`` pins one
  (simulator knobs ride on it as on the native API: ``claude:m+tokens=20``).
* ``multichat``: every enabled provider, one choice each; ``multichat:claude,gemini`` those,
  in that order, each entry a model id of its own (``multichat:claude:claude-haiku-4-5,grok``).
  A comma inside a pinned model's knobs (``+tokens=5,gap=0``) stays with that model: a new
  entry starts only where a provider's name does.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from providers import Provider

FAN_OUT = "multichat"
STARTED = int(time.time())  # the "created" of every listed model: when this process started


@dataclass(frozen=True, slots=True)
class ModelChoice:
    """What a model id asks of a turn: its ``models`` (None: every provider), and whether the
    answers come back as one choice per provider."""

    models: list[str] | None
    fan_out: bool


def parse_model(model: str, known: Collection[str]) -> ModelChoice:
    model = model.strip()
    if model == FAN_OUT:
        return ModelChoice(None, True)
    if model.startswith(FAN_OUT + ":"):
        return ModelChoice(split_entries(model[len(FAN_OUT) + 1 :], known), True)
    return ModelChoice([model], False)


def split_entries(listing: str, known: Collection[str]) -> list[str]:
    entries: list[str] = []
    for piece in listing.split(","):
        head = piece.partition(":")[0].strip()
        if entries and head not in known:
            entries[-1] += "," + piece  # a comma of the previous model's knobs
        elif piece.strip():
            entries.append(piece.strip())
    return entries


def model_object(model_id: str, owner: str, **extra) -> dict:
    return {"id": model_id, "object": "model", "created": STARTED, "owned_by": owner, **extra}


def listed_models(providers: Mapping[str, Provider]) -> list[dict]:
    """Each enabled provider by name and pinned to its configured model, then the fan-out."""
    models = []
    for name, provider in providers.items():
        config = provider.config
        extra = {"provider": name, "model": config.model, "simulated": config.simulated}
        models.append(model_object(name, name, **extra))
        models.append(model_object(f"{name}:{config.model}", name, **extra))
    models.append(model_object(FAN_OUT, FAN_OUT, providers=list(providers)))
    return models


def find_model(model_id: str, providers: Mapping[str, Provider]) -> dict | None:
    """A listed model, or any pin or fan-out of known providers (a pin is not checked
    upstream: the provider says whether it knows the model when it is asked)."""
    for model in listed_models(providers):
        if model["id"] == model_id:
            return model
    choice = parse_model(model_id, providers)
    entries = choice.models or []
    names = [entry.partition(":")[0].strip() for entry in entries]
    if not names or any(name not in providers for name in names):
        return None
    if choice.fan_out:
        return model_object(model_id, FAN_OUT, providers=names)
    name, _, pinned = model_id.partition(":")
    config = providers[name].config
    return model_object(model_id, name, provider=name, model=pinned, simulated=config.simulated)
