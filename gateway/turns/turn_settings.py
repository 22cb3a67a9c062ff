"""A turn's own settings: a system prompt, parameters, per-provider overrides, and images.

No HTTP here: the API's request body builds one (so will the OpenAI-compatible API, from its
``temperature``, ``max_tokens``, ``reasoning_effort`` and ``image_url`` parts); the registry
stores it with the turn, hands each provider its ``CallSettings`` (the provider's overrides
over the turn's, over the provider's configuration), and a retry of the turn reads it back.
Whether a model can take a setting is its adapter's business: the answer says what it left
out (``settings_ignored``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from gateway.turns.errors import InvalidChoice
from providers import REASONING_LEVELS, CallSettings

MAX_TEMPERATURE = 2.0
MAX_OUTPUT_TOKENS = 1_000_000
PARAMS = ("temperature", "max_tokens", "reasoning")
NOTHING = CallSettings()


@dataclass(frozen=True, slots=True)
class TurnSettings:
    system: str | None = None
    params: CallSettings = NOTHING  # temperature, max_tokens, reasoning (never a system)
    # By provider name: what differs for it (a system prompt too); the rest is the turn's.
    provider_params: Mapping[str, CallSettings] = field(default_factory=dict)
    attachments: tuple[str, ...] = ()  # upload ids, in order

    def for_provider(self, name: str) -> CallSettings | None:
        """This provider's call settings; None when the turn sets nothing for it."""
        turn = CallSettings(
            system=self.system,
            temperature=self.params.temperature,
            max_tokens=self.params.max_tokens,
            reasoning=self.params.reasoning,
        )
        own = self.provider_params.get(name)
        chosen = own.over(turn) if own is not None else turn
        return None if chosen == NOTHING else chosen

    def check(self, known: Iterable[str], max_system_chars: int) -> TurnSettings:
        """These settings, or InvalidChoice naming the first that cannot be."""
        known = set(known)
        if self.system is not None and len(self.system) > max_system_chars:
            raise InvalidChoice(f"system: longer than {max_system_chars} characters")
        check_params("params", self.params)
        for name, params in self.provider_params.items():
            if name not in known:
                raise InvalidChoice(
                    f"provider_params: unknown provider {name!r} (known: {', '.join(sorted(known))})",
                    unknown_provider=True,
                )
            check_params(f"provider_params.{name}", params)
            if params.system is not None and len(params.system) > max_system_chars:
                raise InvalidChoice(
                    f"provider_params.{name}.system: longer than {max_system_chars} characters"
                )
        return self

    def as_json(self) -> dict[str, Any] | None:
        """How the turn's row keeps it (the attachments are kept as the prompt's images)."""
        stored: dict[str, Any] = {}
        if self.system is not None:
            stored["system"] = self.system
        if params := params_json(self.params):
            stored["params"] = params
        overrides = {name: params_json(p) for name, p in self.provider_params.items()}
        if overrides := {name: p for name, p in overrides.items() if p}:
            stored["provider_params"] = overrides
        return stored or None

    @classmethod
    def from_json(
        cls, stored: Mapping[str, Any] | None, attachments: Iterable[str] = ()
    ) -> TurnSettings:
        stored = stored or {}
        return cls(
            system=stored.get("system"),
            params=params_of(stored.get("params")),
            provider_params={
                name: params_of(p) for name, p in (stored.get("provider_params") or {}).items()
            },
            attachments=tuple(attachments),
        )

    def shown(self) -> dict[str, Any]:
        """What GET /turns/{id} and the conversation show: every field, null when unset."""
        stored = self.as_json() or {}
        return {
            "system": stored.get("system"),
            "params": stored.get("params") or {},
            "provider_params": stored.get("provider_params") or {},
            "attachments": [{"upload_id": id} for id in self.attachments],
        }


def check_params(where: str, params: CallSettings) -> None:
    temperature, max_tokens = params.temperature, params.max_tokens
    if temperature is not None and not 0 <= temperature <= MAX_TEMPERATURE:
        raise InvalidChoice(f"{where}.temperature: from 0 to {MAX_TEMPERATURE:g}")
    if max_tokens is not None and not 1 <= max_tokens <= MAX_OUTPUT_TOKENS:
        raise InvalidChoice(f"{where}.max_tokens: from 1 to {MAX_OUTPUT_TOKENS}")
    if params.reasoning is not None and params.reasoning not in REASONING_LEVELS:
        raise InvalidChoice(f"{where}.reasoning: one of {', '.join(REASONING_LEVELS)}")


def params_json(params: CallSettings) -> dict[str, Any]:
    values = {
        "system": params.system,
        "temperature": params.temperature,
        "max_tokens": params.max_tokens,
        "reasoning": params.reasoning,
    }
    return {name: value for name, value in values.items() if value is not None}


def params_of(stored: Mapping[str, Any] | None) -> CallSettings:
    stored = stored or {}
    return CallSettings(
        system=stored.get("system"),
        temperature=stored.get("temperature"),
        max_tokens=stored.get("max_tokens"),
        reasoning=stored.get("reasoning"),
    )
