"""What OpenAI's two APIs (Chat Completions and Responses) share in the simulator: keys, error
bodies and headers, which models reason (and at which efforts) and which see images.

Reasoning models (gpt-5*, o1/o3/o4) refuse any temperature but the default and the legacy
``max_tokens``; efforts per model: gpt-5.1 and later none|low|medium|high|xhigh, gpt-5
minimal|low|medium|high, gpt-5-pro high, o-series low|medium|high; other models refuse the
parameter. Images: PNG, JPEG, WebP, non-animated GIF, up to 20 MB; a few small models see no
images at all.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from providers.simulators.wire import (
    SSE_UTF8,
    Headers,
    RejectedRequest,
    Reply,
    mask_key,
    phrase,
    random_id,
    seconds_text,
)

OPENAI_ERRORS: dict[int, tuple[str, str | None, str]] = {  # status: (type, code, message)
    400: ("invalid_request_error", None, "We could not parse the JSON body of your request."),
    401: (
        "invalid_request_error",
        "invalid_api_key",
        "Incorrect API key provided. You can find your API key at https://platform.openai.com/account/api-keys.",
    ),
    403: (
        "request_forbidden",
        "unsupported_country_region_territory",
        "Country, region, or territory not supported",
    ),
    404: (
        "invalid_request_error",
        "model_not_found",
        "The model `{model}` does not exist or you do not have access to it.",
    ),
    429: (
        "requests",
        "rate_limit_exceeded",
        "Rate limit reached for {model} in organization org-simulated on requests per min (RPM): "
        "Limit 10000, Used 10000, Requested 1. Please try again in {retry_after}s. "
        "Visit https://platform.openai.com/account/rate-limits to learn more.",
    ),
    500: (
        "server_error",
        None,
        "The server had an error while processing your request. Sorry about that!",
    ),
    503: ("server_error", None, "The server is overloaded or not ready yet."),
}
OPENAI_QUOTA = (
    "insufficient_quota",
    "insufficient_quota",
    "You exceeded your current quota, please check your plan and billing details. For more "
    "information on this error, read the docs: https://platform.openai.com/docs/guides/error-codes/api-errors.",
)
OPENAI_BAD_KEY = (
    "Incorrect API key provided: {key}. You can find your API key at "
    "https://platform.openai.com/account/api-keys."
)
OPENAI_NO_KEY = (
    "You didn't provide an API key. You need to provide your API key in an Authorization header "
    "using Bearer auth (i.e. Authorization: Bearer YOUR_KEY). You can obtain an API key from "
    "https://platform.openai.com/account/api-keys."
)
# Reasoning models refuse the legacy max_tokens and any non-default temperature.
OPENAI_REASONING_MODEL = re.compile(r"gpt-5|o\d")
NO_VISION_MODELS = ("gpt-3.5", "o1-mini", "o3-mini")
UNSUPPORTED_IMAGE = (
    "You uploaded an unsupported image. Please make sure your image is below 20 MB in size and "
    "is of one the following formats: ['png', 'jpeg', 'gif', 'webp']."
)
NO_VISION = "Invalid content type. image_url is only supported by certain models."


def efforts(model: str) -> tuple[str, ...]:
    """The reasoning efforts a model takes; () for a model that does not reason."""
    if model.startswith("gpt-5-pro"):
        return ("high",)
    if re.match(r"gpt-5\.\d", model):
        return ("none", "low", "medium", "high", "xhigh")
    if model.startswith("gpt-5"):
        return ("minimal", "low", "medium", "high")
    if re.match(r"o\d", model):
        return ("low", "medium", "high")
    return ()


def spelled(values: tuple[str, ...]) -> str:
    quoted = [f"'{value}'" for value in values]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + ", and " + quoted[-1]


class OpenAIErrors:
    """Keys, error replies and headers of both OpenAI APIs (mixed into their SimulatedApi)."""

    def bad_key(self, token: str | None) -> Reply:
        if token is None:
            return self.reply(401, "invalid_request_error", None, OPENAI_NO_KEY)
        return self.error(401, OPENAI_BAD_KEY.format(key=mask_key(token, 3, 4)))

    def error(
        self,
        status: int,
        message: str | None = None,
        *,
        model: str = "",
        retry_after: float = 1.0,
        quota: bool = False,
    ) -> Reply:
        code: str | None
        if status == 429 and quota:
            kind, code, stock = OPENAI_QUOTA
        else:
            kind, code, stock = OPENAI_ERRORS.get(status) or (
                "server_error" if status >= 500 else "invalid_request_error",
                None,
                phrase(status),
            )
        text = message or stock.format(model=model, retry_after=seconds_text(retry_after))
        rate_limited = status == 429 and not quota  # out of quota is final: no retry hints
        return self.reply(
            status, kind, code, text, retry_after=retry_after if rate_limited else None
        )

    def reply(
        self,
        status: int,
        kind: str,
        code: str | None,
        message: str,
        *,
        param: str | None = None,
        retry_after: float | None = None,
    ) -> Reply:
        body = {"error": {"message": message, "type": kind, "param": param, "code": code}}
        headers = self.headers(retry_after)
        return Reply(status, orjson.dumps(body), b"application/json; charset=utf-8", tuple(headers))

    def headers(self, retry_after: float | None = None) -> Headers:
        # A rate-limited reply says so in the x-ratelimit-* headers too, with a Go-style duration.
        remaining, reset = (
            (b"0", seconds_text(retry_after).encode() + b"s") if retry_after else (b"9999", b"6ms")
        )
        headers = [
            (b"x-request-id", b"req_" + random_id(32).encode()),
            (b"openai-organization", b"user-simulated"),
            (b"openai-project", b"proj_simulated"),
            (b"openai-processing-ms", b"12"),
            (b"openai-version", b"2020-10-01"),
            (b"x-ratelimit-limit-requests", b"10000"),
            (b"x-ratelimit-limit-tokens", b"30000000"),
            (b"x-ratelimit-remaining-requests", remaining),
            (b"x-ratelimit-remaining-tokens", b"29999000"),
            (b"x-ratelimit-reset-requests", reset),
            (b"x-ratelimit-reset-tokens", b"0s"),
        ]
        if retry_after is not None:
            headers.append((b"retry-after", seconds_text(retry_after).encode()))
        return headers

    def stream_headers(self) -> Headers:
        return [(b"content-type", SSE_UTF8), *self.headers()]

    def unsupported(
        self, message: str, param: str, code: str = "unsupported_parameter"
    ) -> RejectedRequest:
        return RejectedRequest(self.reply(400, "invalid_request_error", code, message, param=param))

    def effort_of(self, model: str, effort: Any, param: str) -> str | None:
        """A reasoning effort the model takes, or the API's refusal."""
        allowed = efforts(model)
        if not allowed:
            raise self.unsupported(
                f"Unsupported parameter: '{param}' is not supported with this model.", param
            )
        if effort not in allowed:
            raise self.unsupported(
                f"Unsupported value: '{param}' does not support {orjson.dumps(effort).decode()} "
                f"with this model. Supported values are: {spelled(allowed)}.",
                param,
                "unsupported_value",
            )
        return effort

    def check_temperature(self, model: str, data: dict[str, Any]) -> None:
        temperature = data.get("temperature")
        if OPENAI_REASONING_MODEL.match(model) and temperature is not None and temperature != 1:
            raise self.unsupported(
                f"Unsupported value: 'temperature' does not support {temperature} with this model. "
                "Only the default (1) is supported.",
                "temperature",
                "unsupported_value",
            )

    def image_refusal(self, reason: str, where: str) -> RejectedRequest:
        if reason == "no_vision":
            return RejectedRequest(
                self.reply(400, "invalid_request_error", None, NO_VISION, param=f"{where}.type")
            )
        return RejectedRequest(
            self.reply(400, "invalid_request_error", "invalid_image_format", UNSUPPORTED_IMAGE)
        )
