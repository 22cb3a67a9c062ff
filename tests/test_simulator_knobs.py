"""The simulators over real HTTP with plain httpx: knobs, faults, exact bytes and the /_sim stats."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

from providers.registry import SIMULATOR_KEY
from providers.simulators import (
    KnobError,
    Knobs,
    SimulatorConfig,
    answer_tokens,
    create_app,
    expected_answer,
    input_token_count,
    port_plan,
)
from tests.support.servers import ServerThread, free_port, serve
from tests.support.simulator_calls import (
    FAST,
    FLAVOURS,
    PROMPT,
    Call,
    call,
    event_text,
    finish_reason,
    parse_events,
    post,
    texts,
)

# The module's own simulator server: a test using it is an integration test (support/markers.py).
SERVER_FIXTURES = {"server"}


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with serve(create_app(SimulatorConfig(defaults=FAST, record_requests=True))) as running:
        yield running


@pytest.fixture
def client(server: ServerThread) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        http.post("/_sim/reset").raise_for_status()
        yield http


def wait_for_stats(
    client: httpx.Client, flavour: str, timeout: float = 30.0, **expected: int
) -> dict[str, int]:
    """Poll until the counters match: a client's disconnect reaches the server some time after
    the client's call returns. ``timeout`` bounds a broken run; a passing one returns at once."""
    deadline = time.monotonic() + timeout
    while True:
        stats = client.get("/_sim/stats").json()[flavour]
        if all(stats[name] == value for name, value in expected.items()):
            return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"{flavour} stats {stats} never matched {expected}")
        time.sleep(0.01)


# -- deterministic text ---------------------------------------------------------------------------


def test_answer_tokens_are_exactly_n_non_empty_and_echo_the_prompt() -> None:
    tokens = answer_tokens("openai", PROMPT, 40)
    assert len(tokens) == 40
    assert all(tokens)
    assert expected_answer("openai", PROMPT, 40) == "".join(tokens)
    assert "".join(tokens).startswith(f"Great question: {PROMPT} — ")  # the prompt, untouched
    assert tokens == answer_tokens("openai", PROMPT, 40)
    assert answer_tokens("openai", PROMPT, 41)[:40] == tokens  # answers are prefixes of each other
    assert answer_tokens("gemini", PROMPT, 40) != tokens
    assert answer_tokens("openai", PROMPT, 3) == ["Great", " question:", " Why"]
    assert answer_tokens("openai", PROMPT, 0) == []


def test_input_token_count_counts_words() -> None:
    assert input_token_count(["You are terse.", "Say  hi\nnow"]) == 6
    assert input_token_count([]) == 0


# -- knob parsing -----------------------------------------------------------------------------------


def test_knob_strings_override_in_order() -> None:
    knobs = (
        Knobs().overridden(" tokens = 5 ,gap=0").overridden("gap=7.5,fault=drop,after=2,tokens=9")
    )
    assert (knobs.tokens, knobs.gap, knobs.fault, knobs.after) == (9, 7.5, "drop", 2)
    assert Knobs().overridden("") == Knobs()
    assert Knobs(tokens=10).fault_after(10) == 5  # the default fault point is half the answer
    assert Knobs(after=3).fault_after(2) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bogus=1", "unknown simulator knob 'bogus'"),
        ("tokens", "needs a value"),
        ("tokens=-1", "tokens='-1' is invalid: expected an integer from 0 to 100000"),
        ("fault=explode", "expected one of none|status|midstream|drop|stall|malformed"),
        ("gap=nan", "gap='nan' is invalid"),
        ("quota=yes", "expected 0 or 1"),
    ],
)
def test_bad_knob_strings_are_refused(text: str, message: str) -> None:
    with pytest.raises(KnobError, match=message.replace("|", r"\|").replace("(", r"\(")):
        Knobs().overridden(text)


# -- answer shape knobs -----------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_tokens_knob_sets_the_answer_length(client: httpx.Client, flavour: str) -> None:
    response = post(client, call(flavour, "tokens=9"))
    assert response.status_code == 200
    assert texts(flavour, response.text) == answer_tokens(flavour, PROMPT, 9)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_chunk_knob_groups_tokens_per_event(client: httpx.Client, flavour: str) -> None:
    response = post(client, call(flavour, "tokens=10,chunk=4"))
    tokens = answer_tokens(flavour, PROMPT, 10)
    assert texts(flavour, response.text) == [
        "".join(tokens[0:4]),
        "".join(tokens[4:8]),
        "".join(tokens[8:10]),
    ]


@pytest.mark.parametrize(
    ("flavour", "stop", "length"),
    [
        ("anthropic", "end_turn", "max_tokens"),
        ("openai", "stop", "length"),
        ("xai", "stop", "length"),
        ("perplexity", "stop", "length"),
        ("gemini", "STOP", "MAX_TOKENS"),
    ],
)
def test_finish_knob(client: httpx.Client, flavour: str, stop: str, length: str) -> None:
    assert finish_reason(flavour, post(client, call(flavour, "tokens=3")).text) == stop
    assert (
        finish_reason(flavour, post(client, call(flavour, "tokens=3,finish=length")).text) == length
    )


@pytest.mark.integration
def test_knob_layers_model_beats_header_beats_defaults() -> None:
    with serve(create_app(SimulatorConfig(defaults=Knobs(tokens=3, ttft=0, gap=0)))) as running:
        http = httpx.Client(base_url=running.url, timeout=10)
        assert len(texts("openai", post(http, call("openai")).text)) == 3
        assert len(texts("openai", post(http, call("openai", header_knobs="tokens=5")).text)) == 5
        assert (
            len(
                texts(
                    "openai", post(http, call("openai", "tokens=7", header_knobs="tokens=5")).text
                )
            )
            == 7
        )


def test_ttft_and_gap_pace_the_stream(client: httpx.Client) -> None:
    request = call("openai", "tokens=4,ttft=300,gap=200")
    stamps: list[float] = []
    with client.stream(
        "POST", request.path, headers=request.headers, json=request.body
    ) as response:
        headers_at = time.monotonic()
        for line in response.iter_lines():
            if '"content":"' in line and '"content":""' not in line:
                stamps.append(time.monotonic())
    # Lower bounds only: a sleep cannot end early, but a busy machine can make anything late.
    assert len(stamps) == 4
    assert stamps[0] - headers_at >= 0.27
    assert stamps[-1] - stamps[0] >= 0.55  # three gaps of 200 ms


def test_headers_delay_holds_back_the_status_line(client: httpx.Client) -> None:
    request = call("anthropic", "tokens=2,headers_delay=400")
    started = time.monotonic()
    with client.stream(
        "POST", request.path, headers=request.headers, json=request.body
    ) as response:
        waited = time.monotonic() - started
        response.read()
    assert response.status_code == 200
    assert waited >= 0.38  # a lower bound: only a broken delay can make it early


def test_gap_zero_streams_as_fast_as_it_can(client: httpx.Client) -> None:
    # The header asks for 20 ms gaps, the model suffix (which wins) for none: 3,000 gaps would
    # take a minute, far from the bound below, and from the fraction of a second it takes.
    started = time.monotonic()
    response = post(client, call("openai", "tokens=3000,gap=0,ttft=0", header_knobs="gap=20"))
    assert len(texts("openai", response.text)) == 3000
    assert time.monotonic() - started < 30.0


def test_request_max_tokens_cuts_the_answer(client: httpx.Client) -> None:
    request = call("openai", "tokens=20")
    request.body["max_completion_tokens"] = 6
    raw = post(client, request).text
    assert texts("openai", raw) == answer_tokens("openai", PROMPT, 6)
    assert finish_reason("openai", raw) == "length"
    assert parse_events(raw)[-2].json()["usage"]["completion_tokens"] == 6


# -- wire details -----------------------------------------------------------------------------------


def test_anthropic_event_sequence(client: httpx.Client) -> None:
    response = post(client, call("anthropic", "tokens=3"))
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["request-id"].startswith("req_")
    assert response.headers["anthropic-ratelimit-requests-limit"] == "4000000"
    events = parse_events(response.text)
    assert [event.name for event in events] == [
        "message_start",
        "content_block_start",
        "ping",
        "content_block_delta",
        "content_block_delta",
        "content_block_delta",
        "content_block_stop",
        "message_delta",
        "message_stop",
    ]
    assert all(event.json()["type"] == event.name for event in events)
    assert events[2].data == '{"type": "ping"}'
    assert events[-1].data == '{"type":"message_stop"       }'
    assert events[0].json()["message"]["usage"]["input_tokens"] == input_token_count([PROMPT])
    assert events[-2].json()["usage"] == {
        "input_tokens": input_token_count([PROMPT]),
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": 3,
    }
    assert response.text.count("event: ") == response.text.count("data: ") == 9


def test_openai_chunks_and_headers(client: httpx.Client) -> None:
    response = post(client, call("openai", "tokens=2"))
    assert response.headers["content-type"] == "text/event-stream; charset=utf-8"
    assert response.headers["x-request-id"].startswith("req_")
    assert response.headers["x-ratelimit-remaining-requests"] == "9999"
    events = parse_events(response.text)
    assert events[-1].data == "[DONE]"
    chunks = [event.json() for event in events[:-1]]
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": "", "refusal": None}
    assert all(chunk["usage"] is None for chunk in chunks[:-1])
    assert all(chunk["obfuscation"] for chunk in chunks)
    assert len({chunk["id"] for chunk in chunks}) == 1
    assert chunks[-2]["choices"][0] == {
        "index": 0,
        "delta": {},
        "logprobs": None,
        "finish_reason": "stop",
    }
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 2


def test_openai_stream_options_are_honoured(client: httpx.Client) -> None:
    request = call("openai", "tokens=2")
    request.body["stream_options"] = {"include_obfuscation": False}
    raw = post(client, request).text
    assert "obfuscation" not in raw
    assert '"choices":[]' not in raw  # no usage chunk unless include_usage
    assert raw.endswith("data: [DONE]\n\n")


def test_xai_omits_unset_keys(client: httpx.Client) -> None:
    events = parse_events(post(client, call("xai", "tokens=2")).text)
    assert events[-1].data == "[DONE]"
    first, second, finish, usage = (event.json() for event in events[:-1])
    first_token, second_token = answer_tokens("xai", PROMPT, 2)
    assert first["choices"] == [
        {"index": 0, "delta": {"content": first_token, "role": "assistant"}}
    ]
    assert second["choices"] == [{"index": 0, "delta": {"content": second_token}}]
    assert finish["choices"] == [{"index": 0, "delta": {}, "finish_reason": "stop"}]
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] == 2
    assert "null" not in "".join(event.data for event in events)


def test_perplexity_accumulates_and_never_sends_done(client: httpx.Client) -> None:
    response = post(client, call("perplexity", "tokens=4"))
    raw = response.text
    assert "[DONE]" not in raw
    assert '"usage": {"prompt_tokens": ' in raw  # spaced like Python's json.dumps
    chunks = [event.json() for event in parse_events(raw)]
    tokens = answer_tokens("perplexity", PROMPT, 4)
    assert [chunk["choices"][0]["message"]["content"] for chunk in chunks] == [
        "".join(tokens[:1]),
        "".join(tokens[:2]),
        "".join(tokens[:3]),
        "".join(tokens),
        "".join(tokens),
    ]
    assert [chunk["usage"]["completion_tokens"] for chunk in chunks] == [1, 2, 3, 4, 4]
    assert all(
        len(chunk["citations"]) == 2 and len(chunk["search_results"]) == 2 for chunk in chunks
    )
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"][0]["delta"]["content"] == ""
    assert set(chunks[-1]["usage"]["cost"]) == {
        "input_tokens_cost",
        "output_tokens_cost",
        "request_cost",
        "total_cost",
    }


def test_gemini_uses_crlf_framing_and_no_terminator(client: httpx.Client) -> None:
    response = post(client, call("gemini", "tokens=3"))
    assert response.headers["content-type"] == "text/event-stream"
    raw = response.content
    assert raw.count(b"\r\n\r\n") == 4  # three text events and the finishing one
    assert raw.endswith(b"\r\n\r\n")
    assert b"\n" not in raw.replace(b"\r\n\r\n", b"")
    chunks = [event.json() for event in parse_events(response.text)]
    assert [chunk["usageMetadata"]["candidatesTokenCount"] for chunk in chunks] == [1, 2, 3, 3]
    assert [chunk["candidates"][0].get("finishReason") for chunk in chunks] == [
        None,
        None,
        None,
        "STOP",
    ]
    assert {chunk["modelVersion"] for chunk in chunks} == {"gemini-3.5-flash"}


# -- keys and request checks ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flavour", "status", "body"),
    [
        (
            "openai",
            401,
            {
                "error": {
                    "message": "Incorrect API key provided: wro***-key. You can find your API key at "
                    "https://platform.openai.com/account/api-keys.",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
        ),
        (
            "xai",
            400,
            {
                "code": "Client specified an invalid argument",
                "error": "Incorrect API key provided: wr***y. You can obtain an API key from https://console.x.ai.",
            },
        ),
    ],
)
def test_wrong_key_json_bodies(
    client: httpx.Client, flavour: str, status: int, body: dict[str, Any]
) -> None:
    response = post(client, call(flavour, key="wrong-key"))
    assert response.status_code == status
    assert response.json() == body


def test_anthropic_wrong_and_missing_key(client: httpx.Client) -> None:
    wrong = post(client, call("anthropic", key="wrong"))
    assert wrong.status_code == 401
    assert wrong.json()["type"] == "error"
    assert wrong.json()["error"] == {"type": "authentication_error", "message": "invalid x-api-key"}
    assert wrong.json()["request_id"] == wrong.headers["request-id"]
    missing = post(client, call("anthropic", key=None))
    assert missing.status_code == 401
    assert missing.json()["error"] == {
        "type": "authentication_error",
        "message": "x-api-key header is required",
    }


def test_gemini_wrong_key_and_key_in_query(client: httpx.Client) -> None:
    wrong = post(client, call("gemini", key="wrong"))
    assert wrong.status_code == 400
    error = wrong.json()["error"]
    assert (error["code"], error["status"], error["message"]) == (
        400,
        "INVALID_ARGUMENT",
        "API key not valid. Please pass a valid API key.",
    )
    assert error["details"][0]["reason"] == "API_KEY_INVALID"
    in_query = call("gemini", "tokens=2", key=None)
    in_query.path += f"&key={SIMULATOR_KEY}"
    assert post(client, in_query).status_code == 200


def test_perplexity_wrong_key_is_openresty_html(client: httpx.Client) -> None:
    response = post(client, call("perplexity", key="wrong"))
    assert response.status_code == 401
    assert response.headers["content-type"] == "text/html"
    assert "<center>openresty/1.27.4</center>" in response.text


def test_openai_missing_key(client: httpx.Client) -> None:
    response = post(client, call("openai", key=None))
    assert response.status_code == 401
    assert response.json()["error"]["message"].startswith("You didn't provide an API key.")
    assert response.json()["error"]["code"] is None


def test_xai_missing_key_is_a_401(client: httpx.Client) -> None:
    response = post(client, call("xai", key=None))
    assert response.status_code == 401
    assert response.json() == {
        "code": "Unauthenticated",
        "error": "The authorization header is missing or invalid.",
    }


@pytest.mark.parametrize(
    ("flavour", "change", "status", "expected"),
    [
        (
            "anthropic",
            lambda c: c.headers.pop("anthropic-version"),
            400,
            "anthropic-version: header is required",
        ),
        ("anthropic", lambda c: c.body.pop("max_tokens"), 400, "max_tokens: Field required"),
        ("anthropic", lambda c: c.body.pop("stream"), 400, "set stream to true"),
        ("openai", lambda c: c.body.update(stream=False), 400, "set stream to true"),
        (
            "openai",
            lambda c: c.body.update(max_tokens=5),
            400,
            "'max_tokens' is not supported with this model",
        ),
        (
            "openai",
            lambda c: c.body.update(temperature=0.3),
            400,
            "'temperature' does not support 0.3",
        ),
        ("xai", lambda c: c.body.pop("messages"), 400, "Missing required parameter: 'messages'."),
        (
            "perplexity",
            lambda c: c.body["messages"].append({"role": "user", "content": "again"}),
            400,
            "user or tool message(s) should alternate with assistant message(s)",
        ),
        (
            "perplexity",
            lambda c: c.body["messages"].append({"role": "assistant", "content": "hi"}),
            400,
            "Last message must have role `user`.",
        ),
        (
            "gemini",
            lambda c: setattr(c, "path", c.path.replace("?alt=sse", "")),
            400,
            "add ?alt=sse",
        ),
        (
            "gemini",
            lambda c: setattr(c, "path", c.path.replace("streamG", "g")),
            404,
            "serves only",
        ),
        ("gemini", lambda c: c.body.pop("contents"), 400, "contents is not specified"),
    ],
)
def test_requests_the_real_api_refuses(
    client: httpx.Client, flavour: str, change: Callable[[Call], object], status: int, expected: str
) -> None:
    request = call(flavour)
    change(request)
    response = post(client, request)
    assert response.status_code == status
    assert expected in response.text
    assert client.get("/_sim/stats").json()[flavour]["rejected"] == 1


# -- faults -----------------------------------------------------------------------------------------


STATUS_FAULTS = {
    # status: per flavour, the field that identifies the error in its body
    "anthropic": {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_error",
        500: "api_error",
        503: "api_error",
        529: "overloaded_error",
    },
    "openai": {
        400: ("invalid_request_error", None),
        401: ("invalid_request_error", "invalid_api_key"),
        403: ("request_forbidden", "unsupported_country_region_territory"),
        404: ("invalid_request_error", "model_not_found"),
        429: ("requests", "rate_limit_exceeded"),
        500: ("server_error", None),
        503: ("server_error", None),
        529: ("server_error", None),
    },
    "gemini": {
        400: "INVALID_ARGUMENT",
        401: "UNAUTHENTICATED",
        403: "PERMISSION_DENIED",
        404: "NOT_FOUND",
        429: "RESOURCE_EXHAUSTED",
        500: "INTERNAL",
        503: "UNAVAILABLE",
        529: "INTERNAL",
    },
    "xai": {
        400: "Client specified an invalid argument",
        401: "Unauthenticated",
        403: "Permission denied",
        404: "not-found",
        429: "Some resource has been exhausted",
        500: "Internal error",
        503: "The service is currently unavailable",
        529: "Error",
    },
    "perplexity": {
        400: "bad_request",
        403: "forbidden",
        404: "not_found",
        429: "rate_limit_exceeded",
        500: "internal_server_error",
        503: "service_unavailable",
        529: "error",
    },
}


def identify(flavour: str, body: dict[str, Any]) -> object:
    if flavour == "anthropic":
        assert body["type"] == "error" and body["request_id"].startswith("req_")
        return body["error"]["type"]
    if flavour == "openai":
        assert set(body["error"]) == {"message", "type", "param", "code"}
        return body["error"]["type"], body["error"]["code"]
    if flavour == "gemini":
        return body["error"]["status"]
    if flavour == "xai":
        assert set(body) == {"code", "error"}
        return body["code"]
    assert set(body["error"]) == {"message", "type", "code"}
    return body["error"]["type"]


@pytest.mark.parametrize(
    ("flavour", "status"),
    [(flavour, status) for flavour, table in STATUS_FAULTS.items() for status in table],
)
def test_status_fault_uses_the_provider_body(
    client: httpx.Client, flavour: str, status: int
) -> None:
    response = post(client, call(flavour, f"fault=status,status={status}"))
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    assert identify(flavour, response.json()) == STATUS_FAULTS[flavour][status]
    if flavour == "gemini":
        assert response.json()["error"]["code"] == status
    if flavour == "perplexity":
        assert response.json()["error"]["code"] == status


def test_status_fault_defaults_to_500(client: httpx.Client) -> None:
    response = post(client, call("openai", "fault=status"))
    assert response.status_code == 500
    assert response.json()["error"]["message"] == (
        "The server had an error while processing your request. Sorry about that!"
    )


def test_status_fault_404_names_the_model(client: httpx.Client) -> None:
    assert post(client, call("anthropic", "fault=status,status=404")).json()["error"][
        "message"
    ] == ("model: claude-sonnet-5")
    assert (
        post(client, call("gemini", "fault=status,status=404"))
        .json()["error"]["message"]
        .startswith("models/gemini-3.5-flash is not found for API version v1beta")
    )


@pytest.mark.parametrize("flavour", ["anthropic", "openai", "xai", "perplexity"])
def test_429_sets_retry_after(client: httpx.Client, flavour: str) -> None:
    response = post(client, call(flavour, "fault=status,status=429,retry_after=2.5"))
    assert response.status_code == 429
    assert response.headers["retry-after"] == "2.5"


def test_openai_429_also_says_so_in_the_rate_limit_headers(client: httpx.Client) -> None:
    response = post(client, call("openai", "fault=status,status=429,retry_after=3"))
    assert response.headers["x-ratelimit-remaining-requests"] == "0"
    assert response.headers["x-ratelimit-reset-requests"] == "3s"
    assert "Please try again in 3s." in response.json()["error"]["message"]


def test_openai_quota_is_insufficient_quota_without_retry_hints(client: httpx.Client) -> None:
    response = post(client, call("openai", "fault=status,status=429,quota=1"))
    assert response.status_code == 429
    assert response.json()["error"]["type"] == "insufficient_quota"
    assert response.json()["error"]["code"] == "insufficient_quota"
    assert "retry-after" not in response.headers


def test_gemini_429_puts_the_delay_in_retry_info_not_a_header(client: httpx.Client) -> None:
    response = post(client, call("gemini", "fault=status,status=429,retry_after=23"))
    assert "retry-after" not in response.headers
    error = response.json()["error"]
    assert error["message"].endswith("Please retry in 23s.")
    assert error["details"][-1] == {
        "@type": "type.googleapis.com/google.rpc.RetryInfo",
        "retryDelay": "23s",
    }
    assert error["details"][0]["violations"][0]["quotaDimensions"]["model"] == "gemini-3.5-flash"


MIDSTREAM_TAILS = {
    "anthropic": 'event: error\ndata: {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}\n\n',
    "openai": 'data: {"error":{"message":"The server experienced an error while processing your request. We apologize '
    'for the inconvenience!","type":"server_error","param":null,"code":null}}\n\ndata: [DONE]\n\n',
    "xai": 'data: {"error":{"message":"Internal server error","type":"server_error"}}\n\n',
    "perplexity": 'data: {"error": {"message": "Internal server error", "type": "internal_server_error", "code": 500}}\n\n',
    "gemini": 'data: {"error": {"code": 500, "message": "An internal error has occurred. Please retry or report in '
    'https://developers.generativeai.google/guide/troubleshooting", "status": "INTERNAL"}}\r\n\r\n',
}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_midstream_fault_sends_the_provider_error_after_n_tokens(
    client: httpx.Client, flavour: str
) -> None:
    response = post(client, call(flavour, "fault=midstream,after=3"))
    assert response.status_code == 200
    assert texts(flavour, response.text) == answer_tokens(flavour, PROMPT, 3)
    assert response.text.endswith(MIDSTREAM_TAILS[flavour])
    assert response.text.count(MIDSTREAM_TAILS[flavour]) == 1
    assert client.get("/_sim/stats").json()[flavour]["faulted"] == 1


def test_midstream_fault_defaults_to_half_the_answer(client: httpx.Client) -> None:
    response = post(client, call("openai", "tokens=10,fault=midstream"))
    assert texts("openai", response.text) == answer_tokens("openai", PROMPT, 5)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_drop_fault_cuts_the_chunked_body(client: httpx.Client, flavour: str) -> None:
    request = call(flavour, "fault=drop,after=4,chunk=2")
    received = b""
    with (
        pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"),
        client.stream("POST", request.path, headers=request.headers, json=request.body) as response,
    ):
        for data in response.iter_raw():
            received += data
    raw = received.decode()
    assert texts(flavour, raw) == [
        "".join(answer_tokens(flavour, PROMPT, 4)[:2]),
        "".join(answer_tokens(flavour, PROMPT, 4)[2:]),
    ]
    assert "[DONE]" not in raw and "message_stop" not in raw
    assert finish_reason(flavour, raw) is None
    wait_for_stats(client, flavour, faulted=1, open=0)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_malformed_fault_sends_broken_json_then_ends(client: httpx.Client, flavour: str) -> None:
    response = post(client, call(flavour, "fault=malformed,after=2"))
    events = parse_events(response.text)
    with pytest.raises(json.JSONDecodeError):
        events[-1].json()
    assert events[-1].data.startswith("{")
    before = [text for event in events[:-1] if (text := event_text(flavour, event)) is not None]
    assert before == answer_tokens(flavour, PROMPT, 2)


@pytest.mark.parametrize("flavour", ["openai", "gemini"])
def test_stall_fault_holds_the_stream_open(client: httpx.Client, flavour: str) -> None:
    request = call(flavour, "fault=stall,after=2")
    lines: list[str] = []
    with (
        pytest.raises(httpx.ReadTimeout),
        client.stream(
            "POST",
            request.path,
            headers=request.headers,
            json=request.body,
            timeout=httpx.Timeout(10, read=2.0),  # the two tokens come at once
        ) as response,
    ):
        for line in response.iter_lines():
            lines.append(line)
    assert texts(flavour, "\n".join(lines) + "\n\n") == answer_tokens(flavour, PROMPT, 2)
    wait_for_stats(client, flavour, aborted=1, open=0)


def test_fail_times_fails_only_the_first_k_requests_with_the_same_knobs(
    client: httpx.Client,
) -> None:
    knobs = "tokens=2,fault=status,status=503,fail_times=2"
    assert [post(client, call("openai", knobs)).status_code for _ in range(3)] == [503, 503, 200]
    assert post(client, call("openai", knobs + ",gap=1")).status_code == 503  # its own tally
    assert post(client, call("xai", knobs)).status_code == 503  # per flavour too
    client.post("/_sim/reset")
    assert post(client, call("openai", knobs)).status_code == 503


def test_fail_times_works_with_stream_faults(client: httpx.Client) -> None:
    knobs = "tokens=4,fault=midstream,after=1,fail_times=1"
    assert "overloaded_error" in post(client, call("anthropic", knobs)).text
    assert texts("anthropic", post(client, call("anthropic", knobs)).text) == answer_tokens(
        "anthropic", PROMPT, 4
    )


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_unknown_knob_is_a_400_in_the_provider_shape(client: httpx.Client, flavour: str) -> None:
    response = post(client, call(flavour, "tokens=3,bogus=1"))
    assert response.status_code == 400
    assert (
        "unknown simulator knob 'bogus' in 'tokens=3,bogus=1'; known knobs: tokens, chunk"
        in response.text
    )
    assert response.headers["content-type"].startswith("application/json")  # the provider's 400
    header = post(client, call(flavour, header_knobs="tokens=x"))
    assert header.status_code == 400
    assert "simulator knob tokens='x' is invalid" in header.text


# -- stats, logs and disconnects ------------------------------------------------------------------


def test_stats_count_outcomes(client: httpx.Client) -> None:
    post(client, call("openai", "tokens=2"))
    post(client, call("openai", "fault=status,status=500"))
    post(client, call("openai", key="wrong"))
    assert client.get("/_sim/stats").json()["openai"] == {
        "requests": 3,
        "open": 0,
        "completed": 1,
        "aborted": 0,
        "faulted": 1,
        "rejected": 1,
    }
    assert client.get("/_sim/stats").json()["xai"]["requests"] == 0


def test_open_counts_streams_in_progress(client: httpx.Client) -> None:
    request = call("gemini", "tokens=3,ttft=2000")  # still open when the stats are read
    with client.stream(
        "POST", request.path, headers=request.headers, json=request.body
    ) as response:
        assert client.get("/_sim/stats").json()["gemini"]["open"] == 1
        response.read()
    wait_for_stats(client, "gemini", open=0, completed=1)


def test_client_leaving_during_a_gap_is_counted_as_aborted(client: httpx.Client) -> None:
    request = call("anthropic", "tokens=100,gap=200")
    with client.stream(
        "POST", request.path, headers=request.headers, json=request.body
    ) as response:
        lines = response.iter_lines()
        while "content_block_delta" not in next(lines):
            pass
    wait_for_stats(client, "anthropic", aborted=1, open=0, completed=0)


def test_client_leaving_during_headers_delay_is_counted_as_aborted(client: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        post(client, call("xai", "headers_delay=5000"), timeout=httpx.Timeout(10, read=0.3))
    wait_for_stats(client, "xai", aborted=1, open=0)


def test_client_leaving_during_a_stall_is_counted_as_aborted(client: httpx.Client) -> None:
    request = call("perplexity", "fault=stall,after=0")
    with client.stream(
        "POST", request.path, headers=request.headers, json=request.body
    ) as response:
        assert response.status_code == 200
        assert client.get("/_sim/stats").json()["perplexity"]["open"] == 1
    wait_for_stats(client, "perplexity", aborted=1, open=0)


def test_request_log_keeps_bodies_oldest_first(client: httpx.Client) -> None:
    first, second = call("openai", "tokens=2"), call("openai", header_knobs="tokens=3")
    post(client, first)
    post(client, second)
    logged = client.get("/_sim/requests", params={"api": "openai"}).json()
    assert [entry["body"] for entry in logged] == [first.body, second.body]
    assert [entry["model"] for entry in logged] == ["gpt-5.5", "gpt-5.5"]
    assert [entry["knobs"]["tokens"] for entry in logged] == [2, 3]
    assert (
        client.get("/_sim/requests", params={"api": "chatgpt"}).json() == logged
    )  # provider names work
    assert client.get("/_sim/requests", params={"api": "gemini"}).json() == []
    assert client.get("/_sim/requests", params={"api": "nope"}).status_code == 400


@pytest.mark.integration
def test_request_log_is_bounded() -> None:
    with serve(
        create_app(SimulatorConfig(defaults=FAST, log_size=3, record_requests=True))
    ) as running:
        http = httpx.Client(base_url=running.url, timeout=10)
        for tokens in range(1, 6):
            post(http, call("gemini", f"tokens={tokens}"))
        logged = http.get("/_sim/requests", params={"api": "gemini"}).json()
        assert [entry["knobs"]["tokens"] for entry in logged] == [3, 4, 5]


def test_reset_zeroes_counters_and_logs(client: httpx.Client) -> None:
    post(client, call("openai", "tokens=1"))
    reset = client.post("/_sim/reset").json()
    assert reset["openai"] == {
        "requests": 0,
        "open": 0,
        "completed": 0,
        "aborted": 0,
        "faulted": 0,
        "rejected": 0,
    }
    assert client.get("/_sim/requests", params={"api": "openai"}).json() == []


@pytest.mark.integration
def test_in_process_state_matches_the_endpoints() -> None:
    app = create_app(SimulatorConfig(defaults=FAST, record_requests=True))
    with serve(app) as running:
        post(httpx.Client(base_url=running.url, timeout=10), call("anthropic", "tokens=2"))

        # Read on the server's loop: the request's task counts the answer right after sending
        # its last bytes, and from this thread the client can be done before that task is.
        async def state() -> tuple[dict, list]:
            simulator = app.state.simulator
            return simulator.stats(), simulator.requests("anthropic")

        stats, requests = running.call(state)
        assert stats["anthropic"]["completed"] == 1
        assert requests[0]["model"] == "claude-sonnet-5"


@pytest.mark.integration
def test_works_mounted_under_a_prefix() -> None:
    gateway = Starlette(routes=[Mount("/_sim", app=create_app(SimulatorConfig(defaults=FAST)))])
    with serve(gateway) as running:
        http = httpx.Client(base_url=running.url + "/_sim", timeout=10)
        for flavour in FLAVOURS:
            assert texts(flavour, post(http, call(flavour, "tokens=2")).text) == answer_tokens(
                flavour, PROMPT, 2
            )
        assert http.get("/_sim/stats").json()["gemini"]["completed"] == 1
        assert http.get("/openai/v1/chat/completions").status_code == 405
        assert http.post("/nowhere").status_code == 404


# -- serving from the command line ------------------------------------------------------------------


def wait_until_served(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            httpx.get(url, timeout=1).raise_for_status()
            return
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def serve_in_subprocess(code: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    return subprocess.Popen([sys.executable, "-c", code], env=env, stderr=subprocess.PIPE)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    assert process.wait(10) == 0, process.stderr.read().decode() if process.stderr else ""


@pytest.mark.integration
def test_run_serves_every_api_on_one_port() -> None:
    port = free_port()
    process = serve_in_subprocess(
        f"from providers.simulators import run; run('127.0.0.1', {port}, log_level='warning')"
    )
    try:
        wait_until_served(f"http://127.0.0.1:{port}/_sim/stats", process)
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
        for flavour in FLAVOURS:
            assert texts(
                flavour, post(http, call(flavour, "tokens=2,ttft=0,gap=0")).text
            ) == answer_tokens(flavour, PROMPT, 2)
    finally:
        stop(process)


def free_port_block(size: int) -> int:
    """A base port such that base .. base+size-1 are all free right now."""
    while True:
        base = free_port()
        sockets = []
        try:
            for port in range(base, base + size):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()


@pytest.mark.integration
def test_run_many_serves_each_api_on_its_own_port() -> None:
    base = free_port_block(len(FLAVOURS))
    ports = port_plan(base)
    assert ports == {
        "anthropic": base,
        "openai": base + 1,
        "gemini": base + 2,
        "xai": base + 3,
        "perplexity": base + 4,
    }
    process = serve_in_subprocess(
        f"from providers.simulators import run_many; run_many('127.0.0.1', {base}, log_level='warning')"
    )
    try:
        for port in ports.values():
            wait_until_served(f"http://127.0.0.1:{port}/_sim/stats", process)
        for flavour, port in ports.items():
            http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=10)
            assert post(http, call(flavour, "tokens=2,ttft=0,gap=0")).status_code == 200
            other = "gemini" if flavour != "gemini" else "openai"
            assert post(http, call(other, "tokens=2")).status_code in (404, 405)
        stats = httpx.get(f"http://127.0.0.1:{base}/_sim/stats").json()  # shared across ports
        assert {flavour: stats[flavour]["completed"] for flavour in FLAVOURS} == dict.fromkeys(
            FLAVOURS, 1
        )
    finally:
        stop(process)
