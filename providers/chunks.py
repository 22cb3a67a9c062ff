"""What an adapter yields: the small vocabulary of one streamed answer, whatever the wire format.

* ``str``        a piece of answer text: the per-token hot path, so a bare string;
* ``Thinking``   a piece of reasoning text (the model's thoughts, or the summary its API streams),
                 never part of the answer; it costs one small object, like the text's string;
* ``Started``    the upstream accepted the request (HTTP 200), once per stream;
* ``Finish``     the provider said the answer is over, with a normalised and a raw reason;
* ``Usage``      input, output and reasoning tokens (the last one yielded wins); output tokens
                 always include reasoning tokens, whatever the API counted;
* ``Citations``  source URLs, where the provider sends them;
* ``Echo``       what the API wants sent back with this answer on a later turn (thinking
                 signatures, encrypted reasoning), opaque to everyone but the adapter that made
                 it; at most once per answer, at its end;
* ``Ignored``    a setting this model was not given, and why ("gpt-5.5 takes only the default
                 temperature"); before ``Started``, once per setting.

``Status`` is not yielded: ``Adapter.stream`` reports it to a callback while nothing streams.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True, slots=True)
class Thinking:
    text: str


@dataclass(frozen=True, slots=True)
class Started:
    model: str


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str  # normalised: stop | length | content_filter | tool_calls | other
    raw: str


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int | None
    output_tokens: int | None  # reasoning tokens included
    reasoning_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class Citations:
    urls: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Echo:
    """JSON-able state for the adapter of the same wire format; it names the model that made
    it, since signatures do not transfer between models."""

    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Ignored:
    setting: str  # temperature | max_tokens | reasoning | system
    reason: str


@dataclass(frozen=True, slots=True)
class Status:
    state: Literal["waiting", "retrying", "streaming"]
    attempt: int  # waiting, streaming: this attempt; retrying: the attempt about to be made
    attempts: int  # at most this many
    retry_in_ms: int | None = None  # retrying: the wait before that attempt


Event = str | Thinking | Started | Finish | Usage | Citations | Echo | Ignored
