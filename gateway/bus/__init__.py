"""The live event bus across processes: each running turn's events, also in a Redis Stream.

PostgreSQL stays the record; Redis is a cache of live events, so that any gateway process can
serve any turn's stream, whichever process runs it. In rooms of one idea each:

* ``wire``: the keys, and the format of a stream's entries;
* ``connection``: the Redis client, its timeouts set so that a quiet bus is never a dead one;
* ``publisher``: the owner's side, every event to the turn's stream in batched calls;
* ``control``: cancel, reveal and rerun requests between processes, validated;
* ``mirror``: everyone else's side, a turn's stream as a local event log, and presence;
* ``eventbus``: ``EventBus``, the one object a process has, made of those.

If Redis goes away, the owner's own listeners go on from memory and nothing stored is lost.
"""

from gateway.bus.eventbus import EventBus
from gateway.bus.wire import stream_key

__all__ = ["EventBus", "stream_key"]
