"""Reasoning, images and per-turn settings through the real server and the five simulators:
what streams, what is stored, what each simulator received, and what a retry reuses."""

from __future__ import annotations

import base64
import hashlib
import io
import os

import asyncpg
import httpx
import pytest
from PIL import Image

from providers.simulators.images import inspect, preface
from providers.simulators.text import expected_answer
from providers.simulators.thoughts import LEVEL_TOKENS, expected_thinking
from storage import Q
from tests.support.keys import bearer
from tests.support.sse_client import Stream, check_invariants, read_stream
from tests.support.turn_helpers import API, answers, eventually, flavour, read_events, rows

ALL = ["claude", "chatgpt", "gemini", "grok", "perplexity"]
REASONING_SHOWN = {"claude", "chatgpt", "gemini"}  # their default models stream it when asked
PROMPT = "What is in this picture?"
TOKENS = 12  # the session simulator's answer length


def picture(kind: str = "PNG", colour=(255, 0, 0), size=(64, 48)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, kind)
    return buffer.getvalue()


PNG = picture()
SEEN = preface([inspect(PNG)])


async def upload(client: httpx.AsyncClient, data: bytes = PNG, media_type="image/png") -> dict:
    response = await client.post(f"{API}/uploads", files={"file": ("a.img", data, media_type)})
    assert response.status_code == 201, response.text
    return response.json()


async def stream_turn(client: httpx.AsyncClient, body: dict) -> Stream:
    async with client.stream("POST", f"{API}/chat/stream", json=body) as response:
        assert response.status_code == 200, await response.aread()
        return await read_stream(response)


def thinking_of(stream: Stream, provider: str, key: str = "provider") -> str:
    return "".join(e.data["text"] for e in stream.named("thinking") if e.data[key] == provider)


async def test_reasoning_and_an_image_to_all_five(stream_client, sim, database_url) -> None:
    """The issue's "done when": reasoning high and an uploaded PNG, sent to all five."""
    image = await upload(stream_client)
    body = {
        "prompt": PROMPT,
        "params": {"reasoning": "high"},
        "attachments": [{"upload_id": image["id"]}],
    }
    stream = await stream_turn(stream_client, body)
    check_invariants(stream, ALL)
    high = LEVEL_TOKENS["high"]
    for provider in ALL:
        done = stream.done(provider)
        assert done["status"] == "complete", done
        assert done["content"] == expected_answer(flavour(provider), PROMPT, TOKENS, SEEN)
        assert done["content"].startswith("The image is a 64x48 PNG, mostly red")
        thought = thinking_of(stream, provider)
        if provider in REASONING_SHOWN:
            assert thought == expected_thinking(flavour(provider), PROMPT, high)
            assert done["thinking"] == thought
            ids = [e.id for e in stream.events if e.data.get("provider") == provider]
            names = [e.name for e in stream.events if e.data.get("provider") == provider]
            assert names.index("delta") > max(i for i, n in enumerate(names) if n == "thinking")
            assert ids == sorted(ids)
        else:
            assert thought == "" and done["thinking"] is None
        assert thought not in done["content"] or not thought
        reasoning = None if provider == "perplexity" else high  # sonar-pro does not reason
        assert done["usage"]["reasoning_tokens"] == reasoning
        assert done["usage"]["output_tokens"] == TOKENS + (reasoning or 0)
    assert stream.done("perplexity")["settings_ignored"] == {
        "reasoning": "sonar-pro does not reason"
    }
    # Stored apart from the content, priced with the reasoning tokens as output.
    stored = {
        r["provider"]: r
        for r in await rows(
            database_url,
            "SELECT provider, content, thinking, reasoning_tokens, output_tokens FROM messages "
            "WHERE turn_id = $1 AND role = 'assistant'",
            stream.events[0].data["turn_id"],
        )
    }
    for provider in ALL:
        assert stored[provider]["thinking"] == stream.done(provider)["thinking"]
        assert stored[provider]["content"] == stream.done(provider)["content"]
    # Each simulator got the image in its own API's format.
    data = base64.b64encode(PNG).decode()
    uri = f"data:image/png;base64,{data}"
    claude = sim.requests("anthropic")[-1]["body"]
    assert claude["messages"][-1]["content"][0] == {
        "type": "image",
        "source": {"type": "base64", "media_type": "image/png", "data": data},
    }
    assert claude["thinking"] == {"type": "adaptive", "display": "summarized"}
    chatgpt = sim.requests("openai")[-1]["body"]
    assert chatgpt["input"][-1]["content"][0] == {"type": "input_image", "image_url": uri}
    assert chatgpt["reasoning"] == {"effort": "high", "summary": "auto"}
    gemini = sim.requests("gemini")[-1]["body"]
    assert gemini["contents"][-1]["parts"][0] == {
        "inlineData": {"mimeType": "image/png", "data": data}
    }
    assert gemini["generationConfig"]["thinkingConfig"]["includeThoughts"] is True
    for name in ("xai", "perplexity"):
        body_sent = sim.requests(name)[-1]["body"]
        assert body_sent["messages"][-1]["content"][0] == {
            "type": "image_url",
            "image_url": {"url": uri},
        }
    assert sim.requests("xai")[-1]["body"]["reasoning_effort"] == "high"


async def test_settings_are_stored_shown_and_reused_by_a_retry(stream_client, sim) -> None:
    image = await upload(stream_client)
    body = {
        "prompt": PROMPT,
        "models": ["claude", "gemini", "chatgpt"],
        "system": "Answer in one line.",
        "params": {"temperature": 0.4, "reasoning": "medium", "max_tokens": 300},
        "provider_params": {"gemini": {"reasoning": "low"}},
        "attachments": [{"upload_id": image["id"]}],
    }
    stream = await stream_turn(stream_client, body)
    turn_id = stream.events[0].data["turn_id"]
    shown = {
        "system": "Answer in one line.",
        "params": {"temperature": 0.4, "max_tokens": 300, "reasoning": "medium"},
        "provider_params": {"gemini": {"reasoning": "low"}},
        "attachments": [{"upload_id": image["id"]}],
    }
    state = (await stream_client.get(f"{API}/turns/{turn_id}")).json()
    assert state["settings"] == shown
    conversation = (
        await stream_client.get(f"{API}/conversations/{stream.events[0].data['conversation_id']}")
    ).json()
    prompt, *answers = conversation["messages"]
    assert prompt["settings"] == shown and prompt["attachments"] == shown["attachments"]
    claude = next(m for m in answers if m["provider"] == "claude")
    assert claude["thinking"] == stream.done("claude")["thinking"]
    assert claude["usage"]["reasoning_tokens"] == LEVEL_TOKENS["medium"]
    # Where each setting went, and what the models could not take.
    assert sim.requests("anthropic")[-1]["body"]["system"] == "Answer in one line."
    assert sim.requests("openai")[-1]["body"]["instructions"] == "Answer in one line."
    gemini = sim.requests("gemini")[-1]["body"]
    assert gemini["systemInstruction"] == {"parts": [{"text": "Answer in one line."}]}
    assert gemini["generationConfig"]["temperature"] == 0.4
    assert gemini["generationConfig"]["thinkingConfig"]["thinkingLevel"] == "LOW"
    assert "temperature" not in sim.requests("openai")[-1]["body"]
    assert stream.done("chatgpt")["settings_ignored"] == {
        "temperature": "gpt-5.5 takes only its default temperature"
    }
    assert stream.done("gemini")["settings_ignored"] is None
    # A retry asks again with the same settings and image.
    retry = await stream_client.post(f"{API}/turns/{turn_id}/retry", json={"providers": ["claude"]})
    assert retry.status_code == 202, retry.text
    async with stream_client.stream("GET", retry.json()["events_url"]) as response:
        rerun = await read_stream(response)
    assert rerun.done("claude")["thinking"] == expected_thinking(
        "anthropic", PROMPT, LEVEL_TOKENS["medium"]
    )
    again = sim.requests("anthropic")[-1]["body"]
    assert again["system"] == "Answer in one line."
    assert again["output_config"] == {"effort": "medium"}
    assert again["messages"][-1]["content"][0]["type"] == "image"


async def test_a_provider_that_cannot_take_the_image_fails_alone(stream_client) -> None:
    gif = await upload(stream_client, picture("GIF"), "image/gif")
    body = {
        "prompt": PROMPT,
        "models": ["claude", "gemini", "grok"],
        "attachments": [{"upload_id": gif["id"]}],
    }
    stream = await stream_turn(stream_client, body)
    check_invariants(stream, ["claude", "gemini", "grok"])
    assert stream.done("claude")["status"] == "complete"
    assert stream.done("claude")["content"].startswith("The image is a 64x48 GIF")
    for provider, takes in (("gemini", "PNG, JPEG, WEBP"), ("grok", "PNG, JPEG")):
        done = stream.done(provider)
        assert done["status"] == "failed"
        assert done["error"]["message"] == f"{provider} cannot take GIF images (it takes {takes})"
        assert done["error"]["retryable"] is False


async def test_the_next_turn_sends_the_image_and_the_signed_thinking_back(stream_client, sim):
    image = await upload(stream_client)
    first = await stream_turn(
        stream_client,
        {
            "prompt": PROMPT,
            "models": ["claude"],
            "params": {"reasoning": "low"},
            "attachments": [{"upload_id": image["id"]}],
        },
    )
    conversation_id = first.events[0].data["conversation_id"]
    second = await stream_turn(
        stream_client,
        {
            "prompt": "And its colour?",
            "conversation_id": conversation_id,
            "models": ["claude"],
            "params": {"reasoning": "low"},
        },
    )
    assert second.done("claude")["status"] == "complete"
    messages = sim.requests("anthropic")[-1]["body"]["messages"]
    assert messages[0]["content"][0]["type"] == "image"  # the history keeps the image
    thinking, text = messages[1]["content"]  # and the answer its signed thinking, unmodified
    assert (
        thinking["type"] == "thinking" and thinking["thinking"] == first.done("claude")["thinking"]
    )
    assert text == {"type": "text", "text": first.done("claude")["content"]}


async def test_a_blind_turn_labels_its_reasoning(stream_client) -> None:
    body = {
        "prompt": PROMPT,
        "models": ["claude", "chatgpt"],
        "blind": True,
        "params": {"reasoning": "low", "temperature": 0.2},
    }
    stream = await stream_turn(stream_client, body)
    assert stream.named("thinking")
    assert all(
        "provider" not in e.data and e.data["label"] in "AB" for e in stream.named("thinking")
    )
    dones = [e.data for e in stream.named("done")]
    ignored = [d["settings_ignored"] for d in dones if d["settings_ignored"]]
    assert ignored == [{"temperature": "not given to this model"}] * len(ignored) and ignored
    assert all("gpt" not in str(d) and "claude" not in str(d) for d in dones)


# -- uploads ------------------------------------------------------------------------------------


async def test_an_upload_is_stored_once_and_served_to_its_owner(stream_client, database_url):
    first = await upload(stream_client)
    assert first == {
        "id": first["id"],
        "media_type": "image/png",
        "bytes": len(PNG),
        "sha256": hashlib.sha256(PNG).hexdigest(),
        "width": 64,
        "height": 48,
    }
    assert (await upload(stream_client))["id"] == first["id"]
    served = await stream_client.get(f"{API}/uploads/{first['id']}")
    assert served.status_code == 200
    assert (served.content, served.headers["content-type"]) == (PNG, "image/png")
    assert (await stream_client.get(f"{API}/uploads/{'x' * 22}")).status_code == 404
    (count,) = await rows(database_url, "SELECT count(*) AS n FROM images")
    assert count["n"] == 1


@pytest.mark.parametrize(
    ("files", "status", "kind"),
    [
        ({"file": ("a.png", b"%PDF-1.7 nope", "image/png")}, 415, "not_an_image"),
        ({"file": ("a.png", picture("JPEG"), "image/png")}, 422, "type_mismatch"),
        ({"file": ("a.png", PNG[:-40], "image/png")}, 422, "truncated"),
        ({"file": ("a.bmp", picture("BMP"), "image/bmp")}, 415, "unsupported_type"),
        ({"other": ("a.png", PNG, "image/png")}, 422, "no_file"),
        ([("file", ("a.png", PNG, "image/png")), ("file", ("b.png", PNG, "image/png"))], 422, "too_many_files"),
    ],
)  # fmt: skip
async def test_a_bad_upload_is_refused_and_stores_nothing(
    stream_client, database_url, files, status, kind
) -> None:
    response = await stream_client.post(f"{API}/uploads", files=files)
    assert (response.status_code, response.json()["error"]["type"]) == (status, kind)
    (count,) = await rows(database_url, "SELECT count(*) AS n FROM uploads")
    assert count["n"] == 0


async def test_an_upload_must_be_multipart(stream_client) -> None:
    response = await stream_client.post(
        f"{API}/uploads", content=PNG, headers={"content-type": "image/png"}
    )
    assert response.status_code == 415


@pytest.mark.parametrize(
    ("attachments", "status", "words"),
    [
        ([{"upload_id": "A" * 22}], 404, f"attachments.0: upload {'A' * 22} not found"),
        ([{"upload_id": "nope"}], 422, "attachments.0.upload_id"),
    ],
)
async def test_attachments_must_be_the_owners_uploads(
    stream_client, attachments, status, words
) -> None:
    response = await stream_client.post(
        f"{API}/chat/", json={"prompt": "hi", "attachments": attachments}
    )
    assert response.status_code == status
    assert words in response.json()["error"]["message"]


async def test_too_large_and_too_many(database_url, sim) -> None:
    from tests.support.gateways import start_gateway

    server = start_gateway(database_url, sim.url, max_upload_bytes=2048, max_attachments=1)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            noisy = Image.frombytes("RGB", (100, 100), os.urandom(100 * 100 * 3))
            buffer = io.BytesIO()
            noisy.save(buffer, "PNG")
            response = await client.post(
                f"{API}/uploads", files={"file": ("a.png", buffer.getvalue(), "image/png")}
            )
            assert (response.status_code, response.json()["error"]["type"]) == (413, "too_large")
            small = [
                await upload(client, picture(colour=c, size=(4, 4))) for c in ((1, 2, 3), (4, 5, 6))
            ]
            response = await client.post(
                f"{API}/chat/",
                json={"prompt": "hi", "attachments": [{"upload_id": u["id"]} for u in small]},
            )
            assert response.status_code == 422
            assert "at most 1 images" in response.json()["error"]["message"]
    finally:
        server.stop()


# -- checkpointed, and replayed after a restart -------------------------------------------------


async def test_reasoning_is_replayed_from_postgres_after_a_restart(gateways) -> None:
    first = gateways.start()
    body = {"prompt": PROMPT, "models": ["gemini"], "params": {"reasoning": "low"}}
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
        live = await stream_turn(client, body)
    first.stop()
    url = f"{API}/turns/{live.events[0].data['turn_id']}/events"
    async with httpx.AsyncClient(base_url=gateways.start().url, timeout=30) as client:
        status, replay = await read_events(client, url)
    assert status == 200 and [e.name for e in replay.events] == ["turn", "done", "end"]
    done = replay.done("gemini")
    assert done["thinking"] == live.done("gemini")["thinking"] == thinking_of(live, "gemini")
    assert done["usage"] == live.done("gemini")["usage"]
    assert done["usage"]["reasoning_tokens"] == LEVEL_TOKENS["low"]


async def test_a_crash_keeps_the_reasoning_up_to_the_last_checkpoint(gateways, database_url):
    server = gateways.start(checkpoint_interval=0.1)
    model = "claude:claude-sonnet-5+thinking=400,gap=20"  # eight seconds of reasoning
    body = {"prompt": PROMPT, "models": [model], "params": {"reasoning": "high"}}
    async with (
        httpx.AsyncClient(base_url=server.url, timeout=30) as client,
        client.stream("POST", f"{API}/chat/stream", json=body) as response,
    ):
        stream = await read_stream(response, until=12)
        turn_id = stream.events[0].data["turn_id"]

        async def checkpointed() -> str:
            found = await rows(
                database_url, "SELECT thinking FROM answer_checkpoints WHERE turn_id = $1", turn_id
            )
            return found[0]["thinking"] if found and found[0]["thinking"] else ""

        kept = await eventually(checkpointed, within=30)
        # As a crashed gateway's turn: its lease runs out and the next start interrupts it.
        await rows(
            database_url,
            "UPDATE turns SET lease_until = now() - interval '1 s' WHERE id = $1",
            turn_id,
        )
        connection = await asyncpg.connect(database_url)
        try:
            await Q.interrupt_expired_turns.fetch(connection)
        finally:
            await connection.close()
    stored = await answers(database_url, turn_id)
    assert (stored["claude"]["status"], stored["claude"]["error_type"]) == ("failed", "interrupted")
    thinking = (
        await rows(
            database_url,
            "SELECT thinking FROM messages WHERE turn_id = $1 AND role = 'assistant'",
            turn_id,
        )
    )[0]["thinking"]
    assert thinking.startswith(kept) and kept.startswith(expected_thinking("anthropic", PROMPT, 3))


async def test_an_upload_is_its_keys_alone(keyed_gateway, database_url) -> None:
    """An upload id is no capability: another key can neither read it nor attach it, and the
    same picture uploaded by two keys is one image stored, two uploads owned."""
    server, keys = keyed_gateway
    alice, bob = bearer(keys["alice"]), bearer(keys["bob"])
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        sent = await client.post(
            f"{API}/uploads", files={"file": ("a.png", PNG, "image/png")}, headers=alice
        )
        assert sent.status_code == 201, sent.text
        mine = sent.json()["id"]
        url = f"{API}/uploads/{mine}"
        assert (await client.get(url, headers=alice)).content == PNG
        assert (await client.get(url)).status_code == 401
        assert (await client.get(url, headers=bob)).status_code == 404
        body = {"prompt": PROMPT, "models": ["claude"], "attachments": [{"upload_id": mine}]}
        borrowed = await client.post(f"{API}/chat/", json=body, headers=bob)
        assert borrowed.status_code == 404, borrowed.text
        assert "turn_id" not in borrowed.json()

        again = await client.post(
            f"{API}/uploads", files={"file": ("b.png", PNG, "image/png")}, headers=bob
        )
        assert again.status_code == 201 and again.json()["id"] != mine
    counted = await rows(database_url, "SELECT count(*) AS n FROM images")
    assert counted[0]["n"] == 1
    owned = await rows(database_url, "SELECT count(*) AS n FROM uploads")
    assert owned[0]["n"] == 2
