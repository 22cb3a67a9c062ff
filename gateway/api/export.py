"""GET /conversations/{id}/export?format=markdown|json: a whole conversation to keep.

Every turn with its prompt and every provider's answers side by side (retries included, each
with its run number), their status, figures and cost: the turns of the current path in order,
then those of the other branches (edited prompts), each saying which turn it continues. Markdown for reading, JSON for tools;
both download as an attachment. In the Markdown, an answer's own headings are moved below the
document's (title #, turn ##, provider ###), so that they nest under the provider's heading.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from markdown_it import MarkdownIt
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.api.conversations import conversation_id, load_conversation
from gateway.api.errors import HttpError
from gateway.api.guard import owner_of
from gateway.api.schemas import ConversationDetail, MessageOut
from gateway.runtime import runtime
from providers import PROVIDERS
from storage import Q

FORMATS = ("markdown", "json")


async def export_conversation(request: Request) -> Response:
    gateway = runtime(request)
    format = request.query_params.get("format", "markdown")
    if format not in FORMATS:
        raise HttpError(422, f"format must be one of: {', '.join(FORMATS)}")
    id = conversation_id(request)
    conversation = await load_conversation(gateway.pool, id, owner_of(request), every_branch=True)
    every = turns_of(conversation, await Q.export_turns.fetch(gateway.pool, conversation_id=id))
    turns, branches = split_branches(conversation, every)
    name = f"multichat-{id}-{slug(conversation.title)}"
    if format == "json":
        return JSONResponse(
            export_json(conversation, turns, branches),
            headers={"Content-Disposition": f'attachment; filename="{name}.json"'},
        )
    return Response(
        export_markdown(conversation, turns, branches),
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.md"'},
    )


def turns_of(conversation: ConversationDetail, turn_rows: Iterable) -> list[dict]:
    """Each turn, in order: its prompt and its answers, by provider in the turn's order."""
    answers: dict[str, list[MessageOut]] = {}
    for message in conversation.messages:
        if message.role == "assistant" and message.turn_id is not None:
            answers.setdefault(message.turn_id, []).append(message)
    turns = []
    for row in turn_rows:
        order = [entry["provider"] for entry in row["providers"]]
        mine = answers.get(row["turn_id"], [])
        mine.sort(
            key=lambda m: (order.index(m.provider) if m.provider in order else 99, m.label, m.run)
        )
        turns.append(
            {
                "turn_id": row["turn_id"],
                "parent_turn_id": row["parent_id"],
                "created_at": row["created_at"].isoformat(),
                "prompt": row["prompt"] or "",
                "answers": mine,
            }
        )
    return turns


def split_branches(
    conversation: ConversationDetail, turns: list[dict]
) -> tuple[list[dict], list[dict]]:
    """The turns of the current path, in its order; and every other turn, in time order."""
    by_id = {turn["turn_id"]: turn for turn in turns}
    path = [by_id[entry.turn_id] for entry in conversation.path if entry.turn_id in by_id]
    on_path = {turn["turn_id"] for turn in path}
    return path, [turn for turn in turns if turn["turn_id"] not in on_path]


def export_json(
    conversation: ConversationDetail, turns: list[dict], branches: Sequence[dict] = ()
) -> dict:
    def exported(turn: dict) -> dict:
        return {
            **{k: v for k, v in turn.items() if k != "answers"},
            "answers": [
                a.model_dump(mode="json", exclude={"role", "turn_id"}) for a in turn["answers"]
            ],
        }

    return {
        "id": conversation.id,
        "title": conversation.title,
        "created_at": conversation.created_at.isoformat(),
        "updated_at": conversation.updated_at.isoformat(),
        "cost_usd": conversation.cost_usd,
        "turns": [exported(turn) for turn in turns],
        "branches": [exported(turn) for turn in branches],
    }


def export_markdown(
    conversation: ConversationDetail, turns: list[dict], branches: Sequence[dict] = ()
) -> str:
    lines = [f"# {one_line(conversation.title)}", ""]
    summary = f"{len(turns)} turn{'s' if len(turns) != 1 else ''}, exported from Multichat"
    if conversation.cost_usd is not None:
        summary += f"; cost {money(conversation.cost_usd)}"
    lines += [f"_{summary}._", ""]
    numbers = {turn["turn_id"]: n for n, turn in enumerate(turns, start=1)}
    for number, turn in enumerate(turns, start=1):
        lines += turn_markdown(f"{number}.", turn)
    for turn in branches:
        parent = turn["parent_turn_id"]
        where = f"after turn {numbers[parent]}" if parent in numbers else "another branch"
        if parent is None:
            where = "from the start"
        lines += turn_markdown(f"Other branch ({where}):", turn)
    return "\n".join(lines).rstrip() + "\n"


def turn_markdown(title: str, turn: dict) -> list[str]:
    lines = [f"## {title} {one_line(turn['prompt'])[:80]}", ""]
    lines += [quote(turn["prompt"]), ""]
    for answer in turn["answers"]:
        text = nest_headings(answer.content) if answer.content else "_(no text)_"
        lines += [f"### {heading(answer)}", "", text, ""]
    return lines


# Headings as CommonMark finds them: a "#" in a code block, or "##" inside a line, is none.
_COMMONMARK = MarkdownIt("commonmark")
ANSWER_DEPTH = 3  # an answer's own headings go below the provider's ###


def nest_headings(text: str, below: int = ANSWER_DEPTH) -> str:
    """``text`` with each heading ``below`` levels deeper (at most ######). An underlined
    (setext) heading becomes a # one; one inside a quote or a list keeps its underline."""
    lines = text.split("\n")
    dropped: set[int] = set()
    for token in _COMMONMARK.parse(text):
        if token.type != "heading_open" or token.map is None:
            continue
        marks = "#" * min(6, int(token.tag[1:]) + below)
        start, end = token.map
        if token.markup.startswith("#"):
            lines[start] = re.sub("#+", marks, lines[start], count=1)
        elif token.level == 0:  # "Title" over "===" or "---": one line, the underline gone
            title = " ".join(line.strip() for line in lines[start : end - 1])
            lines[start] = f"{marks} {title}"
            dropped.update(range(start + 1, end))
    return "\n".join(line for i, line in enumerate(lines) if i not in dropped)


def heading(answer: MessageOut) -> str:
    fused = answer.kind == "fuse"
    facts: list[str] = [answer.status]
    if answer.run:
        facts.append(f"fusion {answer.run + 1}" if fused else f"retry {answer.run}")
    if answer.latency_ms is not None:
        facts.append(f"{answer.latency_ms / 1000:.1f} s")
    if answer.usage is not None and answer.usage.output_tokens is not None:
        facts.append(f"{answer.usage.output_tokens} tokens")
    if answer.cost_usd is not None:
        facts.append(money(answer.cost_usd))
    if answer.error is not None:
        facts.append(f"{answer.error.type}: {one_line(answer.error.message)}")
    if answer.provider is None:  # a blind turn's answer before its vote: its label only
        return f"{answer.label} ({', '.join(facts)})"
    named = answer.judge if fused and answer.judge else answer.provider
    spec = PROVIDERS.get(named)
    name = spec.display_name if spec is not None else named
    if fused:  # after the answers it drew on (sorted last: "fuse" is no provider of the turn)
        name = f"Fused by {name}"
    return f"{name} · {answer.model} ({', '.join(facts)})"


def quote(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines() or [""])


def one_line(text: str) -> str:
    return " ".join(text.split())


def money(usd: float) -> str:
    return f"${usd:.4f}" if usd >= 0.0001 or usd == 0 else f"${usd:.6f}"


def slug(title: str) -> str:
    """An ASCII file name part: the title's letters and digits, dashes between, at most 40."""
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:40].strip("-") or "conversation"
