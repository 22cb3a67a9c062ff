"""The three wire-format adapters, fed through respx the recorded traffic and the error bodies
of the wire-format reference (shared/reference/provider-wire-formats.md), plus retries,
timeouts, request bodies and closing the upstream.

Chunks marked "recorded" are copied byte for byte from the reference; the rest follow the
shapes it documents, with the parts it elides ("…") filled in.
"""

from __future__ import annotations

import asyncio
import gzip
import re
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence

import httpx
import orjson
import pytest
import respx

from providers import common
from providers.base import (
    Adapter,
    Citations,
    Echo,
    Event,
    Finish,
    Message,
    ProviderConfig,
    ProviderError,
    Started,
    Thinking,
    Usage,
)
from providers.common import merge_turns, normalise_finish
from providers.registry import PROVIDERS, make_adapter
from tests.support.recorded import (
    AKC,
    ANTHROPIC_BASIC,
    GEMINI_25_FLASH,
    HORSE,
    OPENAI_2024,
    OPENAI_2026,
    PERPLEXITY,
    RD,
    RECORDED,
    XAI_GROK_4_FAST,
    pre_stream_errors,
)

KEY = "sk-proj-Zq8XbK2mN4pL7vR1tY6wE3uI9oA5sD0f"

BASE_URLS = {
    "chatgpt": "https://api.openai.test/v1",
    "grok": "https://api.x.test/v1",
    "perplexity": "https://api.perplexity.test",
    "claude": "https://api.anthropic.test",
    "gemini": "https://gemini.test",
}


def endpoint(name: str, model: str | None = None) -> str:
    base = BASE_URLS[name]
    if name == "claude":
        return f"{base}/v1/messages"
    if name == "gemini":
        model = model or PROVIDERS[name].model
        return f"{base}/v1beta/models/{model}:streamGenerateContent?alt=sse"
    return f"{base}/chat/completions"


THREAD = [Message("user", "Say hi in Portuguese")]


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as http:
        yield http


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=False) as mock:
        yield mock


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Retry waits, recorded instead of slept: the test's own, on its thread. (asyncio.sleep is
    patched for the whole process: a server running in another thread, such as the session's
    simulator, sleeps as usual and is not recorded.)"""
    recorded: list[float] = []
    real_sleep = asyncio.sleep
    test_thread = threading.get_ident()

    async def fake_sleep(delay: float, result: object = None) -> object:
        if threading.get_ident() != test_thread:
            return await real_sleep(delay, result)
        if delay:
            recorded.append(delay)
        return await real_sleep(0, result)

    monkeypatch.setattr(asyncio, "sleep", fake_sleep)
    return recorded


def make(name: str, client: httpx.AsyncClient, **overrides: object) -> Adapter:
    """The recorded Chat Completions traffic here is ChatGPT's over its Chat Completions wire
    (CHATGPT_WIRE=openai_chat); its Responses wire is tested in test_adapters_reasoning.py."""
    settings: dict = {
        "wire": "openai_chat" if name == "chatgpt" else None,
        "name": name,
        "base_url": BASE_URLS[name],
        "model": PROVIDERS[name].model,
        "api_key": KEY,
        "max_attempts": 1,
        "backoff_base": 0.001,
        "max_retry_wait": 60.0,
    }
    settings.update(overrides)
    return make_adapter(ProviderConfig(**settings), client)


def lf_stream(*events: str) -> bytes:
    return "".join(f"{event}\n\n" for event in events).encode()


def crlf_stream(*events: str) -> bytes:
    return "".join(event.replace("\n", "\r\n") + "\r\n\r\n" for event in events).encode()


def split(stream: bytes, chunking: str) -> list[bytes]:
    if chunking == "whole":
        return [stream]
    if chunking == "per event":
        return [part for part in re.split(rb"(?<=\n\n)|(?<=\r\n\r\n)", stream) if part]
    return [stream[i : i + 7] for i in range(0, len(stream), 7)]


def sse(*chunks: bytes) -> Callable[[httpx.Request], httpx.Response]:
    """A respx side effect: a fresh streaming body for every call."""

    def respond(request: httpx.Request) -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            for chunk in chunks:
                yield chunk

        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    return respond


def json_error(status: int, body: object, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else orjson.dumps(body)
    return httpx.Response(
        status, headers={"content-type": "application/json", **(headers or {})}, content=content
    )


async def collect(
    adapter: Adapter, thread: Sequence[Message] = THREAD, model: str | None = None
) -> list[Event]:
    return [event async for event in adapter.stream(thread, model)]


async def failure(adapter: Adapter, received: list[Event] | None = None) -> ProviderError:
    received = [] if received is None else received
    with pytest.raises(ProviderError) as caught:
        async for event in adapter.stream(THREAD):
            received.append(event)
    return caught.value


@pytest.fixture(params=["per event", "whole", "7 bytes"])
def chunking(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.mark.parametrize(("name", "stream", "expected"), RECORDED)
async def test_recorded_stream(
    name: str,
    stream: bytes,
    expected: list[Event],
    chunking: str,
    router: respx.MockRouter,
    client: httpx.AsyncClient,
) -> None:
    router.post(endpoint(name)).mock(side_effect=sse(*split(stream, chunking)))
    events = await collect(make(name, client))
    assert events == [Started(PROVIDERS[name].model), *expected]


async def test_perplexity_accepts_an_optional_done(
    router: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    router.post(endpoint("perplexity")).mock(side_effect=sse(PERPLEXITY + b"data: [DONE]\n\n"))
    events = await collect(make("perplexity", client))
    assert events[-3:] == [Citations((HORSE, RD, AKC)), Finish("stop", "stop"), Usage(7, 8)]


async def test_anthropic_thinking_apart_and_unknown_events_ignored(
    router: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    stream = lf_stream(
        'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":30,"output_tokens":1}}}',
        'event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"thinking","thinking":""}}',
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"thinking_delta","thinking":"Let me think"}}',
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"signature_delta","signature":"EqQB"}}',
        'event: content_block_start\ndata: {"type":"content_block_start","index":1,"content_block":{"type":"hologram"}}',
        'event: mystery_event\ndata: {"type":"mystery_event","text":"not answer text"}',
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":2,"delta":{"type":"text_delta","text":"Answer"}}',
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":3,"delta":{"type":"input_json_delta","partial_json":"{\\"a\\""}}',
        'event: message_delta\ndata: {"type":"message_delta","delta":{"stop_reason":"max_tokens"},"usage":{"input_tokens":31,"output_tokens":50}}',
        'event: message_stop\ndata: {"type":"message_stop"}',
    )
    router.post(endpoint("claude")).mock(side_effect=sse(stream))
    events = await collect(make("claude", client))
    assert events == [
        Started("claude-sonnet-5"),
        Thinking("Let me think"),
        "Answer",
        Finish("length", "max_tokens"),
        Usage(31, 50),
        Echo(
            {
                "model": "claude-sonnet-5",
                "content": [{"type": "thinking", "thinking": "Let me think", "signature": "EqQB"}],
            }
        ),
    ]


async def test_gemini_thought_parts_apart_and_the_rest_joined(
    router: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    stream = crlf_stream(
        'data: {"candidates":[{"content":{"parts":[{"text":"Planning the reply","thought":true},{"text":"Hello"},{"text":", world"}],"role":"model"},"index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":3}}',
        'data: {"candidates":[{"content":{"parts":[{"text":"More thoughts","thought":true}],"role":"model"},"finishReason":"MAX_TOKENS","index":0}],"usageMetadata":{"promptTokenCount":5,"candidatesTokenCount":9}}',
    )
    router.post(endpoint("gemini")).mock(side_effect=sse(stream))
    events = await collect(make("gemini", client))
    assert events == [
        Started("gemini-3.5-flash"),
        Thinking("Planning the reply"),
        "Hello, world",
        Thinking("More thoughts"),
        Finish("length", "MAX_TOKENS"),
        Usage(5, 9),
    ]


async def test_a_server_that_compresses_anyway(
    router: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    router.post(endpoint("chatgpt")).mock(
        return_value=httpx.Response(
            200,
            headers={"content-type": "text/event-stream", "content-encoding": "gzip"},
            content=gzip.compress(OPENAI_2026),
        )
    )
    events = await collect(make("chatgpt", client))
    assert events == [Started("gpt-5.5"), "Olá", Finish("stop", "stop"), Usage(20, 2, 0)]


async def test_a_server_that_stays_open_after_done_is_not_waited_for(
    router: respx.MockRouter, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(common, "DRAIN_TIMEOUT", 0.05)

    def respond(request: httpx.Request) -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            yield OPENAI_2026
            yield b'data: {"choices":[{"delta":{"content":"after the end"}}]}\n\n'
            await asyncio.sleep(3600)  # waited for, the test would hit pytest's timeout

        return httpx.Response(200, content=body())

    router.post(endpoint("chatgpt")).mock(side_effect=respond)
    events = await collect(make("chatgpt", client))
    assert events == [Started("gpt-5.5"), "Olá", Finish("stop", "stop"), Usage(20, 2, 0)]


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("stop", "stop"),
        ("length", "length"),
        ("content_filter", "content_filter"),
        ("tool_calls", "tool_calls"),
        ("function_call", "tool_calls"),
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("max_tokens", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("pause_turn", "other"),
        ("STOP", "stop"),
        ("MAX_TOKENS", "length"),
        ("SAFETY", "content_filter"),
        ("RECITATION", "content_filter"),
        ("MALFORMED_FUNCTION_CALL", "other"),
        ("something_new", "other"),
    ],
)
def test_finish_reasons_normalise(raw: str, normalised: str) -> None:
    assert normalise_finish(raw) == normalised


# -- errors before the stream (tests/data/adapters/errors-before-the-stream.json) ------------


def error_response(case: dict) -> httpx.Response:
    if "json" in case:
        return json_error(case["status"], case["json"], case.get("headers"))
    return httpx.Response(
        case["status"], headers=case.get("headers"), content=case["text"].encode()
    )


PRE_STREAM_ERRORS = [
    pytest.param(
        case["provider"],
        error_response(case),
        tuple(case["expected"][k] for k in ("type", "message", "retryable", "retry_after")),
        id=case["id"],
    )
    for case in pre_stream_errors()
]


@pytest.mark.parametrize(("name", "response", "expected"), PRE_STREAM_ERRORS)
async def test_error_before_the_stream(
    name: str,
    response: httpx.Response,
    expected: tuple[str, str, bool, float | None],
    router: respx.MockRouter,
    client: httpx.AsyncClient,
) -> None:
    route = router.post(endpoint(name)).mock(return_value=response)
    error = await failure(make(name, client))
    assert (error.type, error.message, error.retryable, error.retry_after) == expected
    assert error.status_code == response.status_code
    assert route.call_count == 1


# -- keys never reach a message ---------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        f"Invalid value for 'user': {KEY}.",
        f"Key {KEY[:12]}...{KEY[-12:]} is not allowed for model x.",
        f"Bad header: Bearer {KEY}",
    ],
)
async def test_an_echoed_key_never_reaches_the_message(
    message: str, router: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
    router.post(endpoint("chatgpt")).mock(return_value=json_error(400, body))
    error = await failure(make("chatgpt", client))
    assert error.type == "bad_request"
    assert error.message.startswith("chatgpt rejected the request (HTTP 400): ")
    for start in range(0, len(KEY) - 8):
        assert KEY[start : start + 8] not in error.message


async def test_an_echoed_key_in_a_stream_error_is_scrubbed(
    router: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    stream = lf_stream(
        f'event: error\ndata: {{"type":"error","error":{{"type":"invalid_request_error","message":"key {KEY} was revoked"}}}}'
    )
    router.post(endpoint("claude")).mock(side_effect=sse(stream))
    error = await failure(make("claude", client))
    assert error.message == "claude rejected the request: key *** was revoked"


# -- errors inside the stream -----------------------------------------------------------------


async def test_anthropic_error_event_after_text(
    router: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    stream = lf_stream(
        'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":11,"output_tokens":1}}}',
        'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hel"}}',
        'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}',
    )
    route = router.post(endpoint("claude")).mock(side_effect=sse(stream))
    received: list[Event] = []
    error = await failure(make("claude", client, max_attempts=3), received)
    assert received == [Started("claude-sonnet-5"), "Hel"]
    assert (error.type, error.message, error.retryable, error.status_code) == (
        "overloaded",
        "claude is overloaded",
        True,
        None,
    )
    assert route.call_count == 1  # text was already relayed: no retry


async def test_openai_data_line_error(router: respx.MockRouter, client: httpx.AsyncClient) -> None:
    stream = lf_stream(
        'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"Partial"},"finish_reason":null}]}',
        'data: {"error":{"message":"The server experienced an error while processing your request. We apologize for the inconvenience!","type":"server_error","param":null,"code":null}}',
        "data: [DONE]",
    )
    router.post(endpoint("chatgpt")).mock(side_effect=sse(stream))
    received: list[Event] = []
    error = await failure(make("chatgpt", client), received)
    assert received == [Started("gpt-5.5"), "Partial"]
    assert (error.type, error.retryable) == ("server_error", True)
    assert error.message == (
        "chatgpt had an internal error: The server experienced an error while processing your "
        "request. We apologize for the inconvenience!"
    )


async def test_xai_error_chunk_in_its_own_shape(
    router: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    stream = lf_stream('data: {"code":"Internal error","error":"Service temporarily unavailable"}')
    router.post(endpoint("grok")).mock(side_effect=sse(stream))
    error = await failure(make("grok", client))
    assert (error.type, error.message, error.retryable) == (
        "upstream_error",
        "grok returned an error: Service temporarily unavailable",
        True,
    )


async def test_perplexity_error_event(router: respx.MockRouter, client: httpx.AsyncClient) -> None:
    stream = lf_stream('event: error\ndata: {"message":"search backend failed"}')
    router.post(endpoint("perplexity")).mock(side_effect=sse(stream))
    error = await failure(make("perplexity", client))
    assert (error.type, error.message, error.retryable) == (
        "upstream_error",
        "perplexity returned an error: search backend failed",
        True,
    )


async def test_gemini_error_chunk(router: respx.MockRouter, client: httpx.AsyncClient) -> None:
    stream = crlf_stream(
        'data: {"candidates":[{"content":{"parts":[{"text":"Half"}],"role":"model"},"index":0}]}',
        'data: {"error":{"code":500,"message":"An internal error has occurred.","status":"INTERNAL"}}',
    )
    router.post(endpoint("gemini")).mock(side_effect=sse(stream))
    received: list[Event] = []
    error = await failure(make("gemini", client), received)
    assert received == [Started("gemini-3.5-flash"), "Half"]
    assert (error.type, error.message, error.retryable) == (
        "server_error",
        "gemini had an internal error: An internal error has occurred.",
        True,
    )


async def test_gemini_blocked_prompt(router: respx.MockRouter, client: httpx.AsyncClient) -> None:
    stream = crlf_stream(
        'data: {"promptFeedback":{"blockReason":"PROHIBITED_CONTENT"},"usageMetadata":{"promptTokenCount":8,"totalTokenCount":8},"modelVersion":"gemini-3.5-flash"}'
    )
    route = router.post(endpoint("gemini")).mock(side_effect=sse(stream))
    error = await failure(make("gemini", client, max_attempts=3))
    assert (error.type, error.message, error.retryable) == (
        "blocked",
        "gemini blocked the prompt: PROHIBITED_CONTENT",
        False,
    )
    assert route.call_count == 1


# -- truncated and malformed streams -----------------------------------------------------------

TRUNCATED = [
    pytest.param("chatgpt", OPENAI_2026.rsplit(b"data: [DONE]", 1)[0], id="openai-no-done"),
    pytest.param("grok", XAI_GROK_4_FAST[:-20], id="xai-cut-mid-event"),
    pytest.param("perplexity", PERPLEXITY.rsplit(b"data: ", 1)[0], id="perplexity-no-finish"),
    pytest.param(
        "claude", ANTHROPIC_BASIC.rsplit(b"event: message_stop", 1)[0], id="anthropic-no-stop"
    ),
    pytest.param(
        "gemini", GEMINI_25_FLASH.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n", id="gemini-no-finish"
    ),
    pytest.param("gemini", GEMINI_25_FLASH[:-4], id="gemini-last-event-unterminated"),
]


@pytest.mark.parametrize(("name", "stream"), TRUNCATED)
async def test_truncated_stream(
    name: str, stream: bytes, router: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    router.post(endpoint(name)).mock(side_effect=sse(stream))
    received: list[Event] = []
    error = await failure(make(name, client), received)
    assert (error.type, error.message, error.retryable) == (
        "truncated",
        f"{name} closed the connection before the answer ended",
        True,
    )
    assert not any(isinstance(event, (Finish, Usage)) for event in received)


@pytest.mark.parametrize(
    ("name", "chunk"),
    [
        ("chatgpt", b'data: {"choices":[{"delta":{"content":"x"}\n\n'),
        ("perplexity", b"data: [1, 2]\n\n"),
        ("claude", b'event: content_block_delta\ndata: {"type":"content_block_delta"\n\n'),
        ("claude", b'event: message_start\ndata: "message"\n\n'),
        ("gemini", b"data: {not json}\r\n\r\n"),
    ],
)
async def test_malformed_chunk(
    name: str, chunk: bytes, router: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    router.post(endpoint(name)).mock(side_effect=sse(chunk))
    error = await failure(make(name, client))
    assert (error.type, error.message) == ("malformed", f"{name} sent a malformed chunk")


# -- retries ----------------------------------------------------------------------------------


async def test_retry_honours_retry_after_ms_then_streams(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: list[float]
) -> None:
    rate_limited = json_error(
        429,
        {
            "error": {
                "message": "Rate limit reached",
                "type": "requests",
                "code": "rate_limit_exceeded",
            }
        },
        {"retry-after-ms": "30"},
    )
    route = router.post(endpoint("chatgpt")).mock(side_effect=[rate_limited, sse(OPENAI_2026)])
    events = await collect(make("chatgpt", client, max_attempts=3))
    assert events == [Started("gpt-5.5"), "Olá", Finish("stop", "stop"), Usage(20, 2, 0)]
    assert route.call_count == 2
    assert sleeps == [0.03]


async def test_retry_honours_gemini_retry_info(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: list[float]
) -> None:
    exhausted = json_error(
        429,
        {
            "error": {
                "code": 429,
                "message": "Quota exceeded",
                "status": "RESOURCE_EXHAUSTED",
                "details": [
                    {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "23s"}
                ],
            }
        },
    )
    route = router.post(endpoint("gemini")).mock(side_effect=[exhausted, sse(GEMINI_25_FLASH)])
    events = await collect(make("gemini", client, max_attempts=2))
    assert events[1:3] == ["The weather in San Francisco is", " sunny and 65."]
    assert route.call_count == 2
    assert sleeps == [23.0]


async def test_no_retry_when_asked_to_wait_longer_than_max_retry_wait(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: list[float]
) -> None:
    # Retrying sooner than the provider asked would only fail again: report it at once.
    overloaded = json_error(
        529,
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        {"retry-after": "120"},
    )
    route = router.post(endpoint("claude")).mock(side_effect=[overloaded, sse(ANTHROPIC_BASIC)])
    error = await failure(make("claude", client, max_attempts=2, max_retry_wait=0.25))
    assert error.type == "overloaded" and error.retry_after == 120.0
    assert route.call_count == 1
    assert sleeps == []


async def test_retry_after_within_max_retry_wait_is_honoured(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: list[float]
) -> None:
    overloaded = json_error(
        529,
        {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}},
        {"retry-after": "0.2"},
    )
    router.post(endpoint("claude")).mock(side_effect=[overloaded, sse(ANTHROPIC_BASIC)])
    events = await collect(make("claude", client, max_attempts=2, max_retry_wait=0.25))
    assert events[1:3] == ["Hello", " there"]
    assert sleeps == [0.2]


async def test_retries_are_bounded(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: list[float]
) -> None:
    overloaded = json_error(
        503,
        {"error": {"code": 503, "message": "The model is overloaded.", "status": "UNAVAILABLE"}},
    )
    route = router.post(endpoint("gemini")).mock(return_value=overloaded)
    error = await failure(make("gemini", client, max_attempts=3))
    assert error.type == "overloaded"
    assert route.call_count == 3
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("name", "response"),
    [
        (
            "chatgpt",
            json_error(
                429,
                {
                    "error": {
                        "message": "You exceeded your current quota.",
                        "type": "insufficient_quota",
                        "code": "insufficient_quota",
                    }
                },
            ),
        ),
        (
            "grok",
            json_error(
                400,
                {
                    "code": "Client specified an invalid argument",
                    "error": "Incorrect API key provided: xa***f.",
                },
            ),
        ),
        (
            "claude",
            json_error(
                500,
                {"type": "error", "error": {"type": "api_error", "message": "x"}},
                {"x-should-retry": "false"},
            ),
        ),
    ],
)
async def test_no_retry_for_errors_that_are_not_retryable(
    name: str,
    response: httpx.Response,
    router: respx.MockRouter,
    client: httpx.AsyncClient,
    sleeps: list[float],
) -> None:
    route = router.post(endpoint(name)).mock(return_value=response)
    error = await failure(make(name, client, max_attempts=3))
    assert not error.retryable
    assert route.call_count == 1
    assert sleeps == []


async def test_an_error_event_before_any_text_is_retried(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: list[float]
) -> None:
    failing = lf_stream(
        'event: message_start\ndata: {"type":"message_start","message":{"usage":{"input_tokens":11,"output_tokens":1}}}',
        'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}',
    )
    route = router.post(endpoint("claude")).mock(side_effect=[sse(failing), sse(ANTHROPIC_BASIC)])
    events = await collect(make("claude", client, max_attempts=2))
    assert events == [
        Started("claude-sonnet-5"),
        "Hello",
        " there",
        Finish("stop", "end_turn"),
        Usage(11, 6),
    ]
    assert route.call_count == 2
    assert len(sleeps) == 1


async def test_a_truncation_after_text_is_not_retried(
    router: respx.MockRouter, client: httpx.AsyncClient, sleeps: list[float]
) -> None:
    cut = ANTHROPIC_BASIC.rsplit(b"event: message_delta", 1)[0]
    route = router.post(endpoint("claude")).mock(side_effect=sse(cut))
    received: list[Event] = []
    error = await failure(make("claude", client, max_attempts=3), received)
    assert error.type == "truncated"
    assert received == [Started("claude-sonnet-5"), "Hello", " there"]
    assert route.call_count == 1
    assert sleeps == []


# -- request bodies ---------------------------------------------------------------------------

HISTORY = [
    Message("assistant", "an answer whose prompt was trimmed away"),
    Message("user", "first"),
    Message("user", "second"),
    Message("assistant", "answer one"),
    Message("assistant", "   "),
    Message("assistant", "answer two"),
    Message("user", "third"),
]
MERGED = [("user", "first\n\nsecond"), ("assistant", "answer one\n\nanswer two"), ("user", "third")]


def test_merge_turns() -> None:
    assert [(m.role, m.content) for m in merge_turns(HISTORY)] == MERGED


async def sent(
    name: str,
    client: httpx.AsyncClient,
    router: respx.MockRouter,
    model: str | None = None,
    **overrides: object,
) -> httpx.Request:
    stream = {"claude": ANTHROPIC_BASIC, "gemini": GEMINI_25_FLASH, "perplexity": PERPLEXITY}.get(
        name, OPENAI_2026
    )
    route = router.post(endpoint(name, model)).mock(side_effect=sse(stream))
    await collect(make(name, client, **overrides), HISTORY, model)
    return route.calls.last.request


OPENAI_MESSAGES = [
    {"role": "system", "content": "Be terse."},
    *({"role": role, "content": text} for role, text in MERGED),
]


async def test_openai_request(router: respx.MockRouter, client: httpx.AsyncClient) -> None:
    request = await sent(
        "chatgpt", client, router, system_prompt="Be terse.", max_tokens=256, temperature=0.3
    )
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["accept-encoding"] == "identity"
    assert orjson.loads(request.content) == {
        "model": "gpt-5.5",
        "messages": OPENAI_MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_completion_tokens": 256,
    }


@pytest.mark.parametrize(
    ("model", "sends_temperature"),
    [("gpt-4o-mini", True), ("gpt-5.4-mini", False), ("o3", False), ("o4-mini", False)],
)
async def test_openai_temperature_only_for_models_that_take_it(
    model: str, sends_temperature: bool, router: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    request = await sent("chatgpt", client, router, model=model, temperature=0.3)
    body = orjson.loads(request.content)
    assert body["model"] == model
    assert ("temperature" in body) is sends_temperature
    assert "max_tokens" not in body


async def test_xai_request(router: respx.MockRouter, client: httpx.AsyncClient) -> None:
    request = await sent(
        "grok", client, router, system_prompt="Be terse.", max_tokens=300, temperature=0.3
    )
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert orjson.loads(request.content) == {
        "model": "grok-4.3",
        "messages": OPENAI_MESSAGES,
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_completion_tokens": 300,
        "temperature": 0.3,
    }


async def test_perplexity_request(router: respx.MockRouter, client: httpx.AsyncClient) -> None:
    request = await sent(
        "perplexity", client, router, system_prompt="Be terse.", max_tokens=512, temperature=0.2
    )
    assert request.url == "https://api.perplexity.test/chat/completions"
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert orjson.loads(request.content) == {
        "model": "sonar-pro",
        "messages": OPENAI_MESSAGES,
        "stream": True,
        "max_tokens": 512,
        "temperature": 0.2,
    }


async def test_anthropic_request(router: respx.MockRouter, client: httpx.AsyncClient) -> None:
    request = await sent(
        "claude",
        client,
        router,
        model="claude-haiku-4-5",
        system_prompt="Be terse.",
        max_tokens=300,
        temperature=0.7,
    )
    assert request.headers["x-api-key"] == KEY
    assert request.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in request.headers
    assert orjson.loads(request.content) == {
        "model": "claude-haiku-4-5",
        "max_tokens": 300,
        "messages": [{"role": role, "content": text} for role, text in MERGED],
        "stream": True,
        "system": "Be terse.",
        "temperature": 0.7,
    }


@pytest.mark.parametrize(
    "model",
    [
        "claude-opus-4-7",
        "claude-opus-4-8",
        "claude-sonnet-5",
        "claude-opus-5",
        "claude-fable-5",
        "claude-mythos-5",
        "claude-sonnet-5-20260301",
    ],
)
async def test_anthropic_omits_temperature_for_models_that_reject_it(
    model: str, router: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    request = await sent("claude", client, router, model=model, temperature=0.7, max_tokens=None)
    body = orjson.loads(request.content)
    assert "temperature" not in body
    assert body["max_tokens"] == 1024
    assert "system" not in body


async def test_gemini_request(router: respx.MockRouter, client: httpx.AsyncClient) -> None:
    request = await sent(
        "gemini",
        client,
        router,
        model="gemini-2.5-flash",
        system_prompt="Be terse.",
        max_tokens=400,
        temperature=1.0,
    )
    assert (
        request.url
        == "https://gemini.test/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
    )
    assert request.headers["x-goog-api-key"] == KEY
    assert orjson.loads(request.content) == {
        "contents": [
            {"role": "user", "parts": [{"text": "first\n\nsecond"}]},
            {"role": "model", "parts": [{"text": "answer one\n\nanswer two"}]},
            {"role": "user", "parts": [{"text": "third"}]},
        ],
        "systemInstruction": {"parts": [{"text": "Be terse."}]},
        "generationConfig": {"maxOutputTokens": 400, "temperature": 1.0},
    }


async def test_gemini_request_without_options(
    router: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    request = await sent("gemini", client, router, max_tokens=None)
    assert set(orjson.loads(request.content)) == {"contents"}


# -- timeouts ---------------------------------------------------------------------------------


def slow(first: bytes, pause: float) -> Callable[[httpx.Request], httpx.Response]:
    def respond(request: httpx.Request) -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            yield first
            await asyncio.sleep(pause)
            yield b"data: [DONE]\n\n"

        return httpx.Response(200, headers={"content-type": "text/event-stream"}, content=body())

    return respond


async def test_first_token_timeout(router: respx.MockRouter, client: httpx.AsyncClient) -> None:
    # A keep-alive comment is not a token: the clock runs until text arrives.
    # 0.2 s against a minute: only the timeout can end this stream (no clock is read).
    router.post(endpoint("chatgpt")).mock(side_effect=slow(b": keep-alive\n\n", 60))
    error = await failure(make("chatgpt", client, first_token_timeout=0.2))
    assert (error.type, error.message, error.retryable) == (
        "timeout",
        "no first token from chatgpt within 0.2 s",
        True,
    )


async def test_idle_timeout(router: respx.MockRouter, client: httpx.AsyncClient) -> None:
    text = b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"Hello"}}\n\n'
    router.post(endpoint("claude")).mock(side_effect=slow(text, 60))
    received: list[Event] = []
    error = await failure(make("claude", client, idle_timeout=0.2), received)
    assert received == [Started("claude-sonnet-5"), "Hello"]
    assert (error.type, error.message) == ("timeout", "no next chunk from claude within 0.2 s")


# -- closing the upstream ---------------------------------------------------------------------


class ObservedStream(httpx.AsyncByteStream):
    """A response body that records whether it was read to its end and closed."""

    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks
        self.read_to_end = False
        self.closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk
        self.read_to_end = True

    async def aclose(self) -> None:
        self.closed = True


def observed(router: respx.MockRouter, name: str, stream: bytes) -> ObservedStream:
    body = ObservedStream(split(stream, "per event"))
    router.post(endpoint(name)).mock(return_value=httpx.Response(200, stream=body))
    return body


@pytest.mark.parametrize(
    ("name", "stream"),
    [("chatgpt", OPENAI_2024), ("claude", ANTHROPIC_BASIC), ("gemini", GEMINI_25_FLASH)],
)
async def test_upstream_closed_when_the_consumer_stops_early(
    name: str, stream: bytes, router: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    body = observed(router, name, stream)
    events = make(name, client).stream(THREAD)
    async for event in events:
        if isinstance(event, str):
            break
    assert not body.closed
    await events.aclose()
    assert body.closed


async def test_upstream_closed_after_the_end_and_after_an_error(
    router: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    body = observed(router, "claude", ANTHROPIC_BASIC)
    await collect(make("claude", client))
    assert body.closed

    failing = observed(
        router, "chatgpt", b'data: {"error":{"message":"boom","type":"server_error"}}\n\n'
    )
    await failure(make("chatgpt", client))
    assert failing.closed


async def test_the_body_is_read_to_its_end_after_the_terminator(
    router: respx.MockRouter, client: httpx.AsyncClient
) -> None:
    # Reading past [DONE] to EOF is what lets httpx put the connection back in its pool.
    body = observed(router, "grok", XAI_GROK_4_FAST + b": trailing comment\n\n")
    events = await collect(make("grok", client))
    assert events[-2:] == [Finish("stop", "stop"), Usage(165, 131, 129)]
    assert body.read_to_end and body.closed
