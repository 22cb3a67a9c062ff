"""Starting a leg on a turn that already has some: a retry, an added provider, a fusion.

Whatever the leg, the turn must be claimed before it starts, so that no two processes run legs
on one turn at once: a turn running here is claimed as ours (its providers listed again); a
turn running on another process is asked to start the leg itself, over Redis
(``ask_owner``); a finished one, in memory or only in the record (after a restart, or run
elsewhere), is reopened in the record, admitted under the process's and the key's limits and
rebuilt if need be (``finished``), all of it undone if the leg does not start. The services
say which providers the claimed turn lists and launch their own legs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

from gateway.settings import Settings
from gateway.turns.errors import Conflict, NotFound, TooBusy
from gateway.turns.limits import KeyLimits
from gateway.turns.log import EventLog
from gateway.turns.replay import StoredTurn, load_stored_turn
from gateway.turns.reruns.choice import Rerun, error_from_reply, turn_from_stored
from gateway.turns.table import TurnTable
from gateway.turns.turn import Turn
from storage import Pool, Q

if TYPE_CHECKING:
    from gateway.bus import EventBus

RUNNING_ELSEWHERE = "this turn is running on another gateway process; retry once it has ended"


class Claims:
    def __init__(
        self,
        table: TurnTable,
        settings: Settings,
        pool: Pool,
        limits: KeyLimits,
        bus: EventBus | None,
        hooked_log: Callable[[str, EventLog], EventLog],
    ) -> None:
        self.table = table
        self.settings = settings
        self.pool = pool
        self.limits = limits
        self.bus = bus
        self.hooked_log = hooked_log
        self._starting: dict[str, tuple[asyncio.Lock, int]] = {}  # turn id: its lock, its users

    @asynccontextmanager
    async def one_at_a_time(self, turn_id: str) -> AsyncIterator[None]:
        """New legs start on a running turn of ours one request at a time, from the check that
        a provider is free to the new leg in place: a claim lists every leg's run as it will be
        (a crash stores a cut retry as that run), and one made while another request was
        between its claim and its launch listed that one's provider at its old run, and let it
        be retried twice."""
        lock, users = self._starting.get(turn_id, (asyncio.Lock(), 0))
        self._starting[turn_id] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._starting.pop(turn_id)
            if users > 1:
                self._starting[turn_id] = (lock, users - 1)

    @asynccontextmanager
    async def finished(
        self,
        turn_id: str,
        turn: Turn | None,
        owner: int,
        rerun: list[str],
        providers_of: Callable[[Turn | StoredTurn], list[dict]],
    ) -> AsyncIterator[Turn]:
        """The finished turn, claimed for the legs ``rerun`` (our ended copy ``turn`` if the
        record still ends where it does, else the record's, rebuilt), listing
        ``providers_of(it)``. Should the body raise, the start is not counted and the turn, if
        nothing runs on it, is finished again."""
        if self.table.running >= self.settings.max_concurrent_turns:
            raise TooBusy("too many turns are running; try again in a moment")
        self.limits.admit(owner)
        self.table.starting += 1
        claimed = False
        try:
            if turn is not None and turn.ended:
                claimed = await self.claim(turn_id, providers_of(turn), rerun, turn.log.last_id)
            if not claimed:
                # Not in memory, or another process ran a leg on it since: the record's turn.
                record = await load_stored_turn(self.pool, turn_id)
                if record is None:
                    raise NotFound("turn")
                if record.running:
                    raise Conflict(RUNNING_ELSEWHERE)
                claimed = await self.claim(
                    turn_id, providers_of(record), rerun, record.row["end_event_id"]
                )
                if not claimed:
                    raise Conflict(RUNNING_ELSEWHERE)  # taken by another process just now
                turn = self.rebuild(record)
            assert turn is not None
            yield turn
        except BaseException:
            self.limits.release(owner)
            if claimed and turn_id not in self.table.running_legs:
                await Q.end_rerun.execute(self.pool, id=turn_id)  # nothing runs: finished again
            raise
        finally:
            self.table.starting -= 1

    def reopened(self, turn: Turn) -> None:
        """A claimed finished turn takes events again (and its stream outlives the retention,
        starting again from its history if it had expired)."""
        history = (turn.log.last_id, b"".join(turn.log.events))
        turn.log.reopen()
        self.table.keep(turn.id)
        if self.bus is not None:
            self.bus.reopened(turn.id, history)

    async def claim(
        self,
        turn_id: str,
        providers: list[dict],
        rerun: list[str],
        expected_end: int | None,
        *,
        ours: bool = False,
    ) -> bool:
        """Mark the turn running (with a lease) and list its providers; False if it is not
        (or no longer) the finished turn the caller holds."""
        claimed = await Q.reopen_turn.fetchrow(
            self.pool,
            id=turn_id,
            providers=providers,
            rerun=rerun,
            expected_end=expected_end,
            lease_seconds=self.settings.turn_lease,
            ours=ours,
        )
        return claimed is not None

    def rebuild(self, record: StoredTurn) -> Turn:
        """A finished turn from the record (as read before it was reopened), live again."""
        turn_id = record.row["id"]
        events = EventLog.from_stored(
            record.numbered_events_after(0, as_finished=True), self.settings.listener_buffer_bytes
        )
        turn = turn_from_stored(record, self.hooked_log(turn_id, events))
        self.table.turns[turn_id] = turn
        return turn

    async def ask_owner(
        self,
        turn_id: str,
        entries: Sequence[str],
        add: bool,
        owner: int,
        fuse: dict | None = None,
    ) -> Rerun:
        """Have the process that runs the turn start the rerun (or fusion), over Redis."""
        if self.bus is None:
            raise Conflict(RUNNING_ELSEWHERE)
        reply = await self.bus.request_rerun(turn_id, list(entries), add, owner, fuse=fuse)
        if reply is None:
            raise Conflict(RUNNING_ELSEWHERE)  # its owner did not answer (gone?)
        if "error" in reply:
            raise error_from_reply(reply)
        return Rerun(**reply)
