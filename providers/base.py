"""The adapter interface: one provider's streaming API behind ``Adapter.stream``.

An adapter turns one provider's HTTP streaming API into the small vocabulary of chunks.py
(``str`` answer text, ``Thinking``, ``Started``, ``Finish``, ``Usage``, ``Citations``,
``Echo``, ``Ignored``), given a thread and the call's settings (messages.py).

While nothing streams, ``Adapter.stream`` also tells an optional ``on_status`` callback where
it is (``Status``): waiting for attempt k of n, retrying in so many ms, streaming. That is a
callback, not an event in the stream, so that readers of the vocabulary above are unaffected;
it is called a few times per answer, never per token.

Failures are raised as ``ProviderError``, never yielded, so that a stream that ends without
an exception ended well. ``Adapter.stream`` owns what every wire format shares: timeouts,
retries before the first token (answer or reasoning), closing the upstream response, and
keeping keys out of errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar

import httpx
import orjson

from providers.chunks import (
    Citations,
    Echo,
    Event,
    Finish,
    Ignored,
    Started,
    Status,
    Thinking,
    Usage,
)
from providers.messages import CallSettings, Image, Message, Role
from providers.models import InvalidModel, check_grammar
from providers.transport import Network

__all__ = [
    "Adapter",
    "CallSettings",
    "Citations",
    "Echo",
    "Event",
    "Finish",
    "Ignored",
    "Image",
    "Message",
    "ProviderConfig",
    "ProviderError",
    "Role",
    "Started",
    "Status",
    "Thinking",
    "UpstreamRequest",
    "Usage",
]


class ProviderError(Exception):
    """A failed upstream call, already safe to show to a user (no keys, no stack)."""

    def __init__(
        self,
        type: str,
        message: str,
        *,
        status_code: int | None = None,
        retryable: bool = False,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.type = type
        self.message = message
        self.status_code = status_code
        self.retryable = retryable
        self.retry_after = retry_after

    def as_dict(self) -> dict:
        return {
            "type": self.type,
            "message": self.message,
            "status_code": self.status_code,
            "retryable": self.retryable,
        }

    def __repr__(self) -> str:
        return f"ProviderError({self.type!r}, {self.message!r}, status_code={self.status_code})"


RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504, 529})


@dataclass(slots=True)
class ProviderConfig:
    """Everything one provider needs to make a call. Built from settings by the gateway."""

    name: str  # the API name: claude, chatgpt, gemini, grok, perplexity
    base_url: str
    model: str
    # The API within a wire format (openai, xai, perplexity ...); the registry fills it in.
    flavour: str | None = None
    # The wire format, where a provider can speak more than one (chatgpt: openai_responses,
    # or openai_chat for a server that only has Chat Completions); None: the registry's.
    wire: str | None = None
    api_key: str | None = field(default=None, repr=False)
    simulated: bool = False
    system_prompt: str | None = None
    max_tokens: int | None = 1024
    temperature: float | None = None
    connect_timeout: float = 10.0
    first_token_timeout: float = 60.0
    idle_timeout: float = 30.0
    max_attempts: int = 3
    backoff_base: float = 0.5
    max_retry_wait: float = 20.0
    # The models clients may pin besides ``model`` (<PROVIDER>_MODELS); empty: any valid name.
    models: tuple[str, ...] = ()
    # Direct or through a proxy, the CAs, a client certificate (providers/transport).
    network: Network = field(default_factory=Network)

    def defaults(self) -> CallSettings:
        """The settings a call gets where its own say nothing."""
        return CallSettings(
            system=self.system_prompt, temperature=self.temperature, max_tokens=self.max_tokens
        )


@dataclass
class Provider:
    """A configured provider: its config, its adapter, and passive health from recent answers."""

    config: ProviderConfig
    adapter: Adapter
    recent: list[bool] = field(default_factory=list)  # True for an answer, False for a failure

    def record(self, status: str) -> None:
        """An answer ended: complete, failed, or cancelled. A cancel (a user's Stop, a client
        that left, a budget or a shutdown) says nothing about the provider: it is not counted."""
        if status == "cancelled":
            return
        self.recent.append(status == "complete")
        del self.recent[:-10]

    @property
    def health(self) -> str:
        if not self.recent:
            return "unknown"
        if not any(self.recent[-3:]):
            return "down"
        return "ok" if all(self.recent[-3:]) else "degraded"


@dataclass(frozen=True, slots=True)
class UpstreamRequest:
    url: str
    headers: dict[str, str]
    body: bytes
    ignored: tuple[Ignored, ...] = ()  # settings the model was not given, and why


class Adapter:
    """One provider speaking one wire format. Subclasses implement the three format hooks."""

    wire: ClassVar[str]
    # Called with the attempt's number (1, 2 ...) as each upstream request starts: how the
    # gateway counts attempts and retries without this package knowing about metrics.
    on_attempt: Callable[[int], None] | None = None

    def __init__(self, config: ProviderConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self.client = client

    # -- format hooks -------------------------------------------------------------------------

    def build_request(
        self, thread: Sequence[Message], model: str, settings: CallSettings | None = None
    ) -> UpstreamRequest:
        """The upstream request; raises ProviderError (not retryable) for what this API can
        never take (an image type it refuses), before anything is sent."""
        raise NotImplementedError

    def effective(self, settings: CallSettings | None) -> CallSettings:
        """The call's settings over the provider's configured defaults."""
        defaults = self.config.defaults()
        return defaults if settings is None else settings.over(defaults)

    def parse_stream(self, response: httpx.Response, model: str) -> AsyncIterator[Event]:
        """Yield events from a 200 response to a request for ``model``; raise ProviderError on an in-stream error or a
        stream that ends without its terminator (type ``truncated``)."""
        raise NotImplementedError

    def error_from(
        self, payload: object, *, status_code: int | None, headers: httpx.Headers | None
    ) -> ProviderError:
        """A ProviderError with a short human message, from an error body: its parsed JSON, or
        the raw bytes when it is not JSON."""
        raise NotImplementedError

    def parse_error(self, status_code: int, headers: httpx.Headers, body: bytes) -> ProviderError:
        """Turn a non-2xx response into a ProviderError."""
        payload = loads_or_none(body)
        return self.error_from(
            payload if payload is not None else body, status_code=status_code, headers=headers
        )

    # -- shared machinery ---------------------------------------------------------------------

    async def stream(
        self,
        thread: Sequence[Message],
        model: str | None = None,
        *,
        settings: CallSettings | None = None,
        on_status: Callable[[Status], None] | None = None,
    ) -> AsyncIterator[Event]:
        """Stream one answer: retries before the first text (or reasoning) only, then relays
        until the end.

        Raises ProviderError for every failure, including timeouts and dropped connections.
        The upstream response is closed on every exit path (end, error, cancel, aclose).
        """
        model = model or self.config.model
        if model != self.config.model:  # a pinned one: admission checked more, no path skips this
            try:
                check_grammar(self.config.name, model)
            except InvalidModel as error:
                raise ProviderError("invalid_model", str(error), status_code=422) from None
        request = self.build_request(thread, model, settings)
        for ignored in request.ignored:
            yield ignored
        attempt = 0
        attempts = self.config.max_attempts
        started = False
        while True:
            attempt += 1
            if self.on_attempt is not None:
                self.on_attempt(attempt)
            if on_status is not None:
                on_status(Status("waiting", attempt, attempts))
            sent_text = False
            try:
                # aclosing: an early aclose() must close the upstream now, not at GC time.
                async with contextlib.aclosing(self._attempt(request, model)) as events:
                    async for event in events:
                        if type(event) is str or type(event) is Thinking:
                            if not sent_text:
                                sent_text = True
                                if on_status is not None:
                                    on_status(Status("streaming", attempt, attempts))
                        elif type(event) is Started:
                            if started:
                                continue
                            started = True
                        yield event
                return
            except ProviderError as error:
                if sent_text or not error.retryable or attempt >= self.config.max_attempts:
                    raise
                if error.retry_after is not None and error.retry_after > self.config.max_retry_wait:
                    raise  # asked to wait longer than we will: the retry would fail again
                delay = self._retry_delay(error, attempt)
                if on_status is not None:
                    on_status(Status("retrying", attempt + 1, attempts, round(delay * 1000)))
                await asyncio.sleep(delay)

    def _retry_delay(self, error: ProviderError, attempt: int) -> float:
        if error.retry_after is not None:
            return min(error.retry_after, self.config.max_retry_wait)
        backoff = self.config.backoff_base * (2 ** (attempt - 1))
        return min(backoff * (0.5 + random.random() / 2), self.config.max_retry_wait)

    async def _attempt(self, request: UpstreamRequest, model: str) -> AsyncGenerator[Event]:
        # Callers must not await between events: the watchdog cancels the task that iterates.
        config = self.config
        watchdog = Watchdog(config.first_token_timeout, config.idle_timeout)
        try:
            async with asyncio.timeout(None) as deadline:
                watchdog.arm(deadline)
                async with self.client.stream(
                    "POST",
                    request.url,
                    headers=request.headers,
                    content=request.body,
                    timeout=httpx.Timeout(
                        connect=config.connect_timeout,
                        read=max(config.first_token_timeout, config.idle_timeout) + 1.0,
                        write=config.connect_timeout,
                        pool=config.connect_timeout,
                    ),
                ) as response:
                    if response.status_code >= 300:
                        body = await response.aread()
                        raise self.scrub(
                            self.parse_error(response.status_code, response.headers, body)
                        )
                    yield Started(model=model)
                    async for event in self.parse_stream(response, model):
                        if type(event) is str or type(event) is Thinking:
                            watchdog.progress()
                        yield event
        except ProviderError as error:
            raise self.scrub(error) from None
        except TimeoutError:
            phase = "first token" if not watchdog.saw_text else "next chunk"
            limit = config.idle_timeout if watchdog.saw_text else config.first_token_timeout
            raise ProviderError(
                "timeout", f"no {phase} from {config.name} within {limit:g} s", retryable=True
            ) from None
        except httpx.ConnectTimeout:
            raise ProviderError(
                "connect_timeout",
                f"could not connect to {config.name} within {config.connect_timeout:g} s",
                retryable=True,
            ) from None
        except httpx.TimeoutException:
            raise ProviderError(
                "timeout", f"{config.name} stopped sending", retryable=True
            ) from None
        except (httpx.ConnectError, httpx.ProxyError) as error:
            # The transport's message says what failed (DNS, refused, TLS, the proxy's answer);
            # scrubbed all the same, in case a library echoed the proxy's credentials.
            reason = config.network.scrub(str(error)) or type(error).__name__
            raise ProviderError(
                "connect_error", f"could not connect to {config.name}: {reason}", retryable=True
            ) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError):
            raise ProviderError(
                "truncated",
                f"{config.name} closed the connection before the answer ended",
                retryable=True,
            ) from None
        except httpx.HTTPError as error:
            raise ProviderError(
                "upstream_error", f"{config.name}: {type(error).__name__}", retryable=True
            ) from None
        finally:
            watchdog.disarm()

    def scrub(self, error: ProviderError) -> ProviderError:
        """Remove the API key from a message, whatever an upstream body echoed back."""
        key = self.config.api_key
        if key and len(key) >= 4:
            error.message = scrub_secret(error.message, key)
        return error


def scrub_secret(text: str, secret: str) -> str:
    text = text.replace(secret, "***")
    # Providers echo a key's head and tail ("sk-abc***xyz"); hide any 8+ char run of it too.
    for size in (16, 12, 8):
        for start in range(0, max(len(secret) - size + 1, 0), 4):
            part = secret[start : start + size]
            if part in text:
                text = text.replace(part, "***")
    return text


class Watchdog:
    """First-token and idle-gap timeouts at O(1) per chunk.

    Rescheduling an asyncio timer on every token would allocate a TimerHandle per token; here a
    chunk only stores a timestamp, and one timer per gap period checks whether it moved.
    """

    __slots__ = ("first_token", "idle", "last", "saw_text", "_deadline", "_handle", "_loop")

    def __init__(self, first_token: float, idle: float) -> None:
        self.first_token = first_token
        self.idle = idle
        self.saw_text = False
        self.last = 0.0
        self._deadline: asyncio.Timeout | None = None
        self._handle: asyncio.TimerHandle | None = None
        self._loop = asyncio.get_running_loop()

    def arm(self, deadline: asyncio.Timeout) -> None:
        self._deadline = deadline
        self.last = self._loop.time()
        self._handle = self._loop.call_at(self.last + self.first_token, self._check)

    def progress(self) -> None:
        self.last = self._loop.time()
        if not self.saw_text:
            # The pending check is still the first-token one, which may be due long after an
            # idle gap should end: re-arm it for the idle limit, once per stream.
            self.saw_text = True
            if self._handle is not None:
                self._handle.cancel()
                self._handle = self._loop.call_at(self.last + self.idle, self._check)

    def _check(self) -> None:
        limit = self.idle if self.saw_text else self.first_token
        due = self.last + limit
        now = self._loop.time()
        if now < due:
            self._handle = self._loop.call_at(due, self._check)
        elif self._deadline is not None:
            self._deadline.reschedule(now)

    def disarm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None


def retry_after_seconds(headers: httpx.Headers) -> float | None:
    """``retry-after-ms``, then ``retry-after`` as seconds or as an HTTP date."""
    if value := headers.get("retry-after-ms"):
        try:
            return max(float(value) / 1000.0, 0.0)
        except ValueError:
            pass
    if value := headers.get("retry-after"):
        try:
            return max(float(value), 0.0)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
                return max(when.timestamp() - time.time(), 0.0)
            except (TypeError, ValueError):
                return None
    return None


def loads_or_none(body: bytes) -> object | None:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
