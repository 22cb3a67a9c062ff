"""A finished turn as OpenAI's non-streaming body (``chat.completion``)."""

from __future__ import annotations

from gateway.api.openai_compat.shapes import extras, finish_reason, usage_of


def completion_body(
    completion_id: str,
    created: int,
    model: str,
    dones: list[dict],
    ids: dict,
    *,
    reasoning: bool = False,
) -> dict:
    """``dones``: each answer's done data, in choice order; ``ids``: where it is stored;
    ``reasoning``: the client asked for it, and gets it as ``reasoning_content``."""
    return {
        "id": completion_id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": [
            {
                "index": index,
                "message": message(done, reasoning),
                "logprobs": None,
                "finish_reason": finish_reason(done),
                "provider": done["provider"],
                "model": done["model"],
                "usage": usage_of([done]),
                **extras(done),
            }
            for index, done in enumerate(dones)
        ],
        "usage": usage_of(dones),
        "multichat": ids,
    }


def message(done: dict, reasoning: bool) -> dict:
    shaped = {"role": "assistant", "content": done["content"], "refusal": None, "annotations": []}
    if reasoning and done.get("thinking") is not None:
        shaped["reasoning_content"] = done["thinking"]
    return shaped
