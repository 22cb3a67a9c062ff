"""A turn's event log and its listeners.

Every event is encoded once, handed to the listeners and appended to the log; its id is its
position (1, 2, 3 ...). A delta is kept as its text (the very ``str`` the leg keeps for its
answer) and its leg, not as its bytes: those are most of a running turn's memory, and only a
client that resumes needs them again, encoded then the same way.
``publish`` is synchronous, and so is ``subscribe``: a listener that joins copies the log after
its last seen id and receives everything published after that, with no await in between, so
there is no gap and no duplicate, however a reconnect races with the providers.

Legs start before their turn is stored, so a log starts *held*: what is published before
``release`` waits, in order, and comes out after the ``turn`` event, which must be first.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from gateway.turns.events import delta_bytes, delta_prefix, end_data, event_bytes, start_data


@dataclass(frozen=True, slots=True)
class Reasoning:
    """A leg's reasoning side: what its ``thinking`` events are published as. It stands for its
    leg in the log (``publish_delta`` needs only a prefix), so a piece of reasoning is kept,
    encoded and resumed exactly as a delta is, at the same cost."""

    prefix: bytes


@dataclass(slots=True)
class LegState:
    """What the rest of the gateway sees of one provider's leg while and after it runs."""

    provider: str
    model: str
    simulated: bool
    status: str = "pending"  # pending | streaming | complete | failed | cancelled
    message_id: int | None = None
    done_event_id: int | None = None
    done: dict | None = None  # the done event's data, once sent
    run: int = 0  # 0: the turn's first answer of this provider; each retry counts one more
    prefix: bytes = b""
    label: str | None = None  # in a blind turn: what its events name instead of the provider
    cost_usd: float | None = None  # once finished (a blind done does not say it)
    reasoning: Reasoning = Reasoning(b"")

    def __post_init__(self) -> None:
        self.prefix = delta_prefix(self.provider, self.label)
        self.reasoning = Reasoning(delta_prefix(self.provider, self.label, b"thinking"))

    def blind(self, label: str) -> None:
        self.label = label
        self.prefix = delta_prefix(self.provider, label)
        self.reasoning = Reasoning(delta_prefix(self.provider, label, b"thinking"))

    def start_data(self) -> dict:
        """Its ``start`` event's data (a fusion's also names its judge)."""
        return start_data(self.provider, self.model, self.label)

    def entry(self) -> dict:
        """How the turn's row lists this leg. A retry's run is listed, so that whoever finishes
        the turn after a crash stores the cut answer as that run (a first run's is 0)."""
        entry: dict = {"provider": self.provider, "model": self.model, "simulated": self.simulated}
        if self.label is not None:
            entry["label"] = self.label
        if self.run:
            entry["run"] = self.run
        return entry

    @property
    def finished(self) -> bool:
        return self.status in ("complete", "failed", "cancelled")


class BufferBudget:
    """What all the listeners of a process may hold together (``LISTENER_BUFFER_TOTAL``):
    the deltas waiting in their buffers and the writes still on their way to the client. Past
    it, a listener that holds more than ``SLOW_BYTES`` is dropped at its next delta (slow
    readers go first; one that keeps up holds next to nothing), so many slow readers are let
    go before the process grows. One counter per process, added to once per delta."""

    __slots__ = ("total", "used")

    SLOW_BYTES = 65_536

    def __init__(self, total: int) -> None:
        self.total = total
        self.used = 0


UNBOUNDED = BufferBudget(2**62)


class Listener:
    """One connected client: a bounded buffer of encoded events and a way to wake it."""

    __slots__ = (
        "pending", "size", "limit", "waiter", "closed", "overflowed", "after", "quiet",
        "budget", "sending", "loop",
    )  # fmt: skip

    def __init__(self, limit: int, after: int = 0, budget: BufferBudget = UNBOUNDED) -> None:
        self.after = after  # the last id its client has: a mirror may still be behind it
        self.pending: list[bytes] = []
        self.size = 0
        self.limit = limit
        self.waiter: asyncio.Future | None = None
        self.closed = False
        # Nothing is pushed: closed, or ahead of the log (its client says it has ids the log
        # has not reached yet; see EventLog.subscribe).
        self.quiet = False
        self.overflowed = False
        self.budget = budget
        self.sending = 0  # counted bytes taken and not yet written (see EventLog.stream)
        # Kept from the first wait: asyncio.get_running_loop() makes a getpid() system call on
        # Python 3.11, and a listener waits once per event it is woken for.
        self.loop: asyncio.AbstractEventLoop | None = None

    def push(self, chunk: bytes) -> None:
        """A delta: these count towards the limit, and the process's budget."""
        if self.quiet:
            return
        self.pending.append(chunk)
        size = len(chunk)
        self.size += size
        budget = self.budget
        budget.used += size
        if self.size > self.limit or (
            budget.used > budget.total and self.size + self.sending > budget.SLOW_BYTES
        ):
            # A client that stopped reading: let it go rather than grow without bound.
            # It may reconnect with Last-Event-ID and resume exactly where it stopped.
            self.overflowed = True
            self.pending.clear()
            budget.used -= self.size
            self.size = 0
            self.close()
        elif self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def push_event(self, chunk: bytes) -> None:
        """turn, start, done, end: a few per leg, so they never overflow a listener. A done
        carries its whole answer, and dones stored in one batch are published back to back:
        counting them would drop readers that keep up whenever the answers outgrow the limit."""
        if self.quiet:
            return
        self.pending.append(chunk)
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def close(self) -> None:
        self.closed = self.quiet = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def take(self) -> bytes:
        """Everything ready, as one write: events that arrive together leave together. Its
        counted bytes stay in the budget until it is written (``sent``)."""
        chunk = self.pending[0] if len(self.pending) == 1 else b"".join(self.pending)
        self.pending.clear()
        self.sending += self.size
        self.size = 0
        return chunk

    def sent(self) -> None:
        self.budget.used -= self.sending
        self.sending = 0

    def release(self) -> None:
        """Gone: whatever it still held leaves the budget."""
        self.budget.used -= self.size + self.sending
        self.size = self.sending = 0
        self.pending.clear()

    async def wait(self) -> None:
        if self.loop is None:
            self.loop = asyncio.get_running_loop()
        self.waiter = self.loop.create_future()
        try:
            await self.waiter
        finally:
            self.waiter = None


_Held = tuple[LegState | Reasoning | None, str, object]


class EventLog:
    """The encoded events of one turn, in order, and the listeners that receive them."""

    def __init__(
        self,
        listener_limit: int = 4_000_000,
        *,
        budget: BufferBudget = UNBOUNDED,
        held: bool = False,
        on_listener: Callable[[EventLog], None] | None = None,
        on_abandoned: Callable[[EventLog], None] | None = None,
    ) -> None:
        self.listener_limit = listener_limit
        self.budget = budget
        # Listeners whose client is ahead of the log: quiet until it passes their id.
        self._ahead: list[Listener] = []
        # Each event: its bytes, or for a delta its text, with its leg in ``_legs`` (else None).
        self._entries: list[bytes | str] = []
        self._legs: list[LegState | Reasoning | None] = []
        self.listeners: set[Listener] = set()
        self.ended = False
        self.on_listener = on_listener
        # Called when the listener count drops to zero before the log ended.
        self.on_abandoned = on_abandoned
        self._held: list[_Held] | None = [] if held else None
        # Also handed every event as it is published (the Redis bus, across workers).
        self.sink: Callable[[int, bytes], None] | None = None
        # Told when a listener is dropped for letting its buffer overflow (metrics).
        self.on_overflow: Callable[[], None] | None = None
        # A mirror of another worker's turn keeps its events' ids: a crashed turn's replay
        # numbers its last events far above the rest. None: ids are positions (1, 2, 3 ...).
        self.ids: list[int] | None = None

    @property
    def last_id(self) -> int:
        if self.ids is not None:
            return self.ids[-1] if self.ids else 0
        return len(self._entries)

    @property
    def events(self) -> list[bytes]:
        """Every event in the log, encoded."""
        return self._encoded(0)

    def _encoded(self, start: int) -> list[bytes]:
        chunks: list[bytes] = []
        for index in range(start, len(self._entries)):
            entry = self._entries[index]
            if type(entry) is str:
                leg = self._legs[index]
                assert leg is not None and self.ids is None  # deltas are ours, numbered 1, 2 ...
                entry = delta_bytes(index + 1, leg.prefix, entry)
            chunks.append(entry)  # type: ignore[arg-type]  # a delta's text was encoded to bytes just above
        return chunks

    # -- publishing (synchronous, so ordering is the order of calls) ----------------------------

    def publish(self, name: str, data: dict) -> int:
        """Append one event; its id, or 0 while the log is held."""
        if self._held is not None:
            self._held.append((None, name, data))
            return 0
        id = self._next_id()
        chunk = event_bytes(id, name, data)
        self._entries.append(chunk)
        self._legs.append(None)
        if self._ahead:
            self._catch_up(id)
        for listener in self.listeners:
            listener.push_event(chunk)
        if self.sink is not None:
            self.sink(id, chunk)
        return id

    def publish_delta(self, leg: LegState | Reasoning, text: str) -> None:
        """A piece of answer text (``leg``) or of reasoning (``leg.reasoning``)."""
        if self._held is not None:
            self._held.append((leg, "delta", text))
            return
        id = self._next_id()
        chunk = delta_bytes(id, leg.prefix, text)
        # Kept as its text, encoded again only for a client that resumes; but where ids are
        # not positions (a log reopened by a retry), as its bytes.
        self._entries.append(text if self.ids is None else chunk)
        self._legs.append(leg)
        if self._ahead:
            self._catch_up(id)
        for listener in self.listeners:
            listener.push(chunk)
        if self.sink is not None:
            self.sink(id, chunk)

    def _next_id(self) -> int:
        if self.ids is None:
            return len(self._entries) + 1
        id = (self.ids[-1] if self.ids else 0) + 1
        self.ids.append(id)
        return id

    def reopen(self) -> None:
        """A retry or an added provider: the ended turn takes events again, ids going on.
        Listeners that were there saw the end and left; new ones resume after it."""
        self.ended = False

    @classmethod
    def from_stored(cls, events: list[tuple[int, bytes]], listener_limit: int, **hooks) -> EventLog:
        """A finished turn's log rebuilt from its stored events (with their ids, and the gaps
        where its deltas were), to be reopened by a retry in a process that does not hold it."""
        log = cls(listener_limit, **hooks)
        log.ids = [id for id, _ in events]
        log._entries = [chunk for _, chunk in events]
        log._legs = [None] * len(events)
        log.ended = True
        return log

    def release(self, turn_data: dict) -> None:
        """Publish the turn event, then whatever the legs said while it was being stored."""
        held, self._held = self._held or [], None
        self.publish("turn", turn_data)
        for leg, name, data in held:
            if leg is None:
                self.publish(name, data)  # type: ignore[arg-type]  # held events other than deltas carry their data dict
            else:
                self.publish_delta(leg, data)  # type: ignore[arg-type]  # a held delta carries its text

    def end(self, turn_id: str, statuses: dict[str, str]) -> int:
        id = self.publish("end", end_data(turn_id, statuses))
        self.ended = True
        for listener in self.listeners:
            listener.close()
        return id

    def compact(self, keep: set[int]) -> None:
        """After the end: keep only the events with these ids (the turn, its dones, its end:
        what the database replay gives), and let every delta go. Listeners already hold what
        they were sent; a later one resumes from the events kept, as from the database."""
        if not self.ended or self.ids is not None or max(keep) != self.last_id:
            return  # running again, or ended again since (a retry): that end compacts it
        # The kept ids are never deltas': their entries are already bytes.
        kept = [(id, entry) for id, entry in enumerate(self._entries, start=1) if id in keep]
        self.ids = [id for id, _ in kept]
        self._entries = [chunk for _, chunk in kept]
        self._legs = [None] * len(kept)

    # -- a mirror: events encoded elsewhere -------------------------------------------------------

    def append_encoded(self, id: int, chunk: bytes, *, delta: bool) -> None:
        if self.ids is None:
            self.ids = []
        self.ids.append(id)
        self._entries.append(chunk)
        self._legs.append(None)
        if self._ahead:
            self._catch_up(id)
        for listener in self.listeners:
            if id > listener.after:  # a client may have seen it from the owner already
                (listener.push if delta else listener.push_event)(chunk)

    def close_ended(self) -> None:
        """The end came (from elsewhere): listeners finish what they have, then stop."""
        self.ended = True
        for listener in self.listeners:
            listener.close()

    def close_broken(self) -> None:
        """No more events will come: listeners stop, and their clients reconnect."""
        self.close_ended()

    # -- listening ----------------------------------------------------------------------------

    def subscribe(self, after: int = 0) -> Listener:
        """A listener that receives every event after id ``after``. A client that says it has
        ids the log has not reached (``Last-Event-ID`` beyond the last) has nothing yet: its
        listener stays quiet until the log passes that id, and is never sent one at or below."""
        listener = Listener(self.listener_limit, after, self.budget)
        start = after if self.ids is None else bisect.bisect_right(self.ids, after)
        backlog = self._encoded(start)
        if backlog:
            listener.pending.append(b"".join(backlog))
            listener.size = len(listener.pending[0])
            self.budget.used += listener.size
        if self.ended:
            listener.closed = listener.quiet = True
        else:
            if after > self.last_id:
                listener.quiet = True
                self._ahead.append(listener)
            self.listeners.add(listener)
            if self.on_listener is not None:
                self.on_listener(self)
        return listener

    def _catch_up(self, id: int) -> None:
        """Event ``id`` is being published: the quiet listeners it passes hear from now on."""
        ahead = []
        for listener in self._ahead:
            if listener.after < id:
                listener.quiet = listener.closed
            else:
                ahead.append(listener)
        self._ahead = ahead

    def unsubscribe(self, listener: Listener) -> None:
        self.listeners.discard(listener)
        if listener.quiet and listener in self._ahead:
            self._ahead.remove(listener)
        listener.release()
        if not self.listeners and not self.ended and self.on_abandoned is not None:
            self.on_abandoned(self)

    async def stream(self, after: int, first: bytes = b"") -> AsyncIterator[bytes]:
        """The bytes one client receives: the log after ``after``, then live events, until end."""
        listener = self.subscribe(after)
        try:
            if first:
                listener.pending.insert(0, first)
            while True:
                if listener.overflowed:
                    if self.on_overflow is not None:
                        self.on_overflow()
                    return
                if listener.pending:
                    yield listener.take()
                    listener.sent()  # the consumer asks for more once it has written it
                elif listener.closed:
                    return
                else:
                    await listener.wait()
        finally:
            self.unsubscribe(listener)
