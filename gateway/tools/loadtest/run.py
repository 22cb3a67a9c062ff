"""Running a load: the simulated users, their turns in each mode, and the run around them.

Every client runs turns in a loop on its kept-alive connection(s), each timed from the moment
its request is written; all of them share one ``Stats`` (one event loop, so no locks).
"""

from __future__ import annotations

import asyncio
import sys
import time

import orjson

from gateway.tools.loadtest.client import (
    JSON_CONTENT,
    SSE_ACCEPT,
    BrokenStream,
    Connection,
    Endpoint,
    Response,
    build_request,
)
from gateway.tools.loadtest.config import LoadConfig
from gateway.tools.loadtest.gateway_stream import GatewayStream
from gateway.tools.loadtest.native import NativeStream, native_request
from gateway.tools.loadtest.report import LoadReport
from gateway.tools.loadtest.stats import Stats


def gateway_key(index: int) -> str:
    """The key of a gateway's connection and request (direct mode keys by provider)."""
    return f"gateway {index}"


def requests_for(config: LoadConfig) -> dict[str, bytes]:
    """Each request a turn sends, built once for the whole run: each gateway's (by the mode),
    or in direct mode one native request per provider."""
    if config.direct:
        assert config.simulator_url is not None
        return {
            provider: native_request(
                provider, config.model(provider), config.prompt, config.simulator_url
            )
            for provider in config.providers
        }
    body = orjson.dumps(
        {"prompt": config.prompt, "conversation_id": None, "models": config.gateway_models()}
    )
    path = "/api/v1/turns" if config.eventsource else "/api/v1/chat/stream"
    accept = "Accept: application/json" if config.eventsource else SSE_ACCEPT
    # A turn's events_url carries its own token: only the POST needs the key.
    credentials = [f"Authorization: Bearer {config.key}"] if config.key else []
    return {
        gateway_key(index): build_request(
            "POST", Endpoint.parse(url).authority, path, body, [accept, JSON_CONTENT, *credentials]
        )
        for index, url in enumerate(config.urls)
    }


class Client:
    """One simulated user: a keep-alive connection (one per provider in direct mode) and a loop
    of turns, each timed from the moment its request is written."""

    def __init__(
        self, config: LoadConfig, stats: Stats, requests: dict[str, bytes], index: int = 0
    ) -> None:
        self.config = config
        self.stats = stats
        self.connections: dict[str, Connection] = {}
        self.endpoints = (
            {provider: Endpoint.parse(config.simulator_url) for provider in config.providers}  # type: ignore[arg-type]  # direct mode: the config requires the simulator URL
            if config.direct
            else {gateway_key(i): Endpoint.parse(url) for i, url in enumerate(config.urls)}
        )
        self.requests = requests
        self.index = index  # where this client's round robin over the gateways starts
        self.turns_sent = 0

    async def run(self, delay: float, deadline: float | None, turns: int | None) -> None:
        if delay:
            await asyncio.sleep(delay)
        done = 0
        try:
            while (turns is None or done < turns) and (
                deadline is None or time.monotonic() < deadline
            ):
                done += 1
                if not await self.turn():
                    await asyncio.sleep(0.05)  # a refused or broken turn: do not spin
        finally:
            for connection in self.connections.values():
                connection.close()

    async def connection(self, key: str) -> Connection:
        connection = self.connections.get(key)
        if connection is None or connection.closed or not connection.reusable:
            if connection is not None:
                connection.close()
            target = self.endpoints[key]
            async with asyncio.timeout(self.config.connect_timeout):
                connection = await Connection.open(target.host, target.port)
            connection.reusable = True
            self.connections[key] = connection
        return connection

    async def turn(self) -> bool:
        """One turn; True when it completed cleanly (every leg complete, no violation)."""
        stats = self.stats
        stats.turns_started += 1
        stats.open_turns += 1
        stats.peak_open_turns = max(stats.peak_open_turns, stats.open_turns)
        try:
            async with asyncio.timeout(self.config.turn_timeout):
                if self.config.direct:
                    ok = await self.direct_turn()
                elif self.config.eventsource:
                    ok = await self.eventsource_turn()
                else:
                    ok = await self.stream_turn()
        except TimeoutError:
            ok = self.broken("timeout")
        except BrokenStream as error:
            ok = self.broken(error.kind)
        except OSError as error:  # refused, reset while writing ...
            ok = self.broken(f"socket {type(error).__name__}")
        finally:
            stats.open_turns -= 1
        if ok:
            stats.turns_ok += 1
        else:
            stats.turns_failed += 1
        return ok

    def broken(self, kind: str) -> bool:
        self.stats.error(f"broken stream: {kind}")
        for connection in self.connections.values():
            connection.close()
        self.connections.clear()
        return False

    def next_gateways(self) -> tuple[str, str]:
        """The keys of the gateway this turn is sent to and of the one its events are read
        from (the same one but in eventsource mode with ``listen`` other than owner)."""
        count = len(self.config.urls)
        sent, self.turns_sent = self.turns_sent, self.turns_sent + 1
        owner = (self.index + sent) % count
        listen = self.config.listen
        elsewhere = listen == "other" or (listen == "alternate" and sent % 2 == 1)
        return gateway_key(owner), gateway_key((owner + 1) % count if elsewhere else owner)

    async def stream_turn(self) -> bool:
        key, _ = self.next_gateways()
        connection = await self.connection(key)
        reader = GatewayStream(self.stats, time.perf_counter_ns(), self.config.providers)
        response = await connection.send(self.requests[key], reader)
        return self.settle_gateway(response, reader)

    async def eventsource_turn(self) -> bool:
        owner, listener = self.next_gateways()
        connection = await self.connection(owner)
        sent = time.perf_counter_ns()
        created = await connection.send(self.requests[owner])
        if created.status != 201:
            self.stats.error(f"http {created.status}")
            return False
        events_url = orjson.loads(created.body)["events_url"]
        reader = GatewayStream(self.stats, sent, self.config.providers)
        authority = self.endpoints[listener].authority
        request = build_request("GET", authority, events_url, None, [SSE_ACCEPT])
        connection = await self.connection(listener)
        response = await connection.send(request, reader)
        return self.settle_gateway(response, reader)

    def settle_gateway(self, response: Response, reader: GatewayStream) -> bool:
        stats = self.stats
        if response.status != 200:
            stats.error(f"http {response.status}")
            return False
        checker = reader.checker
        violations = checker.finish()
        where = f"turn {checker.turn_id or '?'}"
        for violation in violations:
            stats.violation(violation.kind, violation.detail, where)
        stats.reported_ttft.extend(checker.reported_ttft)
        for _, status, kind in checker.failures:
            stats.error(f"leg {status}: {kind}")
        if reader.ended_at:
            stats.turn_time.append(reader.ended_at - reader.sent)
        return not violations and not checker.failures

    async def direct_turn(self) -> bool:
        """One request per provider, all written before any is awaited (like the gateway's
        legs), each on its own kept-alive connection."""
        pending: list[tuple[str, NativeStream, asyncio.Future[Response]]] = []
        connections = [await self.connection(p) for p in self.config.providers]
        first = time.perf_counter_ns()
        for provider, connection in zip(self.config.providers, connections, strict=True):
            reader = NativeStream(provider, self.stats, time.perf_counter_ns())
            pending.append((provider, reader, connection.send(self.requests[provider], reader)))
        ok, last_end = True, 0
        for provider, reader, future in pending:
            try:
                response = await future
            except BrokenStream as error:
                self.stats.error(f"broken stream: {error.kind}")
                self.connections.pop(provider).close()
                ok = False
                continue
            if response.status != 200:
                self.stats.error(f"http {response.status}")
                ok = False
            elif reader.failed:
                self.stats.error("leg failed: in-stream error")
                ok = False
            elif not reader.ended_at:
                self.stats.error("broken stream: no end marker")
                ok = False
            last_end = max(last_end, reader.ended_at)
        if ok:
            self.stats.turn_time.append(last_end - first)
        return ok


async def run_load(config: LoadConfig) -> LoadReport:
    """Run the configured load and return its report (the caller's event loop is used)."""
    config.validate()
    turns = config.turns if config.turns is not None or config.duration is not None else 1
    stats = Stats(config)
    started, cpu_started = time.monotonic(), time.process_time()
    deadline = started + config.duration if config.duration is not None else None
    step = config.ramp_up / config.clients
    requests = requests_for(config)
    clients = [Client(config, stats, requests, index) for index in range(config.clients)]
    tasks = [
        asyncio.create_task(client.run(index * step, deadline, turns))
        for index, client in enumerate(clients)
    ]
    show = sys.stderr.isatty() if config.progress is None else config.progress
    progress = asyncio.create_task(show_progress(stats, started)) if show else None
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        if progress is not None:
            progress.cancel()
            print(file=sys.stderr)
    return LoadReport(config, time.monotonic() - started, time.process_time() - cpu_started, stats)


async def show_progress(stats: Stats, started: float, every: float = 1.0) -> None:
    """One rewritten line on stderr, once a second: cheap next to the streams."""
    previous_tokens, previous_time = 0, started
    while True:
        await asyncio.sleep(every)
        now = time.monotonic()
        rate = (stats.deltas - previous_tokens) / max(now - previous_time, 1e-9)
        previous_tokens, previous_time = stats.deltas, now
        sys.stderr.write(
            f"\r[{now - started:6.1f}s] turns {stats.turns_ok} ok {stats.turns_failed} failed, "
            f"open {stats.open_turns}, tokens {stats.deltas} ({rate:,.0f}/s), "
            f"errors {sum(stats.errors.values())}, violations {stats.violations}   "
        )
        sys.stderr.flush()
