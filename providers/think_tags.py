"""Reasoning written into the answer text as ``<think>…</think>`` (Perplexity's reasoning models),
split out as it streams, even when a tag is cut across chunks.

Only a block that opens the content counts (whitespace before it aside), as those models write
it; after its ``</think>`` everything is answer, so an answer that talks about ``<think>`` tags
is left alone. Whitespace right after either tag is dropped: it only separates the parts.
Once the answer has begun, a chunk costs one attribute test.
"""

from __future__ import annotations

from providers.chunks import Thinking

OPEN = "<think>"
CLOSE = "</think>"

Split = str | Thinking | list[str | Thinking] | None


class ThinkSplitter:
    __slots__ = ("state", "held", "strip")

    def __init__(self) -> None:
        self.state = "start"  # start: no text yet | think: inside the block | answer
        self.held = ""  # the start of the content, or the end of a chunk that may begin a tag
        self.strip = False  # drop the whitespace that follows a tag

    def feed(self, text: str) -> Split:
        if self.state == "answer" and not self.strip:
            return text
        return self._general(text)

    def _general(self, text: str) -> Split:
        out: list[str | Thinking] = []
        text = self.held + text
        self.held = ""
        while text:
            if self.strip:
                text = text.lstrip()
                if not text:
                    break
                self.strip = False
            if self.state == "start":
                begun = text.lstrip()
                if begun.startswith(OPEN):
                    self.state, self.strip = "think", True
                    text = begun[len(OPEN) :]
                elif OPEN.startswith(begun):  # "  <thi": the tag may still come
                    self.held = text
                    break
                else:
                    self.state = "answer"
            elif self.state == "think":
                end = text.find(CLOSE)
                if end >= 0:
                    if end:
                        out.append(Thinking(text[:end]))
                    self.state, self.strip = "answer", True
                    text = text[end + len(CLOSE) :]
                    continue
                cut = partial_tag(text, CLOSE)
                if cut:
                    out.append(Thinking(text[:cut]))
                self.held = text[cut:]
                break
            else:
                out.append(text)
                break
        if not out:
            return None
        return out[0] if len(out) == 1 else out

    def flush(self) -> list[str | Thinking]:
        """What is held at the end of the stream, as what it would have been."""
        held, self.held = self.held, ""
        if not held:
            return []
        return [Thinking(held)] if self.state == "think" else [held]


def partial_tag(text: str, tag: str) -> int:
    """Where a possible start of ``tag`` begins at the end of ``text`` (len(text) if none)."""
    for size in range(min(len(tag) - 1, len(text)), 0, -1):
        if text.endswith(tag[:size]):
            return len(text) - size
    return len(text)
