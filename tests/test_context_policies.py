"""Context policies: what each provider is sent as history, read from the simulators' logs."""

from __future__ import annotations

from providers.simulators.text import expected_answer
from tests.support.turn_helpers import API, flavour, sent_thread


def answer(provider: str, prompt: str) -> str:
    return expected_answer(flavour(provider), prompt, 12)  # the session simulator's length


def thread(sim, provider: str) -> list[tuple[str, str]]:
    """The last request's messages to ``provider``'s simulator (without a system prompt)."""
    return sent_thread(sim.requests(flavour(provider))[-1]["body"])


async def conversation(client, **settings) -> int:
    response = await client.post(f"{API}/conversations/", json={"title": "policy", **settings})
    assert response.status_code == 201, response.text
    assert response.json()["context_policy"] == settings.get("context_policy", "isolated")
    return response.json()["id"]


async def ask(client, cid: int, prompt: str, models: list[str], **extra) -> dict:
    body = {"prompt": prompt, "conversation_id": cid, "models": models, **extra}
    response = await client.post(f"{API}/chat/", json=body)
    assert response.status_code == 200, response.text
    return response.json()


async def test_winner_every_provider_continues_from_the_voted_answer(stream_client, sim):
    cid = await conversation(stream_client, context_policy="winner", blind=True)
    both = ["claude", "chatgpt"]
    first = await ask(stream_client, cid, "one", both)
    vote = await stream_client.post(f"{API}/turns/{first['turn_id']}/vote", json={"winner": "B"})
    assert vote.status_code == 201
    winner = next(r["provider"] for r in vote.json()["revealed"] if r["label"] == "B")
    second = await ask(stream_client, cid, "two", both)
    tie = await stream_client.post(f"{API}/turns/{second['turn_id']}/vote", json={"winner": "tie"})
    assert tie.status_code == 201
    await ask(stream_client, cid, "three", [*both, "perplexity"])
    for provider in both:
        assert thread(sim, provider) == [
            ("user", "one"),
            ("assistant", answer(winner, "one")),  # the voted answer, as its own
            ("user", "two"),
            ("assistant", answer(provider, "two")),  # a tie chose nobody: its own
            ("user", "three"),
        ], provider
    # Not asked before, it too continues from the voted answer; the tie leaves it nothing.
    assert thread(sim, "perplexity") == [
        ("user", "one"),
        ("assistant", answer(winner, "one")),
        ("user", "three"),
    ]


async def test_shared_every_provider_sees_every_answer_labelled(stream_client, sim):
    cid = await conversation(stream_client)  # isolated, until the PATCH below
    await ask(
        stream_client,
        cid,
        "one",
        ["claude", "chatgpt", "gemini:gemini-3.5-flash+fault=status,status=400"],
    )
    await ask(stream_client, cid, "two", ["claude", "chatgpt"])
    assert thread(sim, "claude") == [
        ("user", "one"),
        ("assistant", answer("claude", "one")),
        ("user", "two"),
    ]
    patched = await stream_client.patch(
        f"{API}/conversations/{cid}", json={"context_policy": "shared"}
    )
    assert patched.status_code == 200 and patched.json()["context_policy"] == "shared"
    await ask(stream_client, cid, "three", ["claude", "perplexity"])
    one = f"[Claude]\n{answer('claude', 'one')}\n\n[ChatGPT]\n{answer('chatgpt', 'one')}"
    two = f"[Claude]\n{answer('claude', 'two')}\n\n[ChatGPT]\n{answer('chatgpt', 'two')}"
    expected = [
        ("user", "one"),
        ("assistant", one),
        ("user", "two"),
        ("assistant", two),
        ("user", "three"),
    ]
    assert thread(sim, "claude") == expected  # gemini failed: its answer is not in the transcript
    assert thread(sim, "perplexity") == expected  # roles alternate, as Perplexity requires


async def test_a_bad_policy_is_refused(stream_client):
    cid = await conversation(stream_client)
    for body in ({"context_policy": "everyone"}, {"blind": "yes"}, {}, {"title": None}):
        response = await stream_client.patch(f"{API}/conversations/{cid}", json=body)
        assert response.status_code == 422, (body, response.text)
    bad = await stream_client.post(f"{API}/conversations/", json={"context_policy": "x"})
    assert bad.status_code == 422
    conversation_now = (await stream_client.get(f"{API}/conversations/{cid}")).json()
    assert conversation_now["context_policy"] == "isolated" and conversation_now["blind"] is False
