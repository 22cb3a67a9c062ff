"""What one load run is: how many clients, how many turns, which providers, which mode."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from gateway.tools.arguments import DEFAULT_PROMPT, LISTEN_CHOICES
from providers.registry import PROVIDERS


@dataclass(frozen=True, slots=True)
class LoadConfig:
    url: str = "http://127.0.0.1:8000"
    clients: int = 1
    turns: int | None = None  # per client; with neither turns nor duration, one turn each
    duration: float | None = None  # seconds (from the start, ramp-up included) to start turns in
    ramp_up: float = 0.0  # client i starts at i * ramp_up / clients
    providers: tuple[str, ...] = ("claude",)
    model_suffix: str = ""  # simulator knobs riding on the model name: "+tokens=200,gap=5"
    prompt: str = DEFAULT_PROMPT
    eventsource: bool = False
    direct: bool = False  # read the simulators' native streams instead of the gateway's
    simulator_url: str | None = None
    turn_timeout: float = 120.0
    connect_timeout: float = 10.0
    show_violations: int = 5  # violations printed to stderr as they happen (all are counted)
    progress: bool | None = None  # a live line on stderr; None = only when stderr is a TTY
    # More gateways, sharing one database and Redis: client i sends its turns to them in
    # turn, starting at i (a round-robin balancer without the balancer's own CPU).
    more_urls: tuple[str, ...] = ()
    # Eventsource mode only: which gateway a turn's events are read from. "owner": the one that
    # took the POST; "other": the next one; "alternate": owner, other, owner, ... (what a plain
    # round-robin balancer gives on average).
    listen: str = "owner"
    # The client key every request carries (Authorization: Bearer); from MULTICHAT_KEY, as
    # the gateway reads its own, so one exported variable serves both.
    key: str | None = field(
        default_factory=lambda: os.environ.get("MULTICHAT_KEY") or None, repr=False
    )

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.url, *self.more_urls)

    @property
    def mode(self) -> str:
        return "direct" if self.direct else "eventsource" if self.eventsource else "stream"

    def suffix(self) -> str:
        suffix = self.model_suffix.strip().lstrip("+")
        return "+" + suffix if suffix else ""

    def model(self, provider: str) -> str:
        """The model name sent upstream: the registry's default model with the knob suffix."""
        return PROVIDERS[provider].model + self.suffix()

    def gateway_models(self) -> list[str]:
        # Without knobs, the bare provider name lets the gateway use its configured model.
        return [f"{p}:{self.model(p)}" if self.suffix() else p for p in self.providers]

    def validate(self) -> None:
        unknown = [p for p in self.providers if p not in PROVIDERS]
        if unknown or not self.providers:
            raise ValueError(
                f"providers: unknown {', '.join(unknown) or '(none given)'}; "
                f"known: {', '.join(PROVIDERS)}"
            )
        if len(set(self.providers)) != len(self.providers):
            raise ValueError("providers: each provider at most once")
        if self.clients < 1:
            raise ValueError("clients must be at least 1")
        if self.direct and not self.simulator_url:
            raise ValueError("--direct needs --simulator-url")
        if self.listen not in LISTEN_CHOICES:
            raise ValueError(f"listen: one of {', '.join(LISTEN_CHOICES)}")
        if self.listen != "owner" and not (self.eventsource and self.more_urls):
            raise ValueError("listening elsewhere needs eventsource mode and more than one url")
        if self.turns is not None and self.turns < 1:
            raise ValueError("turns must be at least 1")
        if self.duration is not None and self.duration <= 0:
            raise ValueError("duration must be positive")
