"""Stored rows as events: the one mapping from PostgreSQL back to what the wire carried.

A finished turn replays with the ids its events had on the wire (stored when it ended);
deltas are not stored, but each ``done`` carries the whole text. The same mapping gives the
``done`` data, the turn's snapshot and each stored answer's error, for every caller.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import asyncpg

from gateway.turns.errors import NotFound
from gateway.turns.events import done_data, end_data, event_bytes, turn_data
from gateway.turns.fuse.state import FUSE, fuse_done
from gateway.turns.turn import FusionSnapshot, ProviderSnapshot, TurnSnapshot
from gateway.turns.turn_settings import TurnSettings
from storage import Pool, Q

INTERRUPTED_IDS = 1_000_000_000  # a crashed turn's replay numbers its dones and end from here


def answer_error(row: Mapping, *, retryable: bool = False) -> dict | None:
    """An answer's error, as its done event carries it: from a stored row, or from the
    ``Answer`` a leg is storing (whose fields have the same names)."""
    if not row["error_type"]:
        return None
    return {
        "type": row["error_type"],
        "message": row["error_message"] or "",
        "status_code": row["error_status_code"],
        "retryable": retryable,
    }


def done_from_row(row: Mapping, label: str | None = None) -> dict:
    return done_data(row, row["id"], answer_error(row), label)


def fusion_done_from_row(row: Mapping) -> dict:
    return fuse_done(row, row["id"], answer_error(row))


def fusion_from_row(row: Mapping | None) -> FusionSnapshot | None:
    if row is None:
        return None
    return FusionSnapshot(
        row["judge_provider"] or "",
        row["model"],
        row["status"],
        row["id"],
        tuple(row["fused_from"] or ()),
        row["content"],
    )


@dataclass(frozen=True, slots=True)
class StoredTurn:
    row: asyncpg.Record
    # By provider: its latest answer (a retry's, if any); FUSE: the turn's latest fusion.
    answers: dict[str, asyncpg.Record]
    cost_usd: float | None = None  # what every answer of the turn cost, retries included

    @property
    def running(self) -> bool:
        return self.row["status"] == "running"

    @property
    def settings(self) -> TurnSettings:
        return TurnSettings.from_json(self.row["settings"], self.row["attachments"] or ())

    def snapshot(self) -> TurnSnapshot:
        row = self.row
        providers = []
        for entry in row["providers"]:
            answer = self.answers.get(entry["provider"])
            providers.append(
                ProviderSnapshot(
                    entry["provider"],
                    entry["model"],
                    entry["simulated"],
                    answer["status"] if answer else "pending",
                    answer["id"] if answer else None,
                    entry.get("label"),
                )
            )
        return TurnSnapshot(
            row["id"],
            row["conversation_id"],
            row["user_message_id"],
            row["status"],
            providers,
            self.cost_usd,
            self.settings,
            fusion_from_row(self.answers.get(FUSE)),
        )

    def events_after(self, after: int) -> tuple[list[bytes], bool]:
        """(the events after id ``after``, ended?)"""
        events, ended = self._events(after)
        return [chunk for _, chunk in events], ended

    def numbered_events_after(
        self, after: int, *, as_finished: bool = False
    ) -> list[tuple[int, bytes]]:
        """``as_finished``: the stored events even of a turn marked running (one that a retry
        has just reopened here)."""
        return self._events(after, as_finished)[0]

    def _events(
        self, after: int, as_finished: bool = False
    ) -> tuple[list[tuple[int, bytes]], bool]:
        row = self.row
        turn = event_bytes(
            1,
            "turn",
            turn_data(row["id"], row["conversation_id"], row["user_message_id"], row["providers"]),
        )
        if self.running and not as_finished:
            # Running in another process (or its owner just died): only the turn event is safe;
            # the client's EventSource comes back after `retry` ms and finds more.
            return ([(1, turn)] if after < 1 else []), False
        done_ids = row["done_event_ids"] or {}
        events: list[tuple[int, bytes]] = [(1, turn)]
        statuses = {}
        for index, entry in enumerate(row["providers"], start=1):
            answer = self.answers.get(entry["provider"])
            if answer is None:
                continue
            # Interrupted: the ids the live stream had died with its gateway. Number the rest
            # above any id a live stream reaches, and the same on every replay, so that a
            # client that saw the end gets 204 next time instead of the dones all over again.
            id = done_ids.get(entry["provider"], INTERRUPTED_IDS + index)
            label = entry.get("label")
            events.append((id, event_bytes(id, "done", done_from_row(answer, label))))
            statuses[label or entry["provider"]] = answer["status"]
        if (fusion := self.answers.get(FUSE)) is not None:  # its latest fusion
            id = done_ids.get(FUSE, INTERRUPTED_IDS + len(row["providers"]) + 1)
            events.append((id, event_bytes(id, "done", fusion_done_from_row(fusion))))
            statuses[FUSE] = fusion["status"]
        end_id = row["end_event_id"] or max(id for id, _ in events) + 1
        events.append((end_id, event_bytes(end_id, "end", end_data(row["id"], statuses))))
        return [(id, chunk) for id, chunk in sorted(events, key=lambda e: e[0]) if id > after], True


async def load_stored_turn(pool: Pool, turn_id: str) -> StoredTurn | None:
    row = await Q.get_turn.fetchrow(pool, id=turn_id)
    if row is None:
        return None
    every = await Q.turn_answers.fetch(pool, turn_id=turn_id)
    answers = {a["provider"]: a for a in every}  # in id order: the latest of each wins
    return StoredTurn(row, answers, sum_costs(a["cost_usd"] for a in every))


async def load_owned_turn(pool: Pool, turn_id: str, owner: int = 0) -> StoredTurn:
    """The stored turn if it is ``owner``'s; another key's turn is as good as absent."""
    stored = await load_stored_turn(pool, turn_id)
    if stored is None or stored.row["owner"] != owner:
        raise NotFound("turn")
    return stored


def sum_costs(costs) -> float | None:
    """The sum of the costs that are known; None when none is."""
    known = [c for c in costs if c is not None]
    return round(sum(known), 8) if known else None
