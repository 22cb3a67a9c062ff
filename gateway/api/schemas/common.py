"""What every schema shares: the text rules (stated as patterns in the document, enforced by
validators), strict request models, the error and usage shapes, and ``dump``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from providers import PROVIDERS
from providers.models import KNOBS_PATTERN as MODEL_KNOBS_PATTERN
from providers.models import NAME_PATTERN as MODEL_NAME_PATTERN

AnswerStatus = Literal["complete", "failed", "cancelled"]
ContextPolicy = Literal["isolated", "winner", "shared", "fused"]
_POLICY = (
    "How each provider sees the conversation's history: isolated (its own answers), winner "
    "(after a vote, the voted answer as its own), shared (every answer, labelled by provider), "
    "fused (a turn's fused answer as its own, where the turn was fused)."
)
MAX_MODEL_CHARS = 200  # "provider:model" and its simulator knobs fit; a 900 KB pin does not

# The document states the rules as patterns, so that clients (and the fuzzer) know them; the
# validators below enforce them. Written with \uXXXX escapes, which every regex dialect reads.
# Whitespace is what str.strip() strips, listed, because \s differs between dialects.
_WS = (
    r"\t\n\u000b\u000c\r\u001c-\u001f \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
)
NO_NUL = r"^[^\u0000]*$"
NOT_BLANK = rf"^[^\u0000]*[^\u0000{_WS}][^\u0000]*$"
# A provider, then perhaps ":" and a model of the one grammar (providers.models), with knobs.
MODEL_ENTRY = (
    rf"^[{_WS}]*({'|'.join(PROVIDERS)})[{_WS}]*"
    rf"(:[{_WS}]*({MODEL_NAME_PATTERN}{MODEL_KNOBS_PATTERN}?)?[{_WS}]*)?$"
)


class Documented:
    """Extra JSON Schema keywords for a type (the rule itself is enforced elsewhere)."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __hash__(self) -> int:  # typing hashes Annotated metadata
        return hash(tuple(sorted(self.keywords.items())))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Documented) and other.keywords == self.keywords

    def __get_pydantic_json_schema__(self, core_schema, handler):
        return {**handler(core_schema), **self.keywords}


def _storable(value: str) -> str:
    """Text PostgreSQL can store and JSON can echo: no U+0000, no lone surrogate."""
    if "\x00" in value:
        raise ValueError("must not contain U+0000")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must not contain a lone surrogate (not Unicode text)") from None
    return value


# Every text field a request carries: it is stored, sent upstream or echoed in an error.
Text = Annotated[str, AfterValidator(_storable), Documented(pattern=NO_NUL)]
NonBlank = Annotated[Text, Documented(pattern=NOT_BLANK)]
ModelEntry = Annotated[Text, Field(max_length=MAX_MODEL_CHARS), Documented(pattern=MODEL_ENTRY)]


class Strict(BaseModel):
    # Strict types so that "1" is not silently taken for 1; unknown fields are refused.
    model_config = ConfigDict(extra="forbid", strict=True)


def _left_out(schema: dict[str, Any]) -> None:
    """A field that may be left out but not null: the document shows no null default."""
    schema.pop("default", None)


class ErrorInfo(BaseModel):
    type: str
    message: str
    status_code: int | None = None
    retryable: bool = False


class UsageInfo(BaseModel):
    input_tokens: int | None = None
    output_tokens: int | None = Field(default=None, description="Reasoning tokens included")
    reasoning_tokens: int | None = None


def dump(model: BaseModel) -> dict[str, Any]:
    return model.model_dump(mode="json")
