"""What answers cost, and the turn budget (``MAX_TURN_COST``) that stops legs past it.

An answer's cost comes from the token counts its provider reported (reasoning tokens are
output tokens); where it reported none (a cancelled stream, a provider without usage), from an
estimate of four characters per token of the thread sent and of the text and reasoning
received. An answer whose request was never accepted
cost nothing. A model without a price has no cost (None).

The budget is watched by one timer for the whole gateway, a few times a second, never per
token: each running leg's estimate grows by the characters that arrived since the last look.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence

from gateway.turns.leg import Leg, LegResult
from providers import Message, PriceTable, estimate_tokens

BUDGET_INTERVAL = 0.2  # seconds between two looks at the running legs' estimates
BUDGET_REASON = "max_turn_cost"


def thread_tokens(thread: Sequence[Message], system_prompt: str | None = None) -> int:
    chars = sum(len(m.content) for m in thread) + len(system_prompt or "")
    return estimate_tokens(chars)


def answer_cost(prices: PriceTable, leg: Leg, result: LegResult) -> float | None:
    price = prices.price(leg.state.model)
    if price is None:
        return None
    # Called before the leg's final status is set: "streaming" means the upstream said 200.
    if result.ttft_ms is None and leg.state.status != "streaming":
        return 0.0  # the upstream never accepted the request: nothing was billed
    usage = result.usage
    input_tokens = usage.input_tokens if usage else None
    output_tokens = usage.output_tokens if usage else None
    if input_tokens is None:
        input_tokens = thread_tokens(leg.thread, leg.provider.config.system_prompt)
    if output_tokens is None:
        output_tokens = estimate_tokens(len(result.content) + len(result.thinking or ""))
    return price.cost(input_tokens, output_tokens)


def running_estimate(prices: PriceTable, leg: Leg) -> float:
    """A running leg's cost so far, counting only the text that arrived since the last call."""
    price = prices.price(leg.state.model)
    if price is None:
        return 0.0
    parts, thoughts, chars = leg.counted
    new_parts, new_thoughts = leg.parts[parts:], leg.thoughts[thoughts:]  # reasoning is output
    chars += sum(len(p) for p in new_parts) + sum(len(t) for t in new_thoughts)
    leg.counted = (parts + len(new_parts), thoughts + len(new_thoughts), chars)
    input_tokens = thread_tokens(leg.thread, leg.provider.config.system_prompt)
    return price.cost(input_tokens, estimate_tokens(chars))


class BudgetWatch:
    """Cancels the running legs of a turn whose cost (answers stored, plus the running ones'
    estimates) passes ``limit`` dollars; their dones say why."""

    def __init__(
        self,
        prices: PriceTable,
        limit: float | None,
        turns: Callable[[], Iterable[tuple[float, list[Leg]]]],
    ) -> None:
        self.prices = prices
        self.limit = limit
        self.turns = turns  # (cost of its finished answers, its running legs) per running turn
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self.limit is not None:
            self._task = asyncio.create_task(self._loop(), name="turn-budget")

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(BUDGET_INTERVAL)
            self.check()

    def check(self) -> int:
        """Cancel what is over budget now; returns how many legs were cancelled."""
        assert self.limit is not None
        stopped = 0
        for finished, legs in self.turns():
            running = [leg for leg in legs if not leg.storing]
            total = finished + sum(running_estimate(self.prices, leg) for leg in running)
            if total > self.limit:
                reason = (
                    BUDGET_REASON,
                    f"stopped: the turn's estimated cost passed MAX_TURN_COST (${self.limit:g})",
                )
                stopped += sum(1 for leg in running if leg.cancel(reason))
        return stopped
