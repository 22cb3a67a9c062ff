"""Taking over the turns of a process that died: what its listeners were sent is what is
stored, and every listener, on every process, gets its dones and its end.

The dead owner's turns are in their Redis Streams up to its last publish (5 ms before it
died, at most). The taker first marks each turn taken (so the owner, were it only frozen,
publishes nothing more there), reads the stream, stores for each provider without a ``done``
the text its deltas carried (and the reasoning its thinking events carried), as a failed answer
(``interrupted``), and so for a fusion cut short (with the judge, model and sources its
``start`` named), marks the turn
interrupted with the ids its dones and end will have, and appends those events to the
stream, numbered on from its last: a mirror sees no gap, and a client that resumes from
PostgreSQL later gets the same ids.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import asyncpg
import orjson
import redis.asyncio as aioredis

from gateway.bus.publisher import UNFINISHED_TTL
from gateway.bus.wire import entry_events, event_data, event_name, stream_key, taken_key
from gateway.turns.fuse.state import FUSE
from gateway.turns.replay import load_stored_turn
from storage import Q

log = logging.getLogger("multichat.bus")


@dataclass
class SentSoFar:
    """What a turn's listeners were sent, read back from its stream."""

    texts: dict[str, str] = field(default_factory=dict)  # by provider or blind label
    thinking: dict[str, str] = field(default_factory=dict)
    dones: dict[str, int] = field(default_factory=dict)  # the ids of the dones of runs over
    fusion: dict | None = None  # the start of a fusion whose done was not sent
    ended: bool = False


def sent_so_far(events: list[tuple[int, bytes]]) -> SentSoFar:
    """From a turn's stream: each provider's (or blind label's) text and reasoning since its
    last done, the ids of the dones of the runs that are over, and whether the turn's end was
    sent."""
    parts: dict[bytes, dict[str, list[str]]] = {b"delta": {}, b"thinking": {}}
    sent = SentSoFar()
    for id, chunk in events:
        name = event_name(chunk)
        if name == b"end":
            sent.ended = True
            continue
        if name not in (b"delta", b"thinking", b"start", b"done"):
            continue
        sent.ended = False  # a retry reopened the turn after that end
        data = event_data(chunk)
        who: str = data.get("provider") or data["label"]
        if name == b"done":
            sent.dones[who] = id
            for texts in parts.values():
                texts.pop(who, None)
            if who == FUSE:
                sent.fusion = None
            continue
        sent.dones.pop(who, None)  # a retry of it runs
        if name == b"start" and who == FUSE:
            sent.fusion = data
        if name in parts:
            parts[name].setdefault(who, []).append(data["text"])
    sent.texts = {who: "".join(texts) for who, texts in parts[b"delta"].items()}
    sent.thinking = {who: "".join(texts) for who, texts in parts[b"thinking"].items()}
    return sent


async def take_over(
    redis: aioredis.Redis, pool: asyncpg.Pool, turn_id: str, *, by: str, retention: float
) -> bool:
    """Finish one turn of a dead owner; False when there was nothing to finish."""
    await redis.set(taken_key(turn_id), by, ex=UNFINISHED_TTL)
    events = entry_events(await redis.xrange(stream_key(turn_id)))
    sent = sent_so_far(events)
    stored = await load_stored_turn(pool, turn_id)
    if stored is None or sent.ended:
        return False
    last = events[-1][0] if events else 0
    by_name = {e.get("label") or e["provider"]: e["provider"] for e in stored.row["providers"]}
    by_name[FUSE] = FUSE
    # The record keeps the done ids of the legs a retry or fusion did not rerun: should the
    # stream hold only the new run (one restarted without the turn's history, as before the
    # owner wrote it there), those dones stay where they were.
    done_ids = dict(stored.row["done_event_ids"] or {})
    done_ids |= {by_name[who]: id for who, id in sent.dones.items() if who in by_name}
    missing = [entry["provider"] for entry in stored.row["providers"]]
    missing = [provider for provider in missing if provider not in done_ids]
    cut = missing + ([FUSE] if sent.fusion is not None else [])
    for offset, name in enumerate(cut, start=1):
        done_ids[name] = last + offset
    contents = {by_name[who]: text for who, text in sent.texts.items() if who in by_name}
    thinking = {by_name[who]: text for who, text in sent.thinking.items() if who in by_name}
    fusion = sent.fusion or {}
    if stored.running:
        taken = await Q.take_over_turn.fetch(
            pool,
            id=turn_id,
            providers=missing,
            contents=[contents.get(provider, "") for provider in missing],
            thinkings=[thinking.get(provider) for provider in missing],
            done_event_ids=orjson.dumps(done_ids).decode(),
            end_event_id=last + len(cut) + 1,
            fusion_judge=fusion.get("judge"),
            fusion_model=fusion.get("model"),
            fused_from=fusion.get("fused_from") or [],
            fusion_content=contents.get(FUSE, ""),
            fusion_thinking=thinking.get(FUSE),
        )
        if not taken:
            log.info("turn %s was finished by another process meanwhile", turn_id)
    stored = await load_stored_turn(pool, turn_id)
    if stored is None or stored.running:
        return False
    pipe = redis.pipeline(transaction=False)
    for id, chunk in stored.numbered_events_after(last):
        pipe.xadd(stream_key(turn_id), {b"e": chunk}, id=f"{id}-0")
    pipe.expire(stream_key(turn_id), max(int(retention), 1))
    await pipe.execute(raise_on_error=False)
    return True
