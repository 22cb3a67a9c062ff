"""Shared pieces of the arena tests: what must not appear in a blind turn, and reading one."""

from __future__ import annotations

from collections.abc import Iterable

from providers import PROVIDERS

# Every name that would tell who answered: provider names, the names people know them by,
# the API flavours (the simulators' answers and errors use those) and the default models.
NAMES = sorted(
    {
        word.lower()
        for spec in PROVIDERS.values()
        for word in (spec.name, spec.display_name, spec.flavour, spec.model)
    }
)
# The keys a blind turn's data must never carry.
IDENTITY_KEYS = {"provider", "model", "simulated"}


def leaked_names(text: str, extra: Iterable[str] = ()) -> list[str]:
    lowered = text.lower()
    return [name for name in [*NAMES, *extra] if name.lower() in lowered]


def identity_keys(data: object) -> set[str]:
    """Every identity key anywhere in ``data`` with a value other than null."""
    found: set[str] = set()
    if isinstance(data, dict):
        for key, value in data.items():
            if key in IDENTITY_KEYS and value is not None:
                found.add(key)
            found |= identity_keys(value)
    elif isinstance(data, list):
        for item in data:
            found |= identity_keys(item)
    return found
