"""A gateway process under SIGKILL and SIGTERM (issue #9, points 2 and 3).

SIGKILL mid-turn: the text clients had seen is kept up to the last checkpoint, and the next
gateway marks the turn interrupted with that text. SIGTERM mid-turn: every listener is sent its
dones (cancelled, with the text so far) and the end, every answer is stored, and the process
exits cleanly, with nothing in its output but ordinary lines.
"""

from __future__ import annotations

import asyncio
import signal

import httpx
import pytest

from tests.support.sse_client import Stream, iter_events
from tests.support.turn_helpers import API, answer_runs, answers, eventually, rows, turn_state

SLOW = "+tokens=400,gap=25"  # about ten seconds of answer: the signal always lands mid-turn


async def read_until(client, body, enough) -> tuple[Stream, httpx.Response]:
    """POST a chat stream and read it until ``enough(stream)``; the stream stays open."""
    stream = Stream()
    response = await client.send(
        client.build_request("POST", f"{API}/chat/stream", json=body), stream=True
    )
    events = iter_events(response, stream)
    async for _ in events:
        if enough(stream):
            break
    return stream, response, events


async def checkpointed(database_url: str, turn_id: str, provider: str | None = None) -> str:
    """The text of the turn's checkpoint (of ``provider``, or its only one) once there is one
    of more than 20 characters."""

    async def checkpoint() -> str:
        found = await rows(
            database_url,
            "SELECT content FROM answer_checkpoints WHERE turn_id = $1"
            " AND ($2::text IS NULL OR provider = $2)",
            turn_id,
            provider,
        )
        return found[0]["content"] if found and len(found[0]["content"]) > 20 else ""

    return await eventually(checkpoint, within=30)


async def crash(process, database_url: str, turn_id: str) -> None:
    """SIGKILL the gateway and run its turn's lease out (it would in 30 s), as the next gateway
    will find it."""
    process.signal(signal.SIGKILL)
    process.wait()
    await rows(database_url, "UPDATE turns SET lease_until = now() WHERE id = $1", turn_id)


async def test_sigkill_keeps_the_text_up_to_the_last_checkpoint(processes, database_url, sim):
    env = {"DATABASE_URL": database_url, "SIMULATOR_URL": sim.url, "CHECKPOINT_INTERVAL": "0.2"}
    first = processes(env)
    body = {"prompt": "crash", "models": [f"claude:claude-sonnet-5{SLOW}"]}
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
        stream, response, _ = await read_until(client, body, lambda s: len(s.named("delta")) >= 5)
        turn_id = stream.events[0].data["turn_id"]

        kept = await checkpointed(database_url, turn_id)
        await crash(first, database_url, turn_id)
        await response.aclose()
    seen = stream.text("claude")
    assert seen.startswith(kept[: len(seen)]) or kept.startswith(seen[: len(kept)])
    second = processes(env)
    stored = await answers(database_url, turn_id)
    assert (stored["claude"]["status"], stored["claude"]["error_type"]) == ("failed", "interrupted")
    content = stored["claude"]["content"]
    assert len(content) >= len(kept) and content.startswith(kept), "the checkpointed text is kept"
    async with (
        httpx.AsyncClient(base_url=second.url, timeout=30) as client,
        client.stream("GET", f"{API}/turns/{turn_id}/events") as replay,
    ):
        done = [e async for e in iter_events(replay) if e.name == "done"]
    assert done[0].data["content"] == content
    left = await rows(database_url, "SELECT 1 FROM answer_checkpoints WHERE turn_id = $1", turn_id)
    assert left == [], "an interrupted turn's checkpoints are gone with it"


async def test_sigkill_mid_retry_keeps_the_retry_as_its_new_run(processes, database_url, sim):
    """A retry is a new run of an answer that already has a row: the next gateway stores the
    retry cut short as that run (failed, interrupted, its checkpointed text), and the earlier
    run stays as it was."""
    env = {"DATABASE_URL": database_url, "SIMULATOR_URL": sim.url, "CHECKPOINT_INTERVAL": "0.2"}
    first = processes(env)
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
        body = {"prompt": "retry, then crash", "models": ["claude", "chatgpt"]}
        finished, response, events = await read_until(client, body, lambda s: False)
        await response.aclose()
        turn_id = finished.events[0].data["turn_id"]
        before = finished.done("claude")
        retried = await client.post(
            f"{API}/turns/{turn_id}/retry",
            json={"providers": [f"claude:claude-sonnet-5{SLOW}"]},
        )
        assert retried.status_code == 202, retried.text

        kept = await checkpointed(database_url, turn_id)
        await crash(first, database_url, turn_id)
    second = processes(env)
    by_run = await answer_runs(database_url, turn_id)
    assert sorted(by_run) == [("chatgpt", 0), ("claude", 0), ("claude", 1)]
    assert by_run["claude", 0]["id"] == before["message_id"]
    assert by_run["claude", 0]["content"] == before["content"], "the earlier run is untouched"
    cut = by_run["claude", 1]
    assert (cut["status"], cut["error_type"]) == ("failed", "interrupted")
    assert cut["content"].startswith(kept), "the retry's checkpointed text is kept"
    assert cut["model"] == f"claude-sonnet-5{SLOW}"
    async with httpx.AsyncClient(base_url=second.url, timeout=30) as client:
        async with client.stream("GET", f"{API}/turns/{turn_id}/events") as replay:
            dones = {
                e.data["provider"]: e.data async for e in iter_events(replay) if e.name == "done"
            }
        state = await turn_state(client, turn_id)
    assert dones["claude"]["message_id"] == cut["id"], "the replay shows the retry, not run 0"
    assert dones["claude"]["content"] == cut["content"]
    (claude,) = [p for p in state["providers"] if p["provider"] == "claude"]
    assert [(r["run"], r["status"]) for r in claude["runs"]] == [(0, "complete"), (1, "failed")]
    assert claude["run"] == 0, "the history keeps the complete run"


async def test_sigkill_mid_fusion_keeps_the_fusion_cut_short(processes, database_url, sim):
    """A fusion is not one of the turn's providers, yet a fusion cut short by a kill is kept
    as they are: the next gateway stores it as the turn's next fusion (failed, interrupted, its
    checkpointed text) with its judge, model and sources, and the turn and its replay show it."""
    env = {"DATABASE_URL": database_url, "SIMULATOR_URL": sim.url, "CHECKPOINT_INTERVAL": "0.2"}
    first = processes(env)
    judge = f"gemini:gemini-3.5-flash{SLOW}"
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
        body = {"prompt": "fuse, then crash", "models": ["claude", "chatgpt"]}
        finished, response, events = await read_until(client, body, lambda s: False)
        await response.aclose()
        turn_id = finished.events[0].data["turn_id"]
        sources = [finished.done(p)["message_id"] for p in ("claude", "chatgpt")]
        fused = await client.post(f"{API}/turns/{turn_id}/fuse", json={"model": judge})
        assert fused.status_code == 202, fused.text

        kept = await checkpointed(database_url, turn_id, "fuse")
        await crash(first, database_url, turn_id)
    second = processes(env)
    stored = await rows(
        database_url,
        "SELECT id, kind, model, judge_provider, fused_from, status, content, error_type, run "
        "FROM messages WHERE turn_id = $1 AND provider = 'fuse'",
        turn_id,
    )
    assert len(stored) == 1, "the fusion cut short is stored"
    (row,) = stored
    assert (row["kind"], row["status"], row["error_type"]) == ("fuse", "failed", "interrupted")
    assert (row["judge_provider"], row["model"]) == ("gemini", f"gemini-3.5-flash{SLOW}")
    assert list(row["fused_from"]) == sources and row["run"] == 0
    assert row["content"].startswith(kept), "the fusion's checkpointed text is kept"
    by_run = await answer_runs(database_url, turn_id)
    assert sorted(by_run) == [("chatgpt", 0), ("claude", 0), ("fuse", 0)], "no other row"
    async with httpx.AsyncClient(base_url=second.url, timeout=30) as client:
        async with client.stream("GET", f"{API}/turns/{turn_id}/events") as replay:
            replayed = [e async for e in iter_events(replay)]
        state = await turn_state(client, turn_id)
    assert [e.name for e in replayed[-2:]] == ["done", "end"]
    done = replayed[-2].data
    assert (done["provider"], done["status"]) == ("fuse", "failed")
    assert done["error"]["type"] == "interrupted" and done["message_id"] == row["id"]
    assert done["judge"] == "gemini" and done["fused_from"] == sources
    assert done["content"] == row["content"]
    assert replayed[-1].data["statuses"]["fuse"] == "failed"
    fusion = state["fusion"]
    assert fusion["message_id"] == row["id"] and fusion["status"] == "failed"
    assert fusion["judge"] == "gemini" and fusion["model"] == row["model"]
    assert fusion["fused_from"] == sources and fusion["content"] == row["content"]
    assert "fuse" not in [p["provider"] for p in state["providers"]], "a fusion is no provider"


async def test_sigkill_after_a_fusion_stored_on_a_running_turn_keeps_it_once(
    processes, database_url, sim
):
    """A fusion stored while its turn still runs is no longer the turn's running fusion: a
    kill later in the turn stores the providers cut short, and the fusion stays as it was."""
    env = {"DATABASE_URL": database_url, "SIMULATOR_URL": sim.url, "CHECKPOINT_INTERVAL": "0.2"}
    first = processes(env)
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as client:
        body = {
            "prompt": "fuse early, then crash",
            "models": [f"claude:claude-sonnet-5{SLOW}", "chatgpt"],
        }
        stream, response, events = await read_until(
            client,
            body,
            lambda s: any(e.data.get("provider") == "chatgpt" for e in s.named("done")),
        )
        turn_id = stream.events[0].data["turn_id"]
        fused = await client.post(
            f"{API}/turns/{turn_id}/fuse", json={"model": "gemini", "answers": ["chatgpt"]}
        )
        assert fused.status_code == 202, fused.text
        async for _ in events:
            if any(e.data.get("provider") == "fuse" for e in stream.named("done")):
                break
        done = stream.done("fuse")
        assert done["status"] == "complete" and done["message_id"]

        await checkpointed(database_url, turn_id, "claude")
        await crash(first, database_url, turn_id)
        await response.aclose()
    processes(env)
    by_run = await answer_runs(database_url, turn_id)
    assert sorted(by_run) == [("chatgpt", 0), ("claude", 0), ("fuse", 0)], "one fusion, once"
    assert by_run["fuse", 0]["id"] == done["message_id"]
    assert by_run["fuse", 0]["status"] == "complete"
    assert (by_run["claude", 0]["status"], by_run["claude", 0]["error_type"]) == (
        "failed",
        "interrupted",
    )


@pytest.mark.parametrize("stop", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"])
async def test_a_stop_signal_ends_every_stream_with_its_dones_and_end(
    processes, database_url, sim, stop
):
    # No SIMULATOR_URL: the in-process simulators, which must stop after the turns drained.
    gateway = processes({"DATABASE_URL": database_url})
    models = [f"claude:claude-sonnet-5{SLOW}", f"gemini:gemini-3.5-flash{SLOW}"]
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        readers = [
            await read_until(
                client, {"prompt": f"p{i}", "models": models}, lambda s: bool(s.named("delta"))
            )
            for i in range(3)
        ]
        gateway.signal(stop)

        async def finish(stream: Stream, events) -> Stream:
            async for _ in events:
                pass
            return stream

        streams = await asyncio.wait_for(
            asyncio.gather(*(finish(stream, events) for stream, _, events in readers)), 30
        )
        for _, response, _ in readers:
            await response.aclose()
    # uvicorn re-raises the signal once it has shut down, so the exit is SIGTERM's own; a
    # Ctrl-C becomes KeyboardInterrupt, which the command catches.
    assert gateway.wait() in (0, -signal.SIGTERM)
    for stream in streams:
        names = [e.name for e in stream.events]
        assert names[-1] == "end" and names.count("done") == 2, names
        for provider in ("claude", "gemini"):
            done = stream.done(provider)
            assert done["status"] == "cancelled", done  # not failed/truncated: simulators last
            assert done["content"] == stream.text(provider) and done["message_id"]
        stored = await answers(database_url, stream.events[0].data["turn_id"])
        assert {p: r["status"] for p, r in stored.items()} == {
            "claude": "cancelled",
            "gemini": "cancelled",
        }
    output = gateway.output()
    assert "Traceback" not in output, output
    assert "without completing response" not in output, output
    assert "Finished server process" in output


async def test_every_worker_drains_its_streams_on_sigterm(processes, database_url, sim, tmp_path):
    from tests.support.cluster import RedisServer

    redis = RedisServer(tmp_path).start()
    try:
        env = {"DATABASE_URL": database_url, "SIMULATOR_URL": sim.url, "REDIS_URL": redis.url}
        gateway = processes(env, args=("--workers", "2"))
        models = [f"claude:claude-sonnet-5{SLOW}"]
        async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
            # Enough streams that both workers hold some (the kernel spreads the accepts).
            readers = [
                await read_until(
                    client, {"prompt": f"w{i}", "models": models}, lambda s: bool(s.named("delta"))
                )
                for i in range(6)
            ]
            gateway.signal(signal.SIGTERM)

            async def finish(stream: Stream, events) -> Stream:
                async for _ in events:
                    pass
                return stream

            streams = await asyncio.wait_for(
                asyncio.gather(*(finish(stream, events) for stream, _, events in readers)), 30
            )
            for _, response, _ in readers:
                await response.aclose()
        assert gateway.wait() in (0, -signal.SIGTERM)
        for stream in streams:
            names = [e.name for e in stream.events]
            assert names[-1] == "end" and names.count("done") == 1, names
            assert stream.done("claude")["status"] == "cancelled"
        output = gateway.output()
        assert "Traceback" not in output, output
        assert output.count("Finished server process") == 2, output
    finally:
        redis.stop()
