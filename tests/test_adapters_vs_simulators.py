"""Each adapter against its simulator over real HTTP, in every fault mode.

What the recorded-chunk tests cannot show: real sockets, real timeouts, retries counted by the
server, and every upstream connection closed afterwards (the simulator counts open streams).
"""

from __future__ import annotations

import asyncio
import io
import time

import httpx
import orjson
import pytest
from PIL import Image as PILImage

from providers import (
    PROVIDERS,
    SIMULATOR_KEY,
    CallSettings,
    Echo,
    Finish,
    Ignored,
    Image,
    Message,
    ProviderConfig,
    ProviderError,
    Started,
    Thinking,
    Usage,
    make_adapter,
    make_client,
)
from providers.simulators.text import expected_answer
from providers.simulators.thoughts import LEVEL_TOKENS, expected_thinking
from tests.support.turn_helpers import eventually

ALL = list(PROVIDERS)
PROMPT = "Which river is longest?"


def flavour(provider: str) -> str:
    return PROVIDERS[provider].flavour


@pytest.fixture
async def http_client():
    client = make_client(max_streams=50)
    yield client
    await client.aclose()


def adapter_for(
    provider: str, sim_url: str, client: httpx.AsyncClient, key: str = SIMULATOR_KEY, **config
):
    spec = PROVIDERS[provider]
    config.setdefault("first_token_timeout", 2.0)
    config.setdefault("idle_timeout", 2.0)
    config.setdefault("backoff_base", 0.01)
    return make_adapter(
        ProviderConfig(
            name=provider,
            base_url=sim_url + spec.simulator_prefix,
            model=spec.model,
            api_key=key,
            **config,
        ),
        client,
    )


async def run(adapter, knobs: str = "") -> tuple[list, ProviderError | None]:
    events: list = []
    model = adapter.config.model + (f"+{knobs}" if knobs else "")
    try:
        async for event in adapter.stream([Message("user", PROMPT)], model):
            events.append(event)
    except ProviderError as error:
        return events, error
    return events, None


def text_of(events: list) -> str:
    return "".join(e for e in events if isinstance(e, str))


async def settled(sim, provider: str, requests: int = 1, within: float = 30.0) -> dict:
    """The flavour's counters once the simulator has seen ``requests`` requests and every request
    it saw has ended (its connection closed, its outcome counted).

    ``open == 0`` alone is no such moment: it is also true before a request reaches the server,
    and the client can be done (after a timeout) before the server has counted it.
    """
    deadline = time.monotonic() + within
    while True:
        stats = sim.stats()[flavour(provider)]
        ended = sum(stats[k] for k in ("completed", "aborted", "faulted", "rejected"))
        if stats["requests"] >= requests and ended == stats["requests"] and stats["open"] == 0:
            return stats
        if time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.02)


@pytest.mark.parametrize("provider", ALL)
async def test_complete_answer(provider, sim, http_client):
    events, error = await run(adapter_for(provider, sim.url, http_client), "tokens=7,chunk=2")
    assert error is None
    assert isinstance(events[0], Started)
    assert text_of(events) == expected_answer(flavour(provider), PROMPT, 7)
    assert [e for e in events if isinstance(e, Finish)] == [Finish("stop", _raw_stop(provider))]
    (usage,) = [e for e in events if isinstance(e, Usage)]
    assert usage.output_tokens == 7 and usage.input_tokens and usage.input_tokens > 0
    stats = await settled(sim, provider)
    assert (stats["requests"], stats["completed"], stats["open"]) == (1, 1, 0)


def _raw_stop(provider: str) -> str:
    return {"claude": "end_turn", "gemini": "STOP", "chatgpt": "completed"}.get(provider, "stop")


@pytest.mark.parametrize("provider", ALL)
async def test_length_finish(provider, sim, http_client):
    events, error = await run(adapter_for(provider, sim.url, http_client), "tokens=3,finish=length")
    assert error is None
    assert [e.reason for e in events if isinstance(e, Finish)] == ["length"]


@pytest.mark.parametrize("provider", ALL)
async def test_bad_key_is_not_retried_and_never_echoed(provider, sim, http_client):
    key = "sk-live-abcdefghijklmnopqrstuvwxyz123456"
    events, error = await run(adapter_for(provider, sim.url, http_client, key=key))
    assert error is not None and not error.retryable
    assert error.status_code in (400, 401)
    assert key not in error.message and key[:12] not in error.message
    assert "key" in error.message.lower()
    assert sim.stats()[flavour(provider)]["requests"] == 1
    assert text_of(events) == ""


@pytest.mark.parametrize("provider", ALL)
async def test_rate_limit_is_retried_then_succeeds(provider, sim, http_client):
    adapter = adapter_for(provider, sim.url, http_client, max_attempts=3)
    events, error = await run(
        adapter, "tokens=4,fault=status,status=429,retry_after=0.05,fail_times=1"
    )
    assert error is None
    assert text_of(events) == expected_answer(flavour(provider), PROMPT, 4)
    assert len([e for e in events if isinstance(e, Started)]) == 1, (
        "start is reported once, not per attempt"
    )
    stats = await settled(sim, provider, requests=2)
    assert stats["requests"] == 2 and stats["open"] == 0


@pytest.mark.parametrize("provider", ALL)
@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors_retry_a_bounded_number_of_times(provider, status, sim, http_client):
    adapter = adapter_for(provider, sim.url, http_client, max_attempts=3)
    events, error = await run(adapter, f"fault=status,status={status}")
    assert error is not None and error.retryable and error.status_code == status
    assert sim.stats()[flavour(provider)]["requests"] == 3


async def test_anthropic_overload_529(sim, http_client):
    events, error = await run(
        adapter_for("claude", sim.url, http_client, max_attempts=1), "fault=status,status=529"
    )
    assert error is not None
    assert (error.type, error.status_code, error.retryable) == ("overloaded", 529, True)


async def test_openai_quota_is_not_retried(sim, http_client):
    events, error = await run(
        adapter_for("chatgpt", sim.url, http_client, max_attempts=3),
        "fault=status,status=429,quota=1",
    )
    assert error is not None and not error.retryable
    assert sim.stats()["openai"]["requests"] == 1


@pytest.mark.parametrize("provider", ALL)
@pytest.mark.parametrize("fault", ["midstream", "drop", "malformed"])
async def test_faults_after_text_fail_without_retry_and_keep_the_text(
    provider, fault, sim, http_client
):
    adapter = adapter_for(provider, sim.url, http_client, max_attempts=3)
    events, error = await run(adapter, f"tokens=10,fault={fault},after=4")
    assert error is not None
    expected_type = {"drop": "truncated", "malformed": "malformed"}.get(fault)
    if expected_type:
        assert error.type == expected_type
    assert text_of(events) == expected_answer(flavour(provider), PROMPT, 10)[: len(text_of(events))]
    assert len([e for e in events if isinstance(e, str)]) == 4
    stats = await settled(sim, provider)
    assert stats["requests"] == 1, "text was already relayed: no retry"
    assert stats["open"] == 0


@pytest.mark.parametrize("provider", ALL)
async def test_stall_hits_the_idle_timeout_and_closes_the_connection(provider, sim, http_client):
    # The two tokens come at once (ttft=0, gap=0): only the stall can reach the idle timeout.
    adapter = adapter_for(provider, sim.url, http_client, idle_timeout=0.5, max_attempts=3)
    events, error = await run(adapter, "tokens=10,fault=stall,after=2,ttft=0,gap=0")
    assert error is not None and error.type == "timeout"
    assert len([e for e in events if isinstance(e, str)]) == 2
    stats = await settled(sim, provider)
    assert (stats["requests"], stats["open"], stats["aborted"]) == (1, 0, 1)


@pytest.mark.parametrize("provider", ALL)
async def test_slow_first_token_times_out_and_is_retried(provider, sim, http_client):
    # 0.5 s against a minute: no scheduling delay can bring the token in time (the simulator
    # stops waiting when the client leaves).
    adapter = adapter_for(provider, sim.url, http_client, first_token_timeout=0.5, max_attempts=2)
    events, error = await run(adapter, "tokens=3,ttft=60000")
    assert error is not None and error.type == "timeout"
    stats = await settled(sim, provider, requests=2)
    assert (stats["requests"], stats["open"], stats["aborted"]) == (2, 0, 2)


@pytest.mark.parametrize("provider", ALL)
async def test_consumer_abandoning_the_stream_closes_the_upstream(provider, sim, http_client):
    adapter = adapter_for(provider, sim.url, http_client)
    stream = adapter.stream([Message("user", PROMPT)], adapter.config.model + "+tokens=50,gap=20")
    seen = 0
    async for event in stream:
        if isinstance(event, str):
            seen += 1
            if seen == 3:
                break
    await stream.aclose()
    stats = await settled(sim, provider)
    assert (stats["open"], stats["aborted"]) == (0, 1)


@pytest.mark.parametrize("provider", ALL)
async def test_cancelling_the_task_closes_the_upstream(provider, sim, http_client):
    adapter = adapter_for(provider, sim.url, http_client)
    task = asyncio.create_task(run(adapter, "tokens=500,gap=20"))  # ten seconds of stream
    await eventually(lambda: sim.stats()[flavour(provider)]["open"] == 1)  # it is streaming
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stats = await settled(sim, provider)
    assert (stats["open"], stats["aborted"]) == (0, 1)


async def test_connect_error_is_a_retryable_failure(http_client):
    spec = PROVIDERS["chatgpt"]
    adapter = make_adapter(
        ProviderConfig(
            name="chatgpt",
            base_url="http://127.0.0.1:9/v1",
            model=spec.model,
            api_key="k",
            max_attempts=2,
            backoff_base=0.01,
        ),
        http_client,
    )
    events, error = await run(adapter)
    assert error is not None and error.type == "connect_error" and error.retryable


# -- reasoning, images and what goes back -----------------------------------------------------

REASONS = CallSettings(reasoning="high")
SHOWN = {"claude", "chatgpt", "gemini"}  # their default models stream reasoning when asked


def red_png() -> Image:
    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 48), (255, 0, 0)).save(buffer, "PNG")
    return Image("image/png", buffer.getvalue(), 64, 48)


async def events_of(adapter, thread, settings=REASONS, knobs="tokens=7") -> list:
    model = adapter.config.model + f"+{knobs}"
    return [event async for event in adapter.stream(thread, model, settings=settings)]


@pytest.mark.parametrize("provider", ALL)
async def test_reasoning_and_an_image_through_each_simulator(provider, sim, http_client):
    adapter = adapter_for(provider, sim.url, http_client)
    events = await events_of(adapter, [Message("user", PROMPT, (red_png(),))])
    seen = "The image is a 64x48 PNG, mostly red (#ff0000)."
    assert text_of(events) == expected_answer(flavour(provider), PROMPT, 7, seen)
    thinking = [i for i, e in enumerate(events) if isinstance(e, Thinking)]
    (usage,) = [e for e in events if isinstance(e, Usage)]
    high = LEVEL_TOKENS["high"]
    if provider in SHOWN:
        assert "".join(events[i].text for i in thinking) == expected_thinking(
            flavour(provider), PROMPT, high
        )
        first_text = next(i for i, e in enumerate(events) if isinstance(e, str))
        assert max(thinking) < first_text, "the reasoning streams before the answer"
    else:
        assert thinking == []
    expected_reasoning = None if provider == "perplexity" else high  # sonar-pro does not reason
    assert usage.reasoning_tokens == expected_reasoning
    assert usage.output_tokens == 7 + (expected_reasoning or 0)
    if provider == "perplexity":
        assert [e for e in events if isinstance(e, Ignored)] == [
            Ignored("reasoning", "sonar-pro+tokens=7 does not reason")  # the model as named
        ]


@pytest.mark.parametrize("provider", ["claude", "chatgpt", "gemini"])
async def test_the_echo_goes_back_and_the_simulator_accepts_it(provider, sim, http_client):
    adapter = adapter_for(provider, sim.url, http_client)
    first = await events_of(adapter, [Message("user", PROMPT)])
    (echo,) = [e for e in first if isinstance(e, Echo)]
    thread = [
        Message("user", PROMPT),
        Message("assistant", text_of(first), echo=echo.data),
        Message("user", "And then?"),
    ]
    second = await events_of(adapter, thread)
    assert text_of(second) == expected_answer(flavour(provider), "And then?", 7)
    assert orjson.loads(orjson.dumps(echo.data)) == echo.data  # stored as JSON, it survives
    sent = sim.requests(flavour(provider))[-1]["body"]
    if provider == "claude":
        assert sent["messages"][1]["content"][0]["type"] == "thinking"
    elif provider == "chatgpt":
        assert sent["input"][1]["type"] == "reasoning"
    else:
        assert "thoughtSignature" in sent["contents"][1]["parts"][-1]


async def test_an_edited_thinking_block_is_refused(sim, http_client):
    adapter = adapter_for("claude", sim.url, http_client)
    first = await events_of(adapter, [Message("user", PROMPT)])
    (echo,) = [e for e in first if isinstance(e, Echo)]
    block = {**echo.data["content"][0], "thinking": "something else"}
    thread = [
        Message("user", PROMPT),
        Message("assistant", "Answer.", echo={**echo.data, "content": [block]}),
        Message("user", "And then?"),
    ]
    with pytest.raises(ProviderError) as refused:
        await events_of(adapter, thread)
    assert refused.value.message == (
        "claude rejected the request (HTTP 400): "
        "messages.1.content.0: Invalid `signature` in `thinking` block"
    )


@pytest.mark.parametrize(
    ("provider", "model", "words"),
    [
        (
            "grok",
            "grok-3-mini",
            "grok rejected the request (HTTP 400): Image inputs are not supported",
        ),
        ("chatgpt", "o3-mini", "chatgpt rejected the request (HTTP 400): Invalid content type."),
    ],
)
async def test_a_model_without_eyes_fails_clearly(provider, model, words, sim, http_client):
    adapter = adapter_for(provider, sim.url, http_client)
    with pytest.raises(ProviderError) as refused:
        await adapter.stream([Message("user", PROMPT, (red_png(),))], model).__anext__()
    assert refused.value.message.startswith(words)
    assert not refused.value.retryable
