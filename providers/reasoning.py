"""Which OpenAI-style models take ``reasoning_effort`` (or ``reasoning.effort``), and which levels.

Support is per model and the APIs refuse what a model does not take, so a level is sent only
where it is known to be taken, moved to the nearest level the model has, and the answer says
so (``Ignored``) whenever what was asked is not what was sent. A model not listed here is
taken for one that does not reason: nothing is sent for it.

OpenAI (Chat and Responses): gpt-5.1 and later take none|low|medium|high; gpt-5 (and -mini,
-nano) minimal|low|medium|high; gpt-5-pro high only; o1/o3/o4 low|medium|high. xAI: grok-3-mini
low|high; grok-4.3 none|low|medium|high; grok-4.5 and later low|medium|high; other Grok models
refuse the parameter. Perplexity: only sonar-deep-research (minimal|low|medium|high);
sonar-reasoning(-pro) always reasons and takes no level.
"""

from __future__ import annotations

import re

from providers.chunks import Ignored

ORDER = ("none", "minimal", "low", "medium", "high")
# What "off" is called, where a model can stop (or nearly stop) reasoning.
OFF = ("none", "minimal")

_GPT5_POINT = re.compile(r"gpt-5\.\d")
_O_SERIES = re.compile(r"o\d")
_GROK_POINT = re.compile(r"grok-(\d+)\.(\d)(?!\d)")


def rejects_temperature(model: str) -> bool:
    """OpenAI's reasoning models (gpt-5*, o1, o3, o4...) accept only the default temperature."""
    return model.startswith("gpt-5") or (model[:1] == "o" and model[1:2].isdigit())


def openai_levels(model: str) -> tuple[str, ...]:
    if model.startswith("gpt-5-pro"):
        return ("high",)
    if _GPT5_POINT.match(model):
        return ("none", "low", "medium", "high")
    if model.startswith("gpt-5"):
        return ("minimal", "low", "medium", "high")
    if _O_SERIES.match(model):
        return ("low", "medium", "high")
    return ()


def xai_levels(model: str) -> tuple[str, ...]:
    if model.startswith("grok-3-mini"):
        return ("low", "high")
    if found := _GROK_POINT.match(model):
        version = (int(found[1]), int(found[2]))
        if version == (4, 3):
            return ("none", "low", "medium", "high")
        if version >= (4, 5):
            return ("low", "medium", "high")
    return ()


def perplexity_levels(model: str) -> tuple[str, ...]:
    return ("minimal", "low", "medium", "high") if model.startswith("sonar-deep-research") else ()


LEVELS = {"openai": openai_levels, "xai": xai_levels, "perplexity": perplexity_levels}


def always_reasons(flavour: str, model: str) -> bool:
    """Models that reason whatever they are told, though they take no level."""
    if flavour == "perplexity":
        return model.startswith("sonar-reasoning")
    if flavour == "xai":
        return model.startswith(("grok-4-0709", "grok-code-fast")) or "-reasoning" in model
    return False


def effort_for(flavour: str, model: str, level: str, ignored: list[Ignored]) -> str | None:
    """The effort to send for a level (off | low | medium | high), or None to send nothing."""
    levels = LEVELS[flavour](model)
    if not levels:
        if always_reasons(flavour, model):
            ignored.append(Ignored("reasoning", f"{model} always reasons and takes no level"))
        elif level != "off":
            ignored.append(Ignored("reasoning", f"{model} does not reason"))
        return None
    if level == "off":
        effort = next((name for name in OFF if name in levels), levels[0])
        if effort != "none":
            ignored.append(Ignored("reasoning", f"{model} always reasons ({effort} at least)"))
        return effort
    if level in levels:
        return level
    wanted = ORDER.index(level)
    effort = min(levels, key=lambda name: (abs(ORDER.index(name) - wanted), -ORDER.index(name)))
    ignored.append(Ignored("reasoning", f"{model} takes no {level} reasoning: sent {effort}"))
    return effort
