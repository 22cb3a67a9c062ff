"""Shared pieces of the turn-engine tests: gateways that stop themselves, reading and stitching
event streams, polling with a deadline, and a look at the rows in PostgreSQL."""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx

from providers import PROVIDERS
from tests.support.gateways import start_gateway
from tests.support.sse_client import Event, Stream, iter_events

API = "/api/v1"


def flavour(provider: str) -> str:
    return PROVIDERS[provider].flavour


class Gateways:
    """Starts gateways on one database and simulator; stops every one of them at the end."""

    def __init__(self, database_url: str, simulator_url: str) -> None:
        self.database_url = database_url
        self.simulator_url = simulator_url
        self.started: list = []

    def start(self, **overrides: Any):
        database_url = overrides.pop("database_url", self.database_url)
        server = start_gateway(database_url, self.simulator_url, **overrides)
        self.started.append(server)
        return server

    def stop_all(self) -> None:
        for server in self.started:
            server.stop()


def sent_thread(body: dict) -> list[tuple[str, str]]:
    """The (role, text) turns of a request a simulator logged, whatever its API: Chat
    Completions and Anthropic ``messages``, Responses ``input``, Gemini ``contents``; system
    prompts and reasoning items left out."""
    if "input" in body:
        items = [i for i in body["input"] if "role" in i]
    elif "contents" in body:
        items = [
            {"role": "assistant" if c["role"] == "model" else "user", "content": c["parts"]}
            for c in body["contents"]
        ]
    else:
        items = body["messages"]
    turns = []
    for item in items:
        if item["role"] == "system":
            continue
        content = item["content"]
        if not isinstance(content, str):
            content = "".join(part.get("text", "") for part in content)
        turns.append((item["role"], content))
    return turns


async def eventually(check: Callable[[], Any], within: float = 30.0, interval: float = 0.02):
    """Poll ``check`` (sync or async) until it returns something truthy; return that value.

    ``within`` is a bound for a broken run, not a wait: a passing run returns as soon as the
    condition holds, so it is generous (a busy machine can stall a thread for seconds)."""
    deadline = time.monotonic() + within
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {within} s; last value: {value!r}")
        await asyncio.sleep(interval)


async def create_turn(client: httpx.AsyncClient, body: dict) -> dict:
    response = await client.post(f"{API}/turns", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def read_events(
    client: httpx.AsyncClient,
    url: str,
    *,
    after: int | None = None,
    via: str = "header",
    stop: Callable[[Event, Stream], bool] | None = None,
) -> tuple[int, Stream]:
    """GET an event stream (resuming after ``after`` by header or query) until it ends, or
    until ``stop(event, stream)`` is true; then close the connection (a client disconnect)."""
    headers, params = {}, {}
    if after is not None:
        if via == "header":
            headers["Last-Event-ID"] = str(after)
        else:
            params["last_event_id"] = str(after)
    stream = Stream()
    # params=None, not {}: an empty dict would drop the query an events_url carries.
    async with client.stream("GET", url, headers=headers, params=params or None) as response:
        if response.status_code == 200:
            async for event in iter_events(response, stream):
                if stop is not None and stop(event, stream):
                    break
        else:
            await response.aread()
        return response.status_code, stream


def deltas_of(provider: str, count: int) -> Callable[[Event, Stream], bool]:
    """A stop condition: ``count`` deltas of ``provider`` have arrived."""

    def enough(event: Event, stream: Stream) -> bool:
        return (
            event.name == "delta"
            and sum(1 for e in stream.named("delta") if e.data["provider"] == provider) >= count
        )

    return enough


def stitch(*parts: Stream) -> Stream:
    """Several connections' events as the one stream the client saw; asserts no gap and no
    duplicate between consecutive parts (each resumed right after the previous one's last id)."""
    whole = Stream()
    for part in parts:
        if whole.events and part.events:
            last = whole.events[-1].id
            assert part.events[0].id == last + 1, (
                f"the resumed part must start right after id {last}, got {part.events[0].id}"
            )
        whole.events.extend(part.events)
    ids = [e.id for e in whole.events]
    assert len(ids) == len(set(ids)), f"duplicate ids: {ids}"
    return whole


async def rows(database_url: str, sql: str, *args: Any) -> list[asyncpg.Record]:
    connection = await asyncpg.connect(database_url)
    try:
        return await connection.fetch(sql, *args)
    finally:
        await connection.close()


async def answer_runs(database_url: str, turn_id: str) -> dict[tuple[str, int], asyncpg.Record]:
    """A turn's stored answers by (provider, run): every run of each, retries included."""
    found = await rows(
        database_url,
        "SELECT id, provider, run, status, content, error_type, model FROM messages "
        "WHERE turn_id = $1 AND role = 'assistant' ORDER BY provider, run",
        turn_id,
    )
    return {(r["provider"], r["run"]): r for r in found}


async def answers(database_url: str, turn_id: str) -> dict[str, asyncpg.Record]:
    found = await rows(
        database_url,
        "SELECT * FROM messages WHERE turn_id = $1 AND role = 'assistant' ORDER BY id",
        turn_id,
    )
    return {row["provider"]: row for row in found}


async def metric(client: httpx.AsyncClient, name: str) -> float:
    """The value of an unlabelled metric on the gateway's GET /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and not sample.labels:
                return sample.value
    raise AssertionError(f"no {name} on /metrics")


async def turn_state(client: httpx.AsyncClient, turn_id: str) -> dict:
    response = await client.get(f"{API}/turns/{turn_id}")
    assert response.status_code == 200, response.text
    return response.json()
