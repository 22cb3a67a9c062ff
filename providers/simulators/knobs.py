"""Knobs: how a simulated answer behaves (length, pacing, faults), and where they come from.

Three layers, later ones winning: the process defaults (``SimulatorConfig.defaults``, or each
flavour's own profile when there are none, see profiles.py), the
``x-simulator`` request header, and a suffix on the model name (``gpt-5.5+tokens=50,gap=5``).
The model name matters most because the gateway passes a pinned model through untouched but adds
no custom headers. Grammar of a knob string: ``name=value`` pairs joined by commas, spaces allowed
around names and values, the last of a repeated name wins, the empty string sets nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from functools import lru_cache

from providers.registry import SIMULATOR_KEY

FAULTS = ("none", "status", "midstream", "drop", "stall", "malformed")
FINISHES = ("stop", "length")
MODEL_KNOB_SEPARATOR = "+"


class KnobError(ValueError):
    """A knob string that cannot be used; the message is shown to the client in a 400."""


@dataclass(frozen=True, slots=True)
class Knobs:
    tokens: int = 48  # answer length in tokens (a request's own max tokens can cut it shorter)
    chunk: int = 1  # tokens per streamed event
    ttft: float = 150.0  # ms from the response headers to the first text event
    gap: float = 20.0  # ms between text events; 0 streams as fast as the loop allows
    headers_delay: float = 0.0  # ms before the status line and headers are sent
    finish: str = "stop"  # stop | length
    fault: str = "none"  # none | status | midstream | drop | stall | malformed
    status: int = 500  # fault=status: the HTTP status of the error
    retry_after: float = 1.0  # fault=status,status=429: seconds in retry-after / RetryInfo
    quota: bool = (
        False  # fault=status,status=429 on OpenAI: insufficient_quota instead of a rate limit
    )
    after: int | None = None  # stream faults: tokens sent before the fault; None = half the answer
    fail_times: int = 0  # the fault hits only the first k requests with the same knobs; 0 = all
    natural: bool = False  # end where the answer's text ends by itself, if before `tokens`
    # reasoning tokens, when the request asks the model to reason; None: by the effort asked
    thinking: int | None = None

    def fault_after(self, length: int) -> int:
        return length // 2 if self.after is None else min(self.after, length)

    def overridden(self, text: str) -> Knobs:
        """These knobs with a knob string's values on top; raises KnobError."""
        settings = parse_knob_string(text)
        return replace(self, **dict(settings)) if settings else self  # type: ignore[arg-type]  # each value checked against its field by the parser

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class SimulatorConfig:
    """Process-wide settings of a simulator app."""

    # None: a request naming no knob gets its flavour's realistic pace and length (profiles.py),
    # one naming any knob gets plain Knobs() under them; Knobs: the same exact defaults for
    # every flavour and request (tests and benchmarks).
    defaults: Knobs | None = None
    api_key: str = SIMULATOR_KEY  # the one key every simulated API accepts
    # Keep request bodies for GET /_sim/requests. Off by default: the log is every prompt sent,
    # readable by anyone who can reach the port; when off, nothing is kept and it answers 404.
    record_requests: bool = False
    log_size: int = 200  # request bodies kept per flavour for /_sim/requests, when recording


def split_model(model: str) -> tuple[str, str]:
    """``"gpt-5.5+tokens=5"`` -> ``("gpt-5.5", "tokens=5")``."""
    name, _, knobs = model.partition(MODEL_KNOB_SEPARATOR)
    return name, knobs


def _integer(low: int, high: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise ValueError
        return value

    parse.__doc__ = f"an integer from {low} to {high}"
    return parse


def _number(low: float, high: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        value = float(text)
        if not low <= value <= high:  # also rejects nan
            raise ValueError
        return value

    parse.__doc__ = f"a number from {low:g} to {high:g}"
    return parse


def _choice(*options: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError
        return text

    parse.__doc__ = "one of " + "|".join(options)
    return parse


def _flag(text: str) -> bool:
    """0 or 1"""
    if text not in ("0", "1"):
        raise ValueError
    return text == "1"


_MS = _number(0, 3_600_000)

PARSERS: dict[str, Callable[[str], object]] = {
    "tokens": _integer(0, 100_000),
    "chunk": _integer(1, 100_000),
    "ttft": _MS,
    "gap": _MS,
    "headers_delay": _MS,
    "finish": _choice(*FINISHES),
    "fault": _choice(*FAULTS),
    "status": _integer(400, 599),
    "retry_after": _number(0, 86_400),
    "quota": _flag,
    "after": _integer(0, 100_000),
    "fail_times": _integer(0, 1_000_000),
    "natural": _flag,
    "thinking": _integer(0, 100_000),
}


@lru_cache(maxsize=1024)
def parse_knob_string(text: str) -> tuple[tuple[str, object], ...]:
    """``"tokens=50, gap=5"`` -> ``(("tokens", 50), ("gap", 5.0))``; raises KnobError."""
    settings: dict[str, object] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        name, equals, raw = (part.strip() for part in item.partition("="))
        parser = PARSERS.get(name)
        if parser is None:
            known = ", ".join(PARSERS)
            raise KnobError(f"unknown simulator knob {name!r} in {text!r}; known knobs: {known}")
        if not equals:
            raise KnobError(f"simulator knob {name!r} needs a value ({name}=<value>) in {text!r}")
        try:
            settings[name] = parser(raw)
        except ValueError:
            raise KnobError(
                f"simulator knob {name}={raw!r} is invalid: expected {parser.__doc__}"
            ) from None
    return tuple(settings.items())


class KnobResolver:
    """Defaults, then header, then model suffix; cached, since a load test repeats a handful of
    knob strings millions of times.

    ``profile``: what a request that names no knob at all gets (a provider's realistic demo
    pace). Naming any knob takes exact control: the knobs not named then keep ``defaults``,
    so ``tokens=200,gap=5,ttft=0`` means the same on every flavour."""

    def __init__(
        self, defaults: Knobs, cache_size: int = 4096, profile: Knobs | None = None
    ) -> None:
        self.defaults = defaults
        self.profile = profile
        self.resolve: Callable[[str, str], Knobs] = lru_cache(maxsize=cache_size)(self._resolve)

    def _resolve(self, header: str, model_suffix: str) -> Knobs:
        if self.profile is not None and not (
            parse_knob_string(header) or parse_knob_string(model_suffix)
        ):
            return self.profile
        return self.defaults.overridden(header).overridden(model_suffix)
