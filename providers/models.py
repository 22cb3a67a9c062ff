"""Which model a client may pin: one grammar, an optional allow-list, checked before any call.

A pinned model travels to the provider in a request body, and for Gemini in the URL path: a
name like ``x/../../v1/tunedModels#`` would call another endpoint with the operator's key.
So every pinned name matches ``[A-Za-z0-9._:-]+`` with no ``..``; the simulators' knobs
(``gpt-5.5+tokens=50,gap=5``) are accepted only for a simulated provider; and when the
operator lists ``<PROVIDER>_MODELS``, only those (and the configured default) may be pinned.
The adapters check again before they build a request, so no path skips the rule.
"""

from __future__ import annotations

import re
from typing import Protocol

MODEL_NAME = re.compile(r"[A-Za-z0-9._:-]+")
KNOBS = re.compile(r"[A-Za-z0-9._=, -]*")  # providers/simulators/knobs.py's grammar, no more
# The same rule as regular expressions for a JSON Schema (no lookaround, which not every
# dialect has): a name with no "..", then simulator knobs.
NAME_PATTERN = r"(?:\.|\.?(?:[A-Za-z0-9_:-]+\.?)+)"
KNOBS_PATTERN = r"(?:\+[A-Za-z0-9._=, -]*)"
KNOB_SEPARATOR = "+"
MAX_MODEL_CHARS = 200
RULE = "a model name is letters, digits, '.', '_', ':' and '-' only, with no '..'"


class PinRules(Protocol):
    """What the rule reads of a provider's config (``providers.base.ProviderConfig``)."""

    name: str
    model: str
    simulated: bool
    models: tuple[str, ...]


class InvalidModel(ValueError):
    """A pinned model this provider will not be called with; the message names the rule."""


def is_model_name(name: str) -> bool:
    return len(name) <= MAX_MODEL_CHARS and bool(MODEL_NAME.fullmatch(name)) and ".." not in name


def check_model(config: PinRules, model: str) -> str:
    """``model`` if a client may pin it for ``config``'s provider; raises InvalidModel."""
    if model == config.model:
        return model  # the operator's own choice
    name, separator, _ = check_grammar(config.name, model)
    if separator and not config.simulated:
        raise InvalidModel(
            f"{config.name}: simulator knobs ('{KNOB_SEPARATOR}…') are for simulated providers only"
        )
    if config.models and name not in config.models:
        allowed = ", ".join(config.models)
        raise InvalidModel(
            f"{config.name}: {shown(name)} is not one of the models this gateway offers"
            f" ({config.name.upper()}_MODELS: {allowed})"
        )
    return model


def check_grammar(provider: str, model: str) -> tuple[str, str, str]:
    """The name, the separator and the knobs of a model that is safe to send anywhere (a URL
    path included); raises InvalidModel. What the adapters check before every request."""
    name, separator, knobs = model.partition(KNOB_SEPARATOR)
    if not is_model_name(name):
        raise InvalidModel(f"{provider}: {shown(name)} is not a model name: {RULE}")
    if separator and (len(model) > MAX_MODEL_CHARS or not KNOBS.fullmatch(knobs)):
        raise InvalidModel(
            f"{provider}: simulator knobs are name=value pairs joined by commas"
            " (letters, digits, '.', '_', '-')"
        )
    return name, separator, knobs


def shown(name: str) -> str:
    """A name for an error message: quoted, and short."""
    return repr(name if len(name) <= 60 else name[:57] + "...")
