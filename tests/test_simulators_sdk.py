"""The simulators, driven over real HTTP by each provider's official Python SDK.

An SDK complaint here is a simulator bug: the SDKs are the reference clients of the real APIs.
Retries are off everywhere (max_retries=0, and python-genai does not retry by default), so a
fault shows up as the SDK's own exception for it.
"""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types

from providers.registry import SIMULATOR_KEY
from providers.simulators import (
    Knobs,
    SimulatorConfig,
    create_app,
    expected_answer,
    input_token_count,
)
from tests.support.servers import ServerThread, serve

PROMPT = 'Compare <script>alert(1)</script> & "quotes" — naïvely, in one line'
SYSTEM = "You are terse."
TOKENS = 48  # the default answer length

# The three Chat Completions flavours, all spoken by the openai SDK: flavour -> base path.
CHAT_FLAVOURS = {"openai": "/openai/v1", "xai": "/xai/v1", "perplexity": "/perplexity"}

# The module's own simulator server: a test using it is an integration test (support/markers.py).
SERVER_FIXTURES = {"server"}


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    # No pacing by default so the suite stays fast; pacing has its own tests in test_simulator_knobs.
    with serve(create_app(SimulatorConfig(defaults=Knobs(ttft=0, gap=0)))) as running:
        yield running


def chat_client(server: ServerThread, flavour: str, key: str = SIMULATOR_KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=server.url + CHAT_FLAVOURS[flavour], api_key=key, max_retries=0
    )


def anthropic_client(server: ServerThread, key: str = SIMULATOR_KEY) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=server.url + "/anthropic", api_key=key, max_retries=0)


def gemini_client(server: ServerThread, key: str = SIMULATOR_KEY) -> genai.Client:
    return genai.Client(
        api_key=key, http_options=genai_types.HttpOptions(base_url=server.url + "/gemini")
    )


def chat_messages() -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": PROMPT}]


INPUT_TOKENS = input_token_count([SYSTEM, PROMPT])


# -- Chat Completions: OpenAI, xAI, Perplexity ------------------------------------------------


@pytest.mark.parametrize("flavour", CHAT_FLAVOURS)
async def test_chat_sdk_reads_text_finish_and_usage(server: ServerThread, flavour: str) -> None:
    async with chat_client(server, flavour) as client:
        stream = await client.chat.completions.create(
            model="some-model",
            messages=chat_messages(),
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    text = "".join(chunk.choices[0].delta.content or "" for chunk in chunks if chunk.choices)
    finishes = [
        chunk.choices[0].finish_reason
        for chunk in chunks
        if chunk.choices and chunk.choices[0].finish_reason
    ]
    usage = chunks[-1].usage
    assert text == expected_answer(flavour, PROMPT, TOKENS)
    assert PROMPT in text
    assert finishes == ["stop"]
    assert usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (
        INPUT_TOKENS,
        TOKENS,
        INPUT_TOKENS + TOKENS,
    )
    assert {chunk.model for chunk in chunks} == {"some-model"}


async def test_openai_sends_the_usage_chunk_only_when_asked(server: ServerThread) -> None:
    async with chat_client(server, "openai") as client:
        stream = await client.chat.completions.create(
            model="gpt-5.5", messages=chat_messages(), stream=True
        )
        chunks = [chunk async for chunk in stream]
    assert all(chunk.usage is None for chunk in chunks)
    assert all(chunk.choices for chunk in chunks)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert chunks[0].choices[0].delta.content == ""
    assert chunks[-1].choices[0].finish_reason == "stop"


async def test_xai_sends_the_usage_chunk_even_unasked(server: ServerThread) -> None:
    async with chat_client(server, "xai") as client:
        stream = await client.chat.completions.create(
            model="grok-4.3", messages=chat_messages(), stream=True
        )
        chunks = [chunk async for chunk in stream]
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens == TOKENS
    assert chunks[0].choices[0].delta.role == "assistant"


@pytest.mark.parametrize("flavour", CHAT_FLAVOURS)
async def test_chat_sdk_obeys_knobs_in_the_model_name(server: ServerThread, flavour: str) -> None:
    async with chat_client(server, flavour) as client:
        stream = await client.chat.completions.create(
            model="sonar+tokens=7,chunk=3,finish=length", messages=chat_messages(), stream=True
        )
        chunks = [chunk async for chunk in stream]
    deltas = [
        chunk.choices[0].delta.content
        for chunk in chunks
        if chunk.choices and chunk.choices[0].delta.content
    ]
    assert "".join(deltas) == expected_answer(flavour, PROMPT, 7)
    assert len(deltas) == 3  # 3 + 3 + 1 tokens
    assert [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ] == ["length"]
    assert {chunk.model for chunk in chunks} == {"sonar"}  # the knobs are not echoed


async def test_openai_wrong_key_is_an_authentication_error(server: ServerThread) -> None:
    async with chat_client(server, "openai", key="sk-wrong-key-1234") as client:
        with pytest.raises(openai.AuthenticationError) as raised:
            await client.chat.completions.create(
                model="gpt-5.5", messages=chat_messages(), stream=True
            )
    assert raised.value.status_code == 401
    assert raised.value.code == "invalid_api_key"
    assert raised.value.body["message"] == (
        "Incorrect API key provided: sk-***1234. You can find your API key at https://platform.openai.com/account/api-keys."
    )


async def test_xai_wrong_key_is_a_bad_request(server: ServerThread) -> None:
    async with chat_client(server, "xai", key="xai-wrong-key") as client:
        with pytest.raises(openai.BadRequestError) as raised:
            await client.chat.completions.create(
                model="grok-4.3", messages=chat_messages(), stream=True
            )
    assert raised.value.status_code == 400
    assert raised.value.body == (
        "Incorrect API key provided: xa***y. You can obtain an API key from https://console.x.ai."
    )


async def test_perplexity_wrong_key_is_an_html_401(server: ServerThread) -> None:
    async with chat_client(server, "perplexity", key="pplx-wrong") as client:
        with pytest.raises(openai.AuthenticationError) as raised:
            await client.chat.completions.create(
                model="sonar-pro", messages=chat_messages(), stream=True
            )
    assert raised.value.status_code == 401
    assert raised.value.response.headers["content-type"] == "text/html"
    assert "<title>401 Authorization Required</title>" in raised.value.response.text


@pytest.mark.parametrize("flavour", CHAT_FLAVOURS)
async def test_chat_sdk_raises_on_the_midstream_error(server: ServerThread, flavour: str) -> None:
    seen: list[str] = []
    async with chat_client(server, flavour) as client:
        stream = await client.chat.completions.create(
            model="m+fault=midstream,after=5", messages=chat_messages(), stream=True
        )
        with pytest.raises(openai.APIError) as raised:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    seen.append(chunk.choices[0].delta.content)
    assert type(raised.value) is openai.APIError  # an in-stream error, not an HTTP status error
    assert "".join(seen) == expected_answer(flavour, PROMPT, 5)


@pytest.mark.parametrize("flavour", CHAT_FLAVOURS)
async def test_chat_sdk_sees_a_429_as_a_rate_limit(server: ServerThread, flavour: str) -> None:
    async with chat_client(server, flavour) as client:
        with pytest.raises(openai.RateLimitError) as raised:
            await client.chat.completions.create(
                model="m+fault=status,status=429,retry_after=7",
                messages=chat_messages(),
                stream=True,
            )
    assert raised.value.status_code == 429
    assert raised.value.response.headers["retry-after"] == "7"


async def test_openai_out_of_quota_is_a_rate_limit_error_with_its_own_code(
    server: ServerThread,
) -> None:
    async with chat_client(server, "openai") as client:
        with pytest.raises(openai.RateLimitError) as raised:
            await client.chat.completions.create(
                model="gpt-5.5+fault=status,status=429,quota=1",
                messages=chat_messages(),
                stream=True,
            )
    assert raised.value.code == "insufficient_quota"
    assert "retry-after" not in raised.value.response.headers


@pytest.mark.parametrize("flavour", CHAT_FLAVOURS)
async def test_chat_sdk_fails_on_a_dropped_connection(server: ServerThread, flavour: str) -> None:
    seen: list[str] = []
    async with chat_client(server, flavour) as client:
        stream = await client.chat.completions.create(
            model="m+fault=drop,after=4", messages=chat_messages(), stream=True
        )
        with pytest.raises(openai.APIConnectionError):
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    seen.append(chunk.choices[0].delta.content)
    assert "".join(seen) == expected_answer(flavour, PROMPT, 4)


@pytest.mark.parametrize("flavour", CHAT_FLAVOURS)
async def test_chat_sdk_fails_on_malformed_json(server: ServerThread, flavour: str) -> None:
    async with chat_client(server, flavour) as client:
        stream = await client.chat.completions.create(
            model="m+fault=malformed,after=2", messages=chat_messages(), stream=True
        )
        with pytest.raises(ValueError, match="delimiter"):  # json.JSONDecodeError
            async for _ in stream:
                pass


# -- Anthropic ------------------------------------------------------------------------------------


async def test_anthropic_sdk_reads_text_finish_and_usage(server: ServerThread) -> None:
    async with (
        anthropic_client(server) as client,
        client.messages.stream(
            model="claude-sonnet-5",
            max_tokens=1024,
            system=SYSTEM,
            messages=[{"role": "user", "content": PROMPT}],
        ) as stream,
    ):
        streamed = "".join([text async for text in stream.text_stream])
        message = await stream.get_final_message()
    assert streamed == expected_answer("anthropic", PROMPT, TOKENS)
    assert message.content[0].type == "text"
    assert message.content[0].text == streamed
    assert message.stop_reason == "end_turn"
    assert message.model == "claude-sonnet-5"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (INPUT_TOKENS, TOKENS)


async def test_anthropic_request_max_tokens_cuts_the_answer(server: ServerThread) -> None:
    async with (
        anthropic_client(server) as client,
        client.messages.stream(
            model="claude-sonnet-5", max_tokens=6, messages=[{"role": "user", "content": PROMPT}]
        ) as stream,
    ):
        message = await stream.get_final_message()
    assert message.content[0].text == expected_answer("anthropic", PROMPT, 6)
    assert message.stop_reason == "max_tokens"
    assert message.usage.output_tokens == 6


async def test_anthropic_wrong_key_is_an_authentication_error(server: ServerThread) -> None:
    async with anthropic_client(server, key="sk-ant-wrong") as client:
        with pytest.raises(anthropic.AuthenticationError) as raised:
            await client.messages.create(
                model="claude-sonnet-5",
                max_tokens=64,
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
            )
    assert raised.value.status_code == 401
    assert raised.value.body["error"] == {
        "type": "authentication_error",
        "message": "invalid x-api-key",
    }
    assert raised.value.request_id and raised.value.request_id.startswith("req_")


async def test_anthropic_sdk_raises_on_the_midstream_error(server: ServerThread) -> None:
    seen: list[str] = []
    async with anthropic_client(server) as client:
        with pytest.raises(anthropic.APIStatusError) as raised:
            async with client.messages.stream(
                model="claude-sonnet-5+fault=midstream,after=3",
                max_tokens=1024,
                messages=[{"role": "user", "content": PROMPT}],
            ) as stream:
                async for text in stream.text_stream:
                    seen.append(text)
    assert raised.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
    }
    assert "".join(seen) == expected_answer("anthropic", PROMPT, 3)


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
        (404, anthropic.NotFoundError, "not_found_error"),
    ],
)
async def test_anthropic_status_faults_map_to_sdk_errors(
    server: ServerThread, status: int, error_class: type[anthropic.APIStatusError], error_type: str
) -> None:
    async with anthropic_client(server) as client:
        with pytest.raises(error_class) as raised:
            await client.messages.create(
                model=f"claude-sonnet-5+fault=status,status={status},retry_after=4",
                max_tokens=64,
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
            )
    assert raised.value.status_code == status
    assert raised.value.body["error"]["type"] == error_type
    assert raised.value.response.headers.get("retry-after") == ("4" if status == 429 else None)


async def test_anthropic_sdk_fails_on_a_dropped_connection(server: ServerThread) -> None:
    async with anthropic_client(server) as client:
        with pytest.raises(Exception, match="incomplete chunked read"):
            async with client.messages.stream(
                model="claude-sonnet-5+fault=drop,after=3",
                max_tokens=64,
                messages=[{"role": "user", "content": "hi"}],
            ) as stream:
                await stream.get_final_message()


# -- Gemini ---------------------------------------------------------------------------------------


async def gemini_chunks(
    server: ServerThread, model: str, key: str = SIMULATOR_KEY
) -> list[genai_types.GenerateContentResponse]:
    client = gemini_client(server, key)
    stream = await client.aio.models.generate_content_stream(
        model=model,
        contents=PROMPT,
        config=genai_types.GenerateContentConfig(system_instruction=SYSTEM),
    )
    return [chunk async for chunk in stream]


async def test_gemini_sdk_reads_text_finish_and_usage(server: ServerThread) -> None:
    chunks = await gemini_chunks(server, "gemini-3.5-flash")
    text = "".join(chunk.text or "" for chunk in chunks)
    last = chunks[-1]
    assert text == expected_answer("gemini", PROMPT, TOKENS)
    assert last.candidates[0].finish_reason == genai_types.FinishReason.STOP
    assert [c.candidates[0].finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    usage = last.usage_metadata
    assert (usage.prompt_token_count, usage.candidates_token_count, usage.total_token_count) == (
        INPUT_TOKENS,
        TOKENS,
        INPUT_TOKENS + TOKENS,
    )
    assert last.model_version == "gemini-3.5-flash"


async def test_gemini_sdk_obeys_knobs_in_the_model_name(server: ServerThread) -> None:
    chunks = await gemini_chunks(server, "gemini-3.5-flash+tokens=7,chunk=3,finish=length")
    texts = [chunk.text for chunk in chunks if chunk.text]
    assert "".join(texts) == expected_answer("gemini", PROMPT, 7)
    assert len(texts) == 3
    assert chunks[-1].candidates[0].finish_reason == genai_types.FinishReason.MAX_TOKENS
    assert chunks[-1].usage_metadata.candidates_token_count == 7


async def test_gemini_wrong_key_is_an_invalid_argument(server: ServerThread) -> None:
    with pytest.raises(genai_errors.ClientError) as raised:
        await gemini_chunks(server, "gemini-3.5-flash", key="AIza-wrong")
    assert raised.value.code == 400
    assert raised.value.status == "INVALID_ARGUMENT"
    assert raised.value.message == "API key not valid. Please pass a valid API key."
    assert raised.value.details["error"]["details"][0]["reason"] == "API_KEY_INVALID"


async def test_gemini_sdk_raises_on_the_midstream_error(server: ServerThread) -> None:
    with pytest.raises(genai_errors.ServerError) as raised:
        await gemini_chunks(server, "gemini-3.5-flash+fault=midstream,after=3")
    assert raised.value.code == 500
    assert raised.value.status == "INTERNAL"


async def test_gemini_429_carries_retry_info(server: ServerThread) -> None:
    with pytest.raises(genai_errors.ClientError) as raised:
        await gemini_chunks(server, "gemini-3.5-flash+fault=status,status=429,retry_after=23")
    assert raised.value.code == 429
    assert raised.value.status == "RESOURCE_EXHAUSTED"
    retry_info = [
        d for d in raised.value.details["error"]["details"] if d["@type"].endswith("RetryInfo")
    ]
    assert retry_info == [
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "23s"}
    ]
    assert "retry-after" not in raised.value.response.headers


async def test_gemini_sdk_fails_on_malformed_json(server: ServerThread) -> None:
    with pytest.raises(genai_errors.UnknownApiResponseError):
        await gemini_chunks(server, "gemini-3.5-flash+fault=malformed,after=2")
