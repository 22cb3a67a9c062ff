"""What the simulated Gemini API checks in ``generationConfig.thinkingConfig``, and how much the
model thinks for it (shared/reference/images-and-reasoning.md §3.2).

Gemini 2.5 takes a ``thinkingBudget`` (0 off, -1 dynamic; 2.5 Pro 128 to 32768 and never off,
Flash 0 to 24576), Gemini 3 and later a ``thinkingLevel`` (MINIMAL, LOW, MEDIUM, HIGH; Pro only
LOW and HIGH) or, for older clients, a budget; never both; earlier models do not think.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from providers.simulators.wire import SimulatedApi

LEVELS = ("MINIMAL", "LOW", "MEDIUM", "HIGH")
VERSION = re.compile(r"gemini-(\d+)(?:\.(\d+))?")


def signature(model: str) -> str:
    digest = hashlib.sha256(f"simulated thought\0{model}".encode()).digest()
    return base64.b64encode(b"\x12\x9d" + digest).decode("ascii")


def version(model: str) -> tuple[int, int]:
    found = VERSION.match(model)
    return (int(found[1]), int(found[2] or 0)) if found else (99, 0)


def thinking_of(api: SimulatedApi, model: str, config: dict[str, Any]) -> tuple[str | None, bool]:
    """(the effort the model thinks at, or None; whether its thoughts are sent)."""
    thinking = config.get("thinkingConfig") or config.get("thinking_config")
    if not isinstance(thinking, dict):
        return None, False
    at, pro = version(model), "-pro" in model
    budget = thinking.get("thinkingBudget", thinking.get("thinking_budget"))
    level = thinking.get("thinkingLevel", thinking.get("thinking_level"))
    shown = bool(thinking.get("includeThoughts", thinking.get("include_thoughts")))
    if at < (2, 5):
        raise api.invalid("Thinking is not supported for this model.")
    if budget is not None and level is not None:
        raise api.invalid("You can only set one of thinking budget and thinking level.")
    if level is not None:
        if at < (3, 0):
            raise api.invalid("Thinking level is not supported for this model.")
        name = str(level).upper()
        if name not in LEVELS:
            raise api.invalid(
                "Invalid value at 'generation_config.thinking_config.thinking_level' "
                f'(type.googleapis.com/google.ai.generativelanguage.v1beta.ThinkingLevel), "{level}"'
            )
        if pro and name in ("MINIMAL", "MEDIUM"):
            raise api.invalid(f"Thinking level {name} is not supported for this model.")
        return name.lower(), shown
    if budget is None:
        return "medium", shown  # the model's own dynamic thinking
    top = 32768 if pro else 24576
    if type(budget) is not int or budget < -1 or budget > top:
        raise api.invalid(
            f"The thinking budget {budget} is invalid. Please choose a value between "
            f"{128 if pro else 0} and {top}."
        )
    if budget == 0:
        if pro:
            raise api.invalid("Budget 0 is invalid. This model only works in thinking mode.")
        return None, False
    if budget == -1:
        return "medium", shown
    return ("low" if budget < 4096 else "medium" if budget < 12000 else "high"), shown
