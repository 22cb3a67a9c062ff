"""What a simulator remembers: per-flavour counters, a short request log and fail_times tallies."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any

from providers.simulators.knobs import KnobResolver, Knobs, SimulatorConfig
from providers.simulators.profiles import profile

# fail_times tallies are keyed by client-chosen knob strings; cap them so that a load test with
# unique strings cannot grow the process without bound.
MAX_TALLIES = 10_000


@dataclass(slots=True)
class FlavourStats:
    requests: int = 0  # every request to the flavour's endpoint
    open: int = 0  # accepted requests still in progress (a gauge: reset leaves it alone)
    completed: int = 0  # answers that ended normally, terminator included
    aborted: int = 0  # the client went away before the end (during a delay, a gap or a stall)
    faulted: int = 0  # ended by an injected fault: status, midstream, drop or malformed
    rejected: int = 0  # refused before answering: bad key, invalid request, unknown knob


@dataclass(slots=True)
class LoggedRequest:
    model: str  # without the knob suffix
    knobs: Knobs | None  # None until resolved, and for a request refused for its knobs
    body: Any

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "knobs": self.knobs.as_dict() if self.knobs else None,
            "body": self.body,
        }


class SimulatorState:
    """Shared by every simulated API of one process (or of one run_many)."""

    def __init__(self, config: SimulatorConfig, flavours: Iterable[str]) -> None:
        self.config = config
        self.counters = {flavour: FlavourStats() for flavour in flavours}
        # One resolver per flavour: without process defaults each has its own profile.
        self.knobs = {
            flavour: KnobResolver(
                config.defaults or Knobs(),
                profile=None if config.defaults else profile(flavour),
            )
            for flavour in self.counters
        }
        self.logs: dict[str, deque[LoggedRequest]] = {
            flavour: deque(maxlen=config.log_size) for flavour in self.counters
        }
        self.failures: dict[tuple[str, str, str], int] = {}

    def stats(self) -> dict[str, dict[str, int]]:
        return {flavour: asdict(counters) for flavour, counters in self.counters.items()}

    def requests(self, flavour: str) -> list[dict[str, Any]]:
        """The logged requests of one flavour, oldest first."""
        return [entry.as_dict() for entry in self.logs[flavour]]

    def log(self, flavour: str, model: str, body: Any) -> LoggedRequest:
        """The request's log entry, kept only when the config records requests."""
        entry = LoggedRequest(model, None, body)
        if self.config.record_requests:
            self.logs[flavour].append(entry)
        return entry

    def reset(self) -> None:
        # In place, and not `open`: requests in flight hold their counters and decrement open.
        for counters in self.counters.values():
            counters.requests = counters.completed = counters.aborted = 0
            counters.faulted = counters.rejected = 0
        for log in self.logs.values():
            log.clear()
        self.failures.clear()

    def take_fault(self, flavour: str, header: str, model_knobs: str, knobs: Knobs) -> str:
        """The fault this request gets: with fail_times=k only the first k requests carrying the
        same knob strings fail, then they succeed (for retry tests)."""
        if knobs.fault == "none" or not knobs.fail_times:
            return knobs.fault
        key = (flavour, header, model_knobs)
        failed = self.failures.get(key, 0)
        if failed >= knobs.fail_times:
            return "none"
        if key not in self.failures and len(self.failures) >= MAX_TALLIES:
            del self.failures[next(iter(self.failures))]
        self.failures[key] = failed + 1
        return knobs.fault
