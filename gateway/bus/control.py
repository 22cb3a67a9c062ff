"""Control messages between processes: cancel, reveal and rerun requests, on one pub/sub
channel that every process hears; the process that runs the turn acts.

The channel is input like any request: whoever can publish to Redis can put anything on it.
Every message is validated (``parse``); one that does not fit is logged with its reason and
skipped, and the listener goes on. A rerun's reply goes to a channel of the asker's, which
must be one this module makes: a message cannot have a process publish where it likes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

import orjson
import redis.asyncio as aioredis
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from redis.exceptions import RedisError

log = logging.getLogger("multichat.bus")

CONTROL = b"multichat:control"
REPLY_PREFIX = "multichat:reply:"
RERUN_REPLY_SECONDS = 5.0  # how long a retry waits for the process that runs its turn
RECONNECT_SECONDS = 1.0

TurnId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{22}$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Names = Annotated[list[Name], Field(max_length=50)]


class _Message(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Cancel(_Message):
    cancel: TurnId
    providers: Names | None = None


class Reveal(_Message):
    reveal: TurnId


class FuseAsk(_Message):
    """A fusion instead of a retry (``gateway.turns.fuse``): the judge, and what it fuses."""

    model: Name
    instructions: Annotated[str, StringConstraints(max_length=4000)] | None = None
    answers: Names | None = None


class Rerun(_Message):
    rerun: TurnId
    providers: Names
    add: bool
    owner: Annotated[int, Field(ge=0)]
    reply: Annotated[str, StringConstraints(pattern=f"^{REPLY_PREFIX}[0-9a-f]{{16}}$")]
    fuse: FuseAsk | None = None


Message = Cancel | Reveal | Rerun
_KINDS: dict[str, type[Message]] = {"cancel": Cancel, "reveal": Reveal, "rerun": Rerun}


class BadMessage(ValueError):
    """A control message that is not one: the reason says why, in one line."""


def parse(data: bytes) -> Message:
    try:
        raw = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise BadMessage(f"not JSON ({error.args[0]})") from None
    if not isinstance(raw, dict):
        raise BadMessage(f"not a JSON object but {type(raw).__name__}")
    kinds = [kind for kind in _KINDS if kind in raw]
    if len(kinds) != 1:
        raise BadMessage(f"names {len(kinds)} of the kinds {', '.join(_KINDS)} instead of one")
    try:
        return _KINDS[kinds[0]].model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise BadMessage(f"{kinds[0]}: {where}: {first['msg']}") from None


class Control:
    def __init__(
        self,
        redis: aioredis.Redis,
        *,
        wait_seconds: float,
        on_cancel: Callable[[str, list[str] | None], None],
        on_reveal: Callable[[str], None] | None = None,
        on_rerun: Callable[[dict], Awaitable[dict | None]] | None = None,
        warn: Callable[[str], None],
    ) -> None:
        self.redis = redis
        self.wait_seconds = wait_seconds  # a pub/sub wait, within the socket timeout
        self.on_cancel = on_cancel
        self.on_reveal = on_reveal  # a blind turn of ours was voted on elsewhere
        self.on_rerun = on_rerun  # a retry or add of a turn that may be ours (registry.rerun)
        self.warn = warn
        self._replies: set[asyncio.Task] = set()
        self._listener: asyncio.Task | None = None
        self.subscribed = asyncio.Event()  # set while the listener is subscribed

    def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="bus-control")

    def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()

    # -- asking -----------------------------------------------------------------------------------

    async def request_cancel(self, turn_id: str, providers: list[str] | None) -> None:
        await self._publish_or_raise(Cancel(cancel=turn_id, providers=providers))

    async def request_reveal(self, turn_id: str) -> None:
        """A vote reached this process: the owner tells the turn's open stream who was who."""
        try:
            await self.redis.publish(CONTROL, dumps(Reveal(reveal=turn_id)))
        except (RedisError, OSError) as error:  # the vote is stored: only the event is lost
            self.warn(f"could not ask for the reveal of turn {turn_id}: {error}")

    async def request_rerun(
        self, turn_id: str, providers: list[str], add: bool, owner: int, fuse: dict | None = None
    ) -> dict | None:
        """Ask the process that runs a turn to retry or add providers (or, with ``fuse``, to
        fuse its answers); its reply (a Rerun's fields, or an error's), or None when no
        process answered in time (or sensibly)."""
        reply_to = f"{REPLY_PREFIX}{secrets.token_hex(8)}"
        request = Rerun(
            rerun=turn_id,
            providers=providers,
            add=add,
            owner=owner,
            reply=reply_to,
            fuse=FuseAsk(**fuse) if fuse is not None else None,
        )
        try:
            async with self.redis.pubsub() as pubsub:
                await pubsub.subscribe(reply_to)
                await self.redis.publish(CONTROL, dumps(request))
                async with asyncio.timeout(RERUN_REPLY_SECONDS):
                    while True:
                        message = await pubsub.get_message(timeout=self.wait_seconds)
                        if message is not None and message.get("type") == "message":
                            return reply_of(message["data"])
        except TimeoutError:
            return None
        except (RedisError, OSError) as error:  # answered as 503, like a database away
            raise ConnectionError(f"the event bus is unavailable: {type(error).__name__}") from None

    async def _publish_or_raise(self, message: Message) -> None:
        try:
            await self.redis.publish(CONTROL, dumps(message))
        except (RedisError, OSError) as error:  # answered as 503, like a database away
            raise ConnectionError(f"the event bus is unavailable: {type(error).__name__}") from None

    # -- hearing ----------------------------------------------------------------------------------

    async def _listen(self) -> None:
        while True:
            try:
                async with self.redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(CONTROL)
                    self.subscribed.set()
                    while True:
                        # A bounded wait, answered by Redis well within the socket timeout:
                        # a quiet channel is not a dead connection, in any redis-py version.
                        message = await pubsub.get_message(timeout=self.wait_seconds)
                        if message is not None and message.get("type") == "message":
                            self.handle(message["data"])
            except (RedisError, OSError) as error:
                self.subscribed.clear()
                self.warn(f"the control channel failed: {error}")
                await asyncio.sleep(RECONNECT_SECONDS)

    def handle(self, data: bytes) -> None:
        """One message: acted on, or logged and skipped. Nothing in it stops the listener."""
        try:
            message = parse(data)
        except BadMessage as error:
            log.warning("skipped a control message: %s", error)
            return
        try:
            if isinstance(message, Cancel):
                self.on_cancel(message.cancel, message.providers)
            elif isinstance(message, Reveal):
                if self.on_reveal is not None:
                    self.on_reveal(message.reveal)
            else:
                self._answer_rerun(message)
        except Exception:  # a bug of ours acting on it: still not the listener's end
            log.exception("could not act on a control message")

    def _answer_rerun(self, request: Rerun) -> None:
        if self.on_rerun is None:
            return
        on_rerun = self.on_rerun

        async def answer() -> None:
            reply = await on_rerun(request.model_dump())
            if reply is not None:
                with contextlib.suppress(RedisError, OSError):
                    await self.redis.publish(request.reply, orjson.dumps(reply))

        task = asyncio.get_running_loop().create_task(answer())
        self._replies.add(task)
        task.add_done_callback(self._replies.discard)


def dumps(message: Message) -> bytes:
    return orjson.dumps(message.model_dump())


def reply_of(data: bytes) -> dict | None:
    """A rerun's reply: an object with an ``error``, or a Rerun's fields; else nothing."""
    try:
        reply = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(reply, dict):
        return None
    if "error" in reply:
        return reply if isinstance(reply["error"], str) else None
    fields = {"turn_id": str, "conversation_id": int, "after": int, "providers": list}
    if set(reply) != set(fields) or not all(isinstance(reply[k], t) for k, t in fields.items()):
        return None
    return reply
