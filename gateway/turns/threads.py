"""Each provider's thread for a turn, with the images its prompts hold: the history rows
(context.py decides what each provider sees) and the uploads' bytes, read once per turn."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from gateway.turns.context import build_threads, upload_ids
from gateway.turns.uploads import load_images
from providers import Message
from storage import Pool


async def threads_with_images(
    pool: Pool,
    rows: Sequence[Mapping],
    providers: Sequence[str],
    prompt: str,
    budget_chars: int,
    policy: str = "isolated",
    attachments: Sequence[str] = (),
) -> dict[str, list[Message]]:
    """``attachments``: the upload ids of the prompt itself, in order."""
    wanted = upload_ids(rows) | set(attachments)
    images = await load_images(pool, sorted(wanted)) if wanted else {}
    return build_threads(
        rows,
        providers,
        prompt,
        budget_chars,
        policy,
        images=images,
        attachments=[images[id] for id in attachments if id in images],
    )
