"""Per-key limits: how many turns one client key may start per minute, and run at once.

Both are kept in this process's memory (with several gateways, each counts its own). Owner 0
(AUTH=off) and admin keys (``exempt``: MULTICHAT_KEY, the first key) are the operator's and are
held only to the gateway's own limit, MAX_CONCURRENT_TURNS.
"""

from __future__ import annotations

import math
import time
from collections import Counter, defaultdict, deque
from collections.abc import Callable

from gateway.turns.errors import TooBusy

WINDOW = 60.0  # seconds: "per minute"


class KeyLimits:
    def __init__(self, per_minute: int, concurrent: int) -> None:
        self.per_minute = per_minute  # 0: no limit
        self.concurrent = concurrent  # 0: no limit
        self.running: Counter[int] = Counter()
        self.exempt: Callable[[int], bool] = lambda owner: False  # set by the gateway's auth
        self._started: defaultdict[int, deque[float]] = defaultdict(deque)

    def admit(self, owner: int) -> None:
        """Count one more turn of ``owner``, or raise TooBusy with a fair Retry-After."""
        if owner == 0 or self.exempt(owner):
            return
        if self.concurrent and self.running[owner] >= self.concurrent:
            raise TooBusy(
                f"this key already runs {self.concurrent} turns; wait for one to end",
                retry_after=1,
            )
        if self.per_minute:
            now = time.monotonic()
            started = self._started[owner]
            while started and started[0] <= now - WINDOW:
                started.popleft()
            if len(started) >= self.per_minute:
                wait = math.ceil(started[0] + WINDOW - now)
                raise TooBusy(
                    f"this key started {self.per_minute} turns in the last minute",
                    retry_after=max(wait, 1),
                )
            started.append(now)
        self.running[owner] += 1

    def release(self, owner: int) -> None:
        if owner == 0 or owner not in self.running:
            return  # owner 0 and exempt keys were not counted
        self.running[owner] -= 1
        if self.running[owner] <= 0:
            del self.running[owner]
