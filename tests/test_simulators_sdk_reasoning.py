"""Reasoning and images in the simulators, driven over real HTTP by each provider's official SDK.

The SDKs' stream helpers (the Responses stream's final response, Anthropic's final message,
python-genai's parts) rebuild the answer from the events, so a wrongly shaped or ordered
event fails here. Each simulated model answers from the image it got ("The image is a 64x48
PNG, mostly red (#ff0000).") and refuses what its real API refuses, as the SDK's own error.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterator

import anthropic
import openai
import pytest
from google import genai
from google.genai import errors as genai_errors
from google.genai import types as genai_types
from PIL import Image

from providers.registry import SIMULATOR_KEY
from providers.simulators import Knobs, SimulatorConfig, create_app, expected_answer
from providers.simulators.images import inspect, preface
from providers.simulators.thoughts import LEVEL_TOKENS, expected_thinking
from tests.support.servers import ServerThread, serve

PROMPT = "How do tides work?"
TOKENS = 48


def picture(kind: str = "PNG", colour=(255, 0, 0), size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, kind)
    return buffer.getvalue()


PNG = picture()
PNG_B64 = base64.b64encode(PNG).decode()
SEEN = preface([inspect(PNG)])

# The module's own simulator server: a test using it is an integration test (support/markers.py).
SERVER_FIXTURES = {"server"}


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with serve(create_app(SimulatorConfig(defaults=Knobs(ttft=0, gap=0)))) as running:
        yield running


def openai_client(server: ServerThread, prefix: str = "/openai/v1") -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=server.url + prefix, api_key=SIMULATOR_KEY, max_retries=0)


def anthropic_client(server: ServerThread) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(
        base_url=server.url + "/anthropic", api_key=SIMULATOR_KEY, max_retries=0
    )


def gemini_client(server: ServerThread) -> genai.Client:
    return genai.Client(
        api_key=SIMULATOR_KEY,
        http_options=genai_types.HttpOptions(base_url=server.url + "/gemini"),
    )


def test_the_answer_describes_the_image() -> None:
    assert SEEN == "The image is a 64x48 PNG, mostly red (#ff0000)."
    blue = inspect(picture("WEBP", (20, 60, 230), (10, 20)))  # lossy: about that blue
    assert preface([inspect(PNG), blue]) == (
        "Image 1 is a 64x48 PNG, mostly red (#ff0000). "
        "Image 2 is a 10x20 WEBP, mostly blue (#1039e7)."
    )


# -- OpenAI Responses (ChatGPT) ---------------------------------------------------------------


async def test_responses_stream_reasoning_summary_then_text(server: ServerThread) -> None:
    async with openai_client(server) as client:
        stream = await client.responses.create(
            model="gpt-5.5",
            input=PROMPT,
            reasoning={"effort": "high", "summary": "auto"},
            include=["reasoning.encrypted_content"],
            store=False,
            stream=True,
        )
        events = [event async for event in stream]
    kinds = [event.type for event in events]
    assert kinds[:3] == ["response.created", "response.in_progress", "response.output_item.added"]
    assert kinds[-1] == "response.completed"
    assert kinds.index("response.reasoning_summary_text.delta") < kinds.index(
        "response.output_text.delta"
    )
    summary = "".join(e.delta for e in events if e.type == "response.reasoning_summary_text.delta")
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert summary == expected_thinking("openai", PROMPT, LEVEL_TOKENS["high"])
    assert text == expected_answer("openai", PROMPT, TOKENS)
    usage = events[-1].response.usage
    assert usage.output_tokens_details.reasoning_tokens == LEVEL_TOKENS["high"]
    assert usage.output_tokens == TOKENS + LEVEL_TOKENS["high"]
    assert [e.sequence_number for e in events] == list(range(len(events)))


async def test_responses_stream_helper_rebuilds_the_final_response(server: ServerThread) -> None:
    async with (
        openai_client(server) as client,
        client.responses.stream(
            model="gpt-5.5",
            input=[
                {
                    "role": "user",
                    "content": [
                        {"type": "input_image", "image_url": f"data:image/png;base64,{PNG_B64}"},
                        {"type": "input_text", "text": PROMPT},
                    ],
                }
            ],
            instructions="Be terse.",
            reasoning={"effort": "low", "summary": "auto"},
            max_output_tokens=100,
        ) as stream,
    ):
        final = await stream.get_final_response()
    reasoning, message = final.output
    assert reasoning.type == "reasoning" and reasoning.encrypted_content
    assert reasoning.summary[0].text == expected_thinking("openai", PROMPT, LEVEL_TOKENS["low"])
    assert final.output_text == expected_answer("openai", PROMPT, TOKENS, SEEN)
    assert final.output_text.startswith(SEEN)
    assert message.status == "completed"


async def test_responses_encrypted_reasoning_round_trip(server: ServerThread) -> None:
    async with openai_client(server) as client:
        async with client.responses.stream(
            model="gpt-5.5", input=PROMPT, reasoning={"effort": "low"}, store=False
        ) as stream:
            first = await stream.get_final_response()
        item = first.output[0]
        assert item.type == "reasoning" and item.summary == []  # no summary asked: none shown
        echo = {
            "type": "reasoning",
            "id": item.id,
            "summary": [],
            "encrypted_content": item.encrypted_content,
        }
        later = [
            {"role": "user", "content": PROMPT},
            echo,
            {"role": "assistant", "content": first.output_text},
            {"role": "user", "content": "And why twice a day?"},
        ]
        async with client.responses.stream(
            model="gpt-5.5", input=later, reasoning={"effort": "low"}, store=False
        ) as stream:
            assert (await stream.get_final_response()).status == "completed"
        tampered = [*later[:1], {**echo, "encrypted_content": "gAAAAAB" + "x" * 20}, *later[2:]]
        with pytest.raises(openai.BadRequestError) as refused:
            await client.responses.create(model="gpt-5.5", input=tampered, stream=True)
        assert "could not be verified" in str(refused.value)
        with pytest.raises(openai.BadRequestError):  # and not on another model
            await client.responses.create(model="gpt-5.6-sol", input=later, stream=True)


@pytest.mark.parametrize(
    ("request_fields", "param"),
    [
        ({"model": "gpt-5.5", "temperature": 0.3}, "temperature"),
        ({"model": "gpt-4.1", "reasoning": {"effort": "low"}}, "reasoning.effort"),
        ({"model": "gpt-5", "reasoning": {"effort": "none"}}, "reasoning.effort"),
        ({"model": "gpt-5.5", "max_output_tokens": 8}, "max_output_tokens"),
    ],
)
async def test_responses_refuses_what_openai_refuses(server, request_fields, param) -> None:
    async with openai_client(server) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.responses.create(input=PROMPT, stream=True, **request_fields)
    assert refused.value.param == param


async def test_openai_refuses_an_image_it_cannot_read(server: ServerThread) -> None:
    bad = [
        {
            "role": "user",
            "content": [{"type": "input_image", "image_url": "data:image/png;base64,AAAA"}],
        }
    ]
    async with openai_client(server) as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.responses.create(model="gpt-5.5", input=bad, stream=True)
    assert refused.value.code == "invalid_image_format"


async def test_chat_completions_counts_hidden_reasoning(server: ServerThread) -> None:
    async with openai_client(server) as client:
        stream = await client.chat.completions.create(
            model="gpt-5.5",
            messages=[{"role": "user", "content": PROMPT}],
            reasoning_effort="medium",
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = [chunk async for chunk in stream]
    usage = chunks[-1].usage
    assert usage.completion_tokens_details.reasoning_tokens == LEVEL_TOKENS["medium"]
    assert usage.completion_tokens == TOKENS + LEVEL_TOKENS["medium"]  # included
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected_answer("openai", PROMPT, TOKENS)


# -- Anthropic ------------------------------------------------------------------------------


async def test_anthropic_thinking_block_then_text(server: ServerThread) -> None:
    async with (
        anthropic_client(server) as client,
        client.messages.stream(
            model="claude-sonnet-5",
            max_tokens=4000,
            thinking={"type": "adaptive"},
            output_config={"effort": "medium"},
            messages=[{"role": "user", "content": PROMPT}],
        ) as stream,
    ):
        final = await stream.get_final_message()
    thinking, text = final.content
    assert thinking.type == "thinking" and thinking.signature
    assert thinking.thinking == expected_thinking("anthropic", PROMPT, LEVEL_TOKENS["medium"])
    assert text.text == expected_answer("anthropic", PROMPT, TOKENS)
    assert final.usage.output_tokens == TOKENS + LEVEL_TOKENS["medium"]


async def test_anthropic_signed_thinking_goes_back_unmodified(server: ServerThread) -> None:
    async with anthropic_client(server) as client:
        async with client.messages.stream(
            model="claude-sonnet-4-5",
            max_tokens=4000,
            thinking={"type": "enabled", "budget_tokens": 2048},
            messages=[{"role": "user", "content": PROMPT}],
        ) as stream:
            first = await stream.get_final_message()
        block = first.content[0]
        assert block.thinking == expected_thinking("anthropic", PROMPT, LEVEL_TOKENS["low"])

        def later(thinking: str) -> list[dict]:
            signed = {"type": "thinking", "thinking": thinking, "signature": block.signature}
            return [
                {"role": "user", "content": PROMPT},
                {"role": "assistant", "content": [signed, {"type": "text", "text": "Moon."}]},
                {"role": "user", "content": "More?"},
            ]

        thinking = {"type": "enabled", "budget_tokens": 2048}
        async with client.messages.stream(
            model="claude-sonnet-4-5",
            max_tokens=4000,
            thinking=thinking,
            messages=later(block.thinking),
        ) as stream:
            assert (await stream.get_final_message()).stop_reason == "end_turn"
        with pytest.raises(anthropic.BadRequestError) as refused:
            await client.messages.create(
                model="claude-sonnet-4-5",
                max_tokens=4000,
                thinking=thinking,
                messages=later(block.thinking + " (edited)"),
                stream=True,
            )
    assert "messages.1.content.0: Invalid `signature` in `thinking` block" in str(refused.value)


async def test_anthropic_omitted_display_sends_only_the_signature(server: ServerThread) -> None:
    async with (
        anthropic_client(server) as client,
        client.messages.stream(
            model="claude-opus-4-7",
            max_tokens=4000,
            thinking={"type": "adaptive"},
            messages=[{"role": "user", "content": PROMPT}],
        ) as stream,
    ):
        final = await stream.get_final_message()
    assert final.content[0].type == "thinking" and final.content[0].thinking == ""
    assert final.content[0].signature
    assert final.usage.output_tokens == TOKENS + LEVEL_TOKENS["high"]


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"model": "claude-sonnet-5", "thinking": {"type": "enabled", "budget_tokens": 2048}}, "Use thinking.type.adaptive"),
        ({"model": "claude-sonnet-4-5", "thinking": {"type": "enabled", "budget_tokens": 512}}, "greater than or equal to 1024"),
        ({"model": "claude-sonnet-4-5", "thinking": {"type": "enabled", "budget_tokens": 8000}}, "`max_tokens` must be greater than `thinking.budget_tokens`"),
        # the 2026 SDK has no temperature parameter any more: sent as an extra field
        ({"model": "claude-sonnet-4-6", "thinking": {"type": "adaptive"}, "extra_body": {"temperature": 0.5}}, "`temperature` may only be set to 1"),
        ({"model": "claude-fable-5", "thinking": {"type": "disabled"}}, "'disabled' is not supported"),
    ],
)  # fmt: skip
async def test_anthropic_refuses_what_anthropic_refuses(server, fields, words) -> None:
    async with anthropic_client(server) as client:
        with pytest.raises(anthropic.BadRequestError) as refused:
            await client.messages.create(
                max_tokens=4000,
                messages=[{"role": "user", "content": PROMPT}],
                stream=True,
                **fields,
            )
    assert words in str(refused.value)


def image_block(data: str, media_type: str = "image/png") -> dict:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


@pytest.mark.parametrize(
    ("block", "words"),
    [
        (image_block(PNG_B64), None),
        (image_block(PNG_B64, "image/jpeg"), "messages.0.content.0.image.source.base64: Image does not match the provided media type"),
        (image_block("not base64!"), "messages.0.content.0.image.source.base64: invalid base64 data"),
        (image_block("A" * (5 * 1024 * 1024 + 4)), "image exceeds 5 MB maximum: 5242884 bytes > 5242880 bytes"),
        (image_block(PNG_B64, "image/bmp"), "media_type: Input should be"),
    ],
)  # fmt: skip
async def test_anthropic_images(server: ServerThread, block, words) -> None:
    content = [block, {"type": "text", "text": PROMPT}]
    async with anthropic_client(server) as client:
        if words is None:
            async with client.messages.stream(
                model="claude-sonnet-5",
                max_tokens=1000,
                messages=[{"role": "user", "content": content}],
            ) as stream:
                final = await stream.get_final_message()
            assert final.content[0].text == expected_answer("anthropic", PROMPT, TOKENS, SEEN)
            return
        with pytest.raises(anthropic.BadRequestError) as refused:
            await client.messages.create(
                model="claude-sonnet-5",
                max_tokens=1000,
                messages=[{"role": "user", "content": content}],
                stream=True,
            )
    assert words in str(refused.value)


# -- Gemini ---------------------------------------------------------------------------------


async def gemini_chunks(
    server, model, contents, config
) -> list[genai_types.GenerateContentResponse]:
    stream = await gemini_client(server).aio.models.generate_content_stream(
        model=model, contents=contents, config=config
    )
    return [chunk async for chunk in stream]


async def test_gemini_thought_parts_then_text_with_a_signature(server: ServerThread) -> None:
    config = genai_types.GenerateContentConfig(
        thinking_config=genai_types.ThinkingConfig(include_thoughts=True, thinking_level="HIGH")
    )
    chunks = await gemini_chunks(server, "gemini-3.5-flash", PROMPT, config)
    parts = [part for chunk in chunks for part in chunk.candidates[0].content.parts]
    thoughts = "".join(p.text for p in parts if p.thought)
    text = "".join(p.text or "" for p in parts if not p.thought)
    assert thoughts == expected_thinking("gemini", PROMPT, LEVEL_TOKENS["high"])
    assert text == expected_answer("gemini", PROMPT, TOKENS)
    assert parts[-1].thought_signature  # bytes, on the last part
    usage = chunks[-1].usage_metadata
    assert (usage.candidates_token_count, usage.thoughts_token_count) == (
        TOKENS,
        LEVEL_TOKENS["high"],
    )
    assert usage.total_token_count == usage.prompt_token_count + TOKENS + LEVEL_TOKENS["high"]


async def test_gemini_reads_an_inline_image(server: ServerThread) -> None:
    contents = [genai_types.Part.from_bytes(data=PNG, mime_type="image/png"), PROMPT]
    chunks = await gemini_chunks(server, "gemini-3.5-flash", contents, None)
    text = "".join(chunk.text or "" for chunk in chunks)
    assert text == expected_answer("gemini", PROMPT, TOKENS, SEEN)


@pytest.mark.parametrize(
    ("model", "contents", "config", "words"),
    [
        ("gemini-3.5-flash", [genai_types.Part.from_bytes(data=picture("GIF"), mime_type="image/gif"), PROMPT], None, "Unsupported MIME type: image/gif"),
        ("gemini-2.5-pro", PROMPT, genai_types.ThinkingConfig(thinking_budget=0), "Budget 0 is invalid"),
        ("gemini-2.5-flash", PROMPT, genai_types.ThinkingConfig(thinking_level="HIGH"), "Thinking level is not supported"),
        ("gemini-3.1-pro", PROMPT, genai_types.ThinkingConfig(thinking_level="MEDIUM"), "Thinking level MEDIUM is not supported"),
    ],
)  # fmt: skip
async def test_gemini_refuses_what_gemini_refuses(server, model, contents, config, words) -> None:
    generation = genai_types.GenerateContentConfig(thinking_config=config) if config else None
    with pytest.raises(genai_errors.ClientError) as refused:
        await gemini_chunks(server, model, contents, generation)
    assert refused.value.code == 400 and words in str(refused.value)


# -- xAI and Perplexity ---------------------------------------------------------------------


async def test_xai_streams_reasoning_content_and_counts_it_apart(server: ServerThread) -> None:
    async with openai_client(server, "/xai/v1") as client:
        stream = await client.chat.completions.create(
            model="grok-3-mini",
            messages=[{"role": "user", "content": PROMPT}],
            reasoning_effort="high",
            stream=True,
        )
        chunks = [chunk async for chunk in stream]
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning = "".join((d.model_extra or {}).get("reasoning_content") or "" for d in deltas)
    assert reasoning == expected_thinking("xai", PROMPT, LEVEL_TOKENS["high"])
    assert deltas[0].role == "assistant"  # the role rides on the first (reasoning) chunk
    usage = chunks[-1].usage
    assert usage.completion_tokens == TOKENS  # reasoning is counted apart
    assert usage.completion_tokens_details.reasoning_tokens == LEVEL_TOKENS["high"]
    assert usage.total_tokens == usage.prompt_tokens + TOKENS + LEVEL_TOKENS["high"]


@pytest.mark.parametrize(
    ("model", "fields", "words"),
    [
        ("grok-4-0709", {"reasoning_effort": "high"}, "does not support parameter reasoningEffort"),
        ("grok-3-mini", {"reasoning_effort": "medium"}, "supported values are low, high"),
        ("grok-4.3", {"image": "image/webp"}, "only JPEG and PNG"),
        ("grok-3-mini", {"image": "image/png"}, "Image inputs are not supported"),
    ],
)
async def test_xai_refuses_what_xai_refuses(server, model, fields, words) -> None:
    content: object = PROMPT
    if media_type := fields.pop("image", None):
        data = base64.b64encode(picture(media_type.split("/")[1].upper())).decode()
        content = [{"type": "image_url", "image_url": {"url": f"data:{media_type};base64,{data}"}}]
    async with openai_client(server, "/xai/v1") as client:
        with pytest.raises(openai.BadRequestError) as refused:
            await client.chat.completions.create(
                model=model, messages=[{"role": "user", "content": content}], stream=True, **fields
            )
    assert words in str(refused.value.body)  # the "error" of xAI's {"code", "error"}


async def test_perplexity_reasoning_model_thinks_in_its_content(server: ServerThread) -> None:
    image = {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}}
    async with openai_client(server, "/perplexity") as client:
        stream = await client.chat.completions.create(
            model="sonar-reasoning-pro",
            messages=[{"role": "user", "content": [image, {"type": "text", "text": PROMPT}]}],
            stream=True,
        )
        chunks = [chunk async for chunk in stream]
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    thinking = expected_thinking("perplexity", PROMPT, LEVEL_TOKENS["medium"])
    answer = expected_answer("perplexity", PROMPT, TOKENS, SEEN)
    assert content == f"<think>\n{thinking}\n</think>\n\n{answer}"
    assert chunks[-1].usage.completion_tokens == TOKENS + LEVEL_TOKENS["medium"]
