"""One bad answer never costs another (issue #9, point 1).

PostgreSQL's text cannot hold U+0000 and its integers have a range: a batch of the writer that
holds one such answer used to fail whole, losing every other turn's answer while their clients
were told "complete". Now text is made storable where it enters the gateway, a batch refused
for what is in it is split down to the guilty row, and no done says complete without a row.
"""

from __future__ import annotations

import asyncio

import asyncpg
import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route

from storage import Answer, Q, Writer, create_pool
from tests.support.servers import serve
from tests.support.sse_client import iter_events
from tests.support.turn_helpers import API, answers, rows


async def start_turns(pool: asyncpg.Pool, count: int) -> list[tuple[int, str]]:
    """``count`` turns in one conversation, each with its prompt stored: (conversation, turn)."""
    turns, conversation_id = [], None
    for index in range(count):
        row = await Q.start_turn.fetchrow(
            pool,
            conversation_id=conversation_id,
            title="t",
            turn_id=f"turn-{index}",
            content=f"prompt {index}",
            providers=[{"provider": "claude", "model": "m", "simulated": True}],
            lease_seconds=30.0,
            owner=0,
            attachments=[],
            settings=None,
            parent_id=None,  # each a first turn: the tree of turns is not what this tests
        )
        conversation_id = row["conversation_id"]
        turns.append((conversation_id, f"turn-{index}"))
    return turns


def answer(conversation_id: int, turn_id: str, content: str, **fields) -> Answer:
    return Answer(conversation_id, turn_id, "claude", "m", "complete", content, **fields)


@pytest.mark.parametrize(
    "guilty",
    [
        {"content": "nul \x00 inside"},
        {"content": "lone \ud800 surrogate"},
        {"content": "fine", "output_tokens": 2**40},  # beyond PostgreSQL's integer
    ],
    ids=["nul", "surrogate", "integer-overflow"],
)
async def test_a_batch_with_one_unstorable_answer_stores_all_the_others(database_url, guilty):
    pool = await create_pool(database_url, min_size=1, max_size=2, command_timeout=10)
    writer = Writer(pool)
    try:
        turns = await start_turns(pool, 5)
        items = [answer(c, t, f"answer {i}") for i, (c, t) in enumerate(turns)]
        content = guilty.pop("content")
        items[2] = answer(*turns[2], content, **guilty)
        # Queued before the writer runs, so that all five are in its first batch.
        pending = [asyncio.create_task(writer.store_answer(item)) for item in items]
        await asyncio.sleep(0)
        assert writer.queue.qsize() == 5
        writer.start()
        ids = await asyncio.wait_for(asyncio.gather(*pending), 30)
    finally:
        await writer.stop()
        await pool.close()

    assert all(isinstance(id, int) for id in ids), ids
    stored = {
        row["turn_id"]: row
        for row in await rows(database_url, "SELECT * FROM messages WHERE role = 'assistant'")
    }
    assert len(stored) == 5, "every answer has its row, the guilty one too"
    for index, (_, turn_id) in enumerate(turns):
        row = stored[turn_id]
        if index == 2:
            assert (row["status"], row["error_type"]) == ("failed", "unstorable")
            assert "could not be stored" in row["error_message"]
            assert items[2].status == "failed", "the leg learns what was stored"
        else:
            assert (row["status"], row["content"]) == ("complete", f"answer {index}")


def nul_upstream() -> Starlette:
    """An OpenAI-compatible chat API whose answer holds U+0000, as JSON allows."""

    async def completions(request):
        body = orjson.loads(await request.body())

        async def chunks():
            for text in ("before ", "a\u0000b", " after"):
                delta = {"choices": [{"index": 0, "delta": {"content": text}}]}
                yield b"data: " + orjson.dumps(delta) + b"\n\n"
            end = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            yield b"data: " + orjson.dumps(end) + b"\n\ndata: [DONE]\n\n"

        assert body["stream"] is True
        return StreamingResponse(chunks(), media_type="text/event-stream")

    return Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])


@pytest.fixture
def gateway_with_nul_chatgpt(database_url, sim, monkeypatch):
    from tests.support.gateways import start_gateway

    with serve(nul_upstream()) as upstream:
        monkeypatch.setenv("CHATGPT_BASE_URL", f"{upstream.url}/v1")
        monkeypatch.setenv("CHATGPT_WIRE", "openai_chat")  # this upstream has Chat Completions
        server = start_gateway(database_url, sim.url)
        yield server
        server.stop()


async def test_text_with_nul_is_stored_and_sent_the_same(gateway_with_nul_chatgpt, database_url):
    async with httpx.AsyncClient(base_url=gateway_with_nul_chatgpt.url, timeout=30) as client:
        body = {"prompt": "hello", "models": ["chatgpt", "claude"]}
        async with client.stream("POST", f"{API}/chat/stream", json=body) as response:
            assert response.status_code == 200
            events = [event async for event in iter_events(response)]
    deltas = "".join(
        e.data["text"] for e in events if e.name == "delta" and e.data["provider"] == "chatgpt"
    )
    (done,) = [e.data for e in events if e.name == "done" and e.data["provider"] == "chatgpt"]
    assert deltas == done["content"] == "before a\ufffdb after"
    assert (done["status"], isinstance(done["message_id"], int)) == ("complete", True)
    turn_id = events[0].data["turn_id"]
    stored = await answers(database_url, turn_id)
    assert stored["chatgpt"]["content"] == done["content"]
    assert stored["claude"]["status"] == "complete", "the other provider is untouched"


async def test_an_answer_whose_row_is_gone_is_never_announced_complete(
    streaming_gateway, database_url
):
    """Another host deleted the conversation mid-turn: no row can be stored, so no done may
    say complete (a client that sees complete relies on message_id)."""
    async with httpx.AsyncClient(base_url=streaming_gateway.url, timeout=30) as client:
        body = {"prompt": "hi", "models": ["claude:claude-sonnet-5+tokens=30,gap=30"]}
        async with client.stream("POST", f"{API}/chat/stream", json=body) as response:
            events = []
            async for event in iter_events(response):
                events.append(event)
                if event.name == "delta" and [e.name for e in events].count("delta") == 1:
                    await rows(
                        database_url,
                        "DELETE FROM conversations WHERE id = $1",
                        events[0].data["conversation_id"],
                    )
    (done,) = [e.data for e in events if e.name == "done"]
    assert done["message_id"] is None
    assert done["status"] == "failed" and done["error"]["type"] == "not_stored"
    assert events[-1].name == "end" and events[-1].data["statuses"] == {"claude": "failed"}
