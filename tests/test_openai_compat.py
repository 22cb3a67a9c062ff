"""The OpenAI-compatible API through the official ``openai`` SDK, sync and async, streaming and
not, one provider and fan-out, against a real gateway whose providers are simulated; the raw
chunks and bodies checked against OpenAI's published types (the SDK's own pydantic models).
"""

from __future__ import annotations

import base64
import io

import httpx
import openai
import orjson
import pytest
from openai.types import Model
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from gateway.api.openai_compat.chunks import ChunkShaper
from gateway.auth import create_key
from gateway.turns import delta_bytes, delta_prefix, event_bytes
from providers import PROVIDERS
from storage import create_pool
from tests.support.credentials import TEST_KEY
from tests.support.gateways import start_gateway
from tests.support.turn_helpers import eventually

ALL = tuple(PROVIDERS)
HELLO = [{"role": "user", "content": "Say hello"}]
# OpenAI's keys, and the extras every choice of this gateway carries.
CHUNK_KEYS = {"id", "object", "created", "model", "choices", "usage"}
CHOICE_KEYS = {"index", "delta", "logprobs", "finish_reason", "provider", "model"}
MESSAGE_CHOICE_KEYS = {"index", "message", "logprobs", "finish_reason", "provider", "model"}


def sdk(gateway, key: str = TEST_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0, timeout=30)


def async_sdk(gateway, key: str = TEST_KEY) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{gateway.url}/v1", api_key=key, max_retries=0, timeout=30)


def conversation(gateway, conversation_id: int, key: str | None = None) -> dict:
    headers = {"authorization": f"Bearer {key}"} if key else {}
    response = httpx.get(
        f"{gateway.url}/api/v1/conversations/{conversation_id}", headers=headers, timeout=10
    )
    assert response.status_code == 200, response.text
    return response.json()


def listed_conversations(gateway) -> list[int]:
    listed = httpx.get(f"{gateway.url}/api/v1/conversations/", timeout=10)
    return [c["id"] for c in listed.json()]


def answers(detail: dict) -> dict[str, str]:
    return {m["provider"]: m["content"] for m in detail["messages"] if m["role"] == "assistant"}


def raw_chunks(gateway, body: dict, headers: dict | None = None) -> tuple[httpx.Response, list]:
    """POST a streaming call with plain httpx: the response and each ``data:`` payload."""
    payloads: list = []
    with httpx.stream(
        "POST", f"{gateway.url}/v1/chat/completions", json=body, headers=headers, timeout=30
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                data = line[6:]
                payloads.append(data if data == "[DONE]" else orjson.loads(data))
    return response, payloads


# -- the shaper, event by event --------------------------------------------------------------------


def test_each_delta_becomes_its_choices_chunk_in_arrival_order():
    shaper = ChunkShaper(
        "chatcmpl-t", 7, "multichat", [("claude", "m1"), ("gemini", "m2")],
        fan_out=True, include_usage=False,
    )  # fmt: skip
    claude, gemini = delta_prefix("claude"), delta_prefix("gemini")
    events = b"".join(
        [
            event_bytes(1, "turn", {"turn_id": "t"}),
            delta_bytes(2, gemini, 'G "one"\n'),
            delta_bytes(3, claude, "C\u2028"),
            delta_bytes(4, gemini, "two"),
        ]
    )
    chunks = [orjson.loads(line[6:]) for line in shaper.feed(events).split(b"\n\n") if line]
    assert [(c["choices"][0]["index"], c["choices"][0]["delta"]["content"]) for c in chunks] == [
        (1, 'G "one"\n'),
        (0, "C\u2028"),
        (1, "two"),
    ]
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)


def test_reasoning_is_cut_out_like_text_and_left_out_unless_asked():
    thinking = delta_prefix("claude", None, b"thinking")
    events = b"".join(
        [
            delta_bytes(2, thinking, "hmm"),
            delta_bytes(3, delta_prefix("claude"), "Yes"),
        ]
    )
    for asked, expected in (
        (True, [{"reasoning_content": "hmm"}, {"content": "Yes"}]),
        (False, [{"content": "Yes"}]),
    ):
        shaper = ChunkShaper(
            "chatcmpl-t", 7, "claude:m", [("claude", "m")],
            fan_out=False, include_usage=False, reasoning=asked,
        )  # fmt: skip
        chunks = [orjson.loads(line[6:]) for line in shaper.feed(events).split(b"\n\n") if line]
        role, *deltas = chunks  # a one-provider call commits at its first word
        assert role["choices"][0]["delta"]["role"] == "assistant"
        assert [c["choices"][0]["delta"] for c in deltas] == expected


# -- models --------------------------------------------------------------------------------------


def test_models_lists_every_provider_and_the_fan_out(streaming_gateway):
    client = sdk(streaming_gateway)
    models = {m.id: m for m in client.models.list()}
    for name in ALL:
        assert models[name].owned_by == name
        pinned = f"{name}:{models[name].model}"  # type: ignore[attr-defined]
        assert models[pinned].owned_by == name and models[pinned].simulated is True  # type: ignore[attr-defined]
    assert models["multichat"].providers == list(ALL)  # type: ignore[attr-defined]
    for model in models.values():
        Model.model_validate(model.model_dump())
    assert client.models.retrieve("multichat:claude,gemini").owned_by == "multichat"
    with pytest.raises(openai.NotFoundError) as refused:
        client.models.retrieve("gpt-4o")
    assert refused.value.code == "model_not_found"


# -- one provider ---------------------------------------------------------------------------------


def test_a_call_is_stored_as_a_conversation_and_answers_as_openai_does(streaming_gateway):
    client = sdk(streaming_gateway)
    raw = client.chat.completions.with_raw_response.create(model="claude", messages=HELLO)
    completion = raw.parse()
    ChatCompletion.model_validate(orjson.loads(raw.content))
    assert completion.object == "chat.completion"
    assert completion.id == f"chatcmpl-{raw.headers['x-multichat-turn-id']}"
    [choice] = completion.choices
    assert choice.index == 0 and choice.finish_reason == "stop"
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.provider == "claude"  # type: ignore[attr-defined]
    assert completion.model == f"claude:{choice.model}"  # type: ignore[attr-defined]
    assert completion.usage is not None and completion.usage.completion_tokens == 12
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    stored = conversation(streaming_gateway, int(raw.headers["x-multichat-conversation-id"]))
    assert stored["messages"][0]["content"] == "Say hello"
    assert answers(stored) == {"claude": choice.message.content}
    assert stored["messages"][1]["cost_usd"] > 0  # priced like any turn
    metrics = httpx.get(f"{streaming_gateway.url}/metrics", timeout=10).text
    assert 'multichat_answers_total{provider="claude",status="complete"} 1.0' in metrics
    assert stored["id"] in listed_conversations(streaming_gateway)


def test_a_stream_is_openais_chunks_ending_with_usage_and_done(streaming_gateway):
    body = {
        "model": "chatgpt",
        "messages": HELLO,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    response, payloads = raw_chunks(streaming_gateway, body)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert payloads[-1] == "[DONE]"
    chunks = payloads[:-1]
    for chunk in chunks:
        ChatCompletionChunk.model_validate(chunk)
        assert set(chunk) <= CHUNK_KEYS and chunk["object"] == "chat.completion.chunk"
        assert (chunk["id"], chunk["created"]) == (chunks[0]["id"], chunks[0]["created"])
        assert "usage" in chunk  # null on every chunk but the last, with include_usage
        for choice in chunk["choices"]:
            assert set(choice) - {"usage"} == CHOICE_KEYS
    first, *content, finish, usage = chunks
    assert first["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert all(set(c["choices"][0]["delta"]) == {"content"} for c in content)
    assert finish["choices"][0]["delta"] == {} and finish["choices"][0]["finish_reason"] == "stop"
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 12
    text = "".join(c["choices"][0]["delta"]["content"] for c in content)
    stored = conversation(streaming_gateway, int(response.headers["x-multichat-conversation-id"]))
    assert answers(stored) == {"chatgpt": text}


def test_the_sdk_streams_one_provider_sync(streaming_gateway):
    client = sdk(streaming_gateway)
    stream = client.chat.completions.create(model="gemini", messages=HELLO, stream=True)
    chunks = list(stream)
    assert all(c.usage is None for c in chunks)  # not asked for
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert chunks[-1].choices[0].finish_reason == "stop"
    whole = client.chat.completions.create(model="gemini", messages=HELLO)
    assert text == whole.choices[0].message.content  # the simulators answer the same prompt alike


# -- fan-out --------------------------------------------------------------------------------------


async def test_the_sdk_streams_a_five_provider_fan_out_stored_as_one_conversation(
    streaming_gateway,
):
    client = async_sdk(streaming_gateway)
    raw = await client.chat.completions.with_raw_response.create(
        model="multichat",
        messages=HELLO,
        stream=True,
        stream_options={"include_usage": True},
    )
    texts: dict[int, str] = {}
    providers: dict[int, str] = {}
    finishes: dict[int, str] = {}
    usage = None
    async for chunk in raw.parse():
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            providers.setdefault(choice.index, choice.provider)  # type: ignore[attr-defined]
            texts[choice.index] = texts.get(choice.index, "") + (choice.delta.content or "")
            if choice.finish_reason:
                finishes[choice.index] = choice.finish_reason
    assert [providers[i] for i in range(5)] == list(ALL)  # index in provider order
    assert finishes == dict.fromkeys(range(5), "stop")
    assert usage is not None and usage.completion_tokens == 5 * 12
    stored = conversation(streaming_gateway, int(raw.headers["x-multichat-conversation-id"]))
    assert answers(stored) == {providers[i]: texts[i] for i in range(5)}
    assert stored["id"] in listed_conversations(streaming_gateway)


async def test_fan_out_to_chosen_providers_in_their_order_without_streaming(streaming_gateway):
    client = async_sdk(streaming_gateway)
    completion = await client.chat.completions.create(
        model="multichat:gemini,claude", messages=HELLO
    )
    ChatCompletion.model_validate(completion.model_dump())
    assert completion.model == "multichat:gemini,claude"
    assert [c.provider for c in completion.choices] == ["gemini", "claude"]  # type: ignore[attr-defined]
    assert [c.index for c in completion.choices] == [0, 1]
    for choice in completion.choices:
        assert set(choice.model_dump(exclude_none=False)) >= MESSAGE_CHOICE_KEYS
        assert choice.message.content and choice.finish_reason == "stop"
    assert completion.usage is not None and completion.usage.completion_tokens == 24


def test_a_failed_provider_is_one_failed_choice_of_a_fan_out(streaming_gateway):
    broken = f"chatgpt:{PROVIDERS['chatgpt'].model}+fault=midstream,after=2"
    body = {"model": f"multichat:claude,{broken}", "messages": HELLO, "stream": True}
    response, payloads = raw_chunks(streaming_gateway, body)
    assert response.status_code == 200 and payloads[-1] == "[DONE]"
    finishes = {
        choice["provider"]: choice
        for chunk in payloads[:-1]
        for choice in chunk["choices"]
        if choice["finish_reason"]
    }
    assert finishes["claude"]["finish_reason"] == "stop"
    failed = finishes["chatgpt"]
    assert failed["finish_reason"] == "error"
    assert set(failed["error"]) == {"message", "type", "param", "code"}
    # The knobs' commas stayed with the pinned model.
    assert failed["model"] == broken.partition(":")[2]


# -- errors ---------------------------------------------------------------------------------------


NOT_HONOURED = [
    ({"tools": [{"type": "function", "function": {"name": "f"}}]}, "tools", "unsupported_parameter"),
    ({"logprobs": True}, "logprobs", "unsupported_parameter"),
    ({"n": 2}, "n", "unsupported_parameter"),
    ({"stop": ["\n"]}, "stop", "unsupported_parameter"),
    ({"frobnicate": 1}, "frobnicate", "unknown_parameter"),
    ({"store": False}, "store", "unsupported_parameter"),
    ({"stream_options": {"include_usage": True}}, "stream_options", "unsupported_parameter"),
    ({"messages": [{"role": "user", "content": "hi", "name": "ann"}]}, "messages.0.name", "unsupported_parameter"),
    ({"messages": [{"role": "assistant", "content": "a", "tool_calls": [{"id": "x"}]}, *HELLO]}, "messages.0.tool_calls", "unsupported_parameter"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "messages.0.role", "unsupported_parameter"),
    ({"messages": [*HELLO, {"role": "assistant", "content": "Sure"}]}, "messages.1", "unsupported_parameter"),
]  # fmt: skip


def test_what_is_not_honoured_is_a_clear_400_before_any_upstream_call(streaming_gateway, sim):
    client = sdk(streaming_gateway)
    for extra, param, code in NOT_HONOURED:
        with pytest.raises(openai.BadRequestError) as refused:
            client.chat.completions.create(model="claude", messages=HELLO, extra_body=extra)
        assert (refused.value.param, refused.value.code) == (param, code), extra
        assert refused.value.type == "invalid_request_error"
    assert sum(counters["requests"] for counters in sim.stats().values()) == 0


def test_parameters_at_their_defaults_ask_nothing_and_pass(streaming_gateway):
    client = sdk(streaming_gateway)
    completion = client.chat.completions.create(
        model="claude",
        messages=HELLO,
        n=1,
        top_p=1,
        presence_penalty=0,
        frequency_penalty=0,
        logprobs=False,
        tools=[],
        stop=None,
        user="someone@example.com",
    )
    assert completion.choices[0].message.content


def test_errors_have_openais_shape_and_the_gateways_statuses(streaming_gateway):
    client = sdk(streaming_gateway)
    with pytest.raises(openai.UnprocessableEntityError) as unknown:
        client.chat.completions.create(model="gpt-4o", messages=HELLO)
    assert unknown.value.code == "model_not_found"
    with pytest.raises(openai.UnprocessableEntityError) as bad_type:
        client.chat.completions.create(model="claude", messages=[{"role": "user", "content": 5}])  # type: ignore[list-item]
    assert bad_type.value.param and bad_type.value.param.startswith("messages.0")
    url = f"{streaming_gateway.url}/v1/chat/completions"
    malformed = httpx.post(url, content=b"{", headers={"content-type": "application/json"})
    no_route = httpx.get(f"{streaming_gateway.url}/v1/nothing/here")
    for response, status in ((malformed, 400), (no_route, 404)):
        assert response.status_code == status
        assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_a_provider_failing_first_is_an_error_status_and_later_an_error_in_the_stream(
    streaming_gateway,
):
    client = sdk(streaming_gateway)
    quota = f"chatgpt:{PROVIDERS['chatgpt'].model}+fault=status,status=429,quota=1"
    with pytest.raises(openai.RateLimitError) as limited:
        client.chat.completions.create(model=quota, messages=HELLO, stream=True)
    assert limited.value.code == "insufficient_quota"
    with pytest.raises(openai.RateLimitError):
        client.chat.completions.create(model=quota, messages=HELLO)
    later = f"claude:{PROVIDERS['claude'].model}+fault=midstream,after=3"
    stream = client.chat.completions.create(model=later, messages=HELLO, stream=True)
    received = []
    with pytest.raises(openai.APIError):
        for chunk in stream:
            received.append(chunk.choices[0].delta.content)
    assert any(received)  # the words before the failure came through


async def test_a_client_that_leaves_cancels_its_call_after_the_grace(streaming_gateway):
    """The call listens to its turn like any client: when it leaves, the turn waits for a
    reconnect (the grace), then stops the provider and stores what it had as cancelled."""
    client = async_sdk(streaming_gateway)
    slow = f"claude:{PROVIDERS['claude'].model}+tokens=400,gap=25"
    raw = await client.chat.completions.with_raw_response.create(
        model=slow, messages=HELLO, stream=True
    )
    stream = raw.parse()
    async for chunk in stream:
        if chunk.choices[0].delta.content:
            break
    await stream.close()
    turn = f"{streaming_gateway.url}/api/v1/turns/{raw.headers['x-multichat-turn-id']}"
    async with httpx.AsyncClient(timeout=10) as http:

        async def finished() -> dict | None:
            state = (await http.get(turn)).json()
            return state if state["status"] == "finished" else None

        state = await eventually(finished)
    assert [p["status"] for p in state["providers"]] == ["cancelled"]


# -- settings, reasoning and images -----------------------------------------------------------------


def png_data_url(color: str = "red") -> str:
    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (4, 3), color).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_system_messages_and_parameters_reach_the_provider(streaming_gateway, sim):
    client = sdk(streaming_gateway)
    raw = client.chat.completions.with_raw_response.create(
        model="grok",
        messages=[
            {"role": "system", "content": "Be terse."},
            {"role": "developer", "content": [{"type": "text", "text": "Use French."}]},
            *HELLO,
        ],
        temperature=0.3,
        max_completion_tokens=77,
    )
    [sent] = sim.requests("xai")
    body = sent["body"]
    assert body["messages"][0] == {"role": "system", "content": "Be terse.\n\nUse French."}
    assert (body["temperature"], body["max_completion_tokens"]) == (0.3, 77)
    turn = httpx.get(
        f"{streaming_gateway.url}/api/v1/turns/{raw.headers['x-multichat-turn-id']}", timeout=10
    ).json()
    assert turn["settings"]["system"] == "Be terse.\n\nUse French."
    assert turn["settings"]["params"] == {"temperature": 0.3, "max_tokens": 77}
    with pytest.raises(openai.BadRequestError) as both:
        client.chat.completions.create(
            model="claude", messages=HELLO, max_tokens=5, max_completion_tokens=6
        )
    assert both.value.param == "max_tokens"


def test_reasoning_comes_as_reasoning_content_only_when_asked(streaming_gateway):
    client = sdk(streaming_gateway)
    stream = client.chat.completions.create(
        model="claude", messages=HELLO, stream=True, reasoning_effort="high"
    )
    reasoning = content = ""
    for chunk in stream:
        for choice in chunk.choices:
            reasoning += getattr(choice.delta, "reasoning_content", None) or ""
            content += choice.delta.content or ""
    assert reasoning and content and reasoning not in content
    whole = client.chat.completions.create(model="claude", messages=HELLO, reasoning_effort="low")
    assert whole.choices[0].message.reasoning_content  # type: ignore[attr-defined]
    assert whole.usage.completion_tokens_details.reasoning_tokens > 0  # type: ignore[union-attr]
    plain = client.chat.completions.create(model="claude", messages=HELLO, reasoning_effort="none")
    assert getattr(plain.choices[0].message, "reasoning_content", None) is None


def test_images_go_with_their_messages_and_the_prompts_are_stored(streaming_gateway, sim):
    client = sdk(streaming_gateway)
    messages = [
        {"role": "user", "content": [{"type": "image_url", "image_url": {"url": png_data_url("blue")}}, {"type": "text", "text": "what is this?"}]},
        {"role": "assistant", "content": "a blue square"},
        {"role": "user", "content": [{"type": "text", "text": "and this?"}, {"type": "image_url", "image_url": {"url": png_data_url()}}]},
    ]  # fmt: skip
    raw = client.chat.completions.with_raw_response.create(model="claude", messages=messages)  # type: ignore[arg-type]
    [sent] = sim.requests("anthropic")
    images = [
        (index, part["source"]["media_type"])
        for index, message in enumerate(sent["body"]["messages"])
        for part in message["content"]
        if isinstance(part, dict) and part["type"] == "image"
    ]
    assert images == [(0, "image/png"), (2, "image/png")]
    turn = httpx.get(
        f"{streaming_gateway.url}/api/v1/turns/{raw.headers['x-multichat-turn-id']}", timeout=10
    ).json()
    [attached] = turn["settings"]["attachments"]
    upload = httpx.get(f"{streaming_gateway.url}/api/v1/uploads/{attached['upload_id']}")
    assert upload.headers["content-type"] == "image/png"
    for url, status in (
        ("https://example.com/cat.png", 400),
        ("data:image/png;base64,@@@", 422),
        ("data:image/png;base64," + base64.b64encode(b"not an image").decode(), 415),
    ):
        parts = [
            {"type": "text", "text": "and this?"},
            {"type": "image_url", "image_url": {"url": url}},
        ]
        with pytest.raises(openai.APIStatusError) as refused:
            client.chat.completions.create(
                model="claude",
                messages=[{"role": "user", "content": parts}],  # type: ignore[misc]
            )
        assert refused.value.status_code == status, url
        assert refused.value.param == "messages.0.content.1.image_url.url" or status == 415


# -- history and conversations ---------------------------------------------------------------------


def test_the_history_is_the_clients_and_goes_to_the_provider(streaming_gateway, sim):
    client = sdk(streaming_gateway)
    messages = [
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": "first answer"},
        {"role": "user", "content": "second question"},
        {"role": "user", "content": [{"type": "text", "text": "said twice"}]},
    ]
    client.chat.completions.create(model="claude", messages=messages)  # type: ignore[arg-type]
    [sent] = sim.requests("anthropic")
    assert [(m["role"], m["content"]) for m in sent["body"]["messages"]] == [
        ("user", "first question"),
        ("assistant", "first answer"),
        ("user", "second question\n\nsaid twice"),
    ]


def test_calls_are_added_to_a_conversation_by_header_or_user(streaming_gateway):
    client = sdk(streaming_gateway)
    first = client.chat.completions.with_raw_response.create(model="claude", messages=HELLO)
    conversation_id = first.headers["x-multichat-conversation-id"]
    # The SDK's own message object, echoed back as history (null refusal, empty annotations).
    answer = first.parse().choices[0].message.model_dump()
    again = client.chat.completions.with_raw_response.create(
        model="grok",
        messages=[*HELLO, answer, {"role": "user", "content": "and again"}],  # type: ignore[list-item]
        extra_headers={"X-Multichat-Conversation-Id": conversation_id},
    )
    by_user = client.chat.completions.with_raw_response.create(
        model="claude",
        messages=[{"role": "user", "content": "once more"}],
        user=f"conversation:{conversation_id}",
    )
    assert again.headers["x-multichat-conversation-id"] == conversation_id
    assert by_user.headers["x-multichat-conversation-id"] == conversation_id
    stored = conversation(streaming_gateway, int(conversation_id))
    prompts = [m["content"] for m in stored["messages"] if m["role"] == "user"]
    assert prompts == ["Say hello", "and again", "once more"]
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(
            model="claude", messages=HELLO, extra_headers={"X-Multichat-Conversation-Id": "999999"}
        )


# -- keys and limits -------------------------------------------------------------------------------


async def make_key(database_url: str, name: str) -> str:
    pool = await create_pool(database_url, min_size=1, max_size=2, command_timeout=10)
    try:
        return (await create_key(pool, name))[0]
    finally:
        await pool.close()


async def test_client_keys_are_the_bearer_key_and_limits_hold(database_url, sim):
    await make_key(database_url, "operator")  # the first key is an admin, held to no key limit
    alice, bob = await make_key(database_url, "alice"), await make_key(database_url, "bob")
    server = start_gateway(database_url, sim.url, key_turns_per_minute=1)
    try:
        with pytest.raises(openai.AuthenticationError) as refused:
            await async_sdk(server, "not-a-key").models.list()
        assert refused.value.code == "invalid_api_key"
        client = async_sdk(server, alice)
        raw = await client.chat.completions.with_raw_response.create(model="claude", messages=HELLO)
        with pytest.raises(openai.RateLimitError) as limited:
            await client.chat.completions.create(model="claude", messages=HELLO)
        assert limited.value.code == "rate_limit_exceeded"
        assert int(limited.value.response.headers["retry-after"]) >= 1
        # Another key's conversation is as good as absent.
        with pytest.raises(openai.NotFoundError):
            await async_sdk(server, bob).chat.completions.create(
                model="claude",
                messages=HELLO,
                extra_headers={
                    "X-Multichat-Conversation-Id": raw.headers["x-multichat-conversation-id"]
                },
            )
    finally:
        server.stop()
