"""The benchmark's scenarios: each a load shape run both direct and through the gateway."""

from __future__ import annotations

from dataclasses import dataclass, replace

from providers.registry import PROVIDERS

ALL_PROVIDERS = tuple(PROVIDERS)


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    description: str
    providers: tuple[str, ...]
    knobs: str  # simulator knobs on the model name
    clients: int  # concurrent turns
    duration: float | None  # seconds per round and mode during which clients start turns
    turns: int | None = None  # per client, instead of a duration (hold: one long turn each)
    ramp_up: float = 0.0
    rounds: int = 1  # each round runs direct and through the gateway
    turn_timeout: float = 60.0
    kind: str = "relay"  # a key of gateway.tools.bench.run.KINDS
    floor: bool = False  # relay: also through nginx, the floor the gateway is measured against

    @property
    def upstream_streams(self) -> int:
        return self.clients * len(self.providers)


def scenarios(quick: bool) -> dict[str, Scenario]:
    """The five scenarios of issue 5, the two of issue 14 (saturation, streams-10k) and the
    scale-out one of issue 12; ``quick`` shrinks each to a few seconds (a smoke run)."""
    # ttft=0 everywhere but hold: the direct baseline then has no timer in front of the first
    # token, so added TTFT is all the gateway's own work (storing the prompt included).
    full = [
        Scenario(
            "overhead-1",
            "1 provider, 200 tokens 5 ms apart, 1 concurrent turn",
            ("claude",),
            "tokens=200,gap=5,ttft=0",
            clients=1,
            duration=10,
            rounds=3,
            floor=True,
        ),
        Scenario(
            "overhead-50",
            "1 provider, 200 tokens 5 ms apart, 50 concurrent turns",
            ("claude",),
            "tokens=200,gap=5,ttft=0",
            clients=50,
            duration=10,
            ramp_up=1.0,
            rounds=2,
            floor=True,
        ),
        Scenario(
            "fanout",
            "5 providers, 200 tokens 20 ms apart each, 100 concurrent turns (500 streams)",
            ALL_PROVIDERS,
            "tokens=200,gap=20,ttft=0",
            clients=100,
            duration=12,
            ramp_up=2.0,
            rounds=2,
            floor=True,
        ),
        Scenario(
            "throughput",
            "1 provider, 1,000 tokens with no delay (the simulator writes them 16 events per "
            "write), 50 concurrent turns",
            ("claude",),
            "tokens=1000,gap=0,ttft=0",
            clients=50,
            duration=8,
            ramp_up=0.5,
            rounds=2,
        ),
        Scenario(
            "hold",
            "5 providers, 1,000 concurrent turns (5,000 streams), 1 token/s for 60 s",
            ALL_PROVIDERS,
            "tokens=60,gap=1000,ttft=1000",
            clients=1000,
            duration=None,
            turns=1,
            ramp_up=10.0,
            turn_timeout=180.0,
        ),
        Scenario(
            "saturation",
            "1 provider, 200 tokens 5 ms apart, 200 concurrent turns (40,000 tokens/s offered)",
            ("claude",),
            "tokens=200,gap=5,ttft=0",
            clients=200,
            duration=10,
            ramp_up=2.0,
            rounds=2,
            floor=True,
        ),
        Scenario(
            "streams-10k",
            "5 providers, 2,000 concurrent turns (10,000 streams), 1 token/s for 60 s",
            ALL_PROVIDERS,
            "tokens=60,gap=1000,ttft=1000",
            clients=2000,
            duration=None,
            turns=1,
            ramp_up=20.0,
            turn_timeout=240.0,
        ),
    ]
    full.append(
        Scenario(
            "scale",
            "5 providers, 400 tokens with no delay, 40 concurrent eventsource turns: through "
            "one gateway, then through two sharing Redis (half the listeners on the other one); "
            "then 20 turns of 200 tokens 20 ms apart with every listener on the owner, then on "
            "the other gateway",
            ALL_PROVIDERS,
            "tokens=400,gap=0,ttft=0",
            clients=40,
            duration=10,
            ramp_up=1.0,
            rounds=2,
            kind="scale",
        )
    )
    if not quick:
        return {s.name: s for s in full}
    shrunk = {s.name: replace(s, duration=3, rounds=1, ramp_up=min(s.ramp_up, 1.0)) for s in full}
    shrunk["hold"] = replace(
        shrunk["hold"],
        description="5 providers, 200 concurrent turns (1,000 streams), 1 token/s for 10 s",
        clients=200,
        knobs="tokens=10,gap=1000,ttft=1000",
        ramp_up=2.0,
        duration=None,
        turn_timeout=60.0,
    )
    shrunk["streams-10k"] = replace(
        shrunk["streams-10k"],
        description="5 providers, 400 concurrent turns (2,000 streams), 1 token/s for 10 s",
        clients=400,
        knobs="tokens=10,gap=1000,ttft=1000",
        ramp_up=4.0,
        duration=None,
        turn_timeout=90.0,
    )
    return shrunk
