"""Bad input never gets a 5xx: each hand-found case answers a 4xx in the one JSON error shape.

Against a real gateway whose providers are all simulated, so a test can also check that a
refused request called no provider and stored nothing.
"""

from __future__ import annotations

import logging

import httpx
import pytest

from tests.support.responses import assert_error

API = "/api/v1"
JSON = {"content-type": "application/json"}
CHAT_ENDPOINTS = [f"{API}/chat/", f"{API}/chat/stream", f"{API}/turns"]


@pytest.fixture(autouse=True)
def no_error_logged(caplog):
    """A refused request logs no error (and so no traceback) on the gateway."""
    caplog.set_level(logging.WARNING)
    yield
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]


def no_provider_called(sim) -> bool:
    return all(api["requests"] == 0 for api in sim.stats().values())


async def nothing_stored(client: httpx.AsyncClient) -> bool:
    listed = await client.get(f"{API}/conversations/")
    return listed.status_code == 200 and listed.json() == []


async def post_raw(client: httpx.AsyncClient, path: str, body: bytes, **headers: str):
    return await client.post(path, content=body, headers={**JSON, **headers})


# -- text PostgreSQL cannot store: U+0000 and lone surrogates --------------------------------


@pytest.mark.parametrize(
    "body, field",
    [
        ({"prompt": "a\x00b"}, "prompt"),
        ({"prompt": "hi", "models": ["claude:x\x00y"]}, "models.0"),
        ({"prompt": "hi", "models": ["claude", "\x00"]}, "models.1"),
    ],
)
async def test_nul_in_chat_text_is_422_and_calls_no_provider(stream_client, sim, body, field):
    for path in CHAT_ENDPOINTS:
        error = assert_error(await stream_client.post(path, json=body), 422, "invalid")
        assert error["message"].startswith(f"{field}:"), (path, error)
    assert no_provider_called(sim)
    assert await nothing_stored(stream_client)


@pytest.mark.parametrize(
    "raw, field",
    [
        (rb'{"prompt": "\ud800"}', "prompt"),
        (rb'{"prompt": "ok \udc00 then"}', "prompt"),
        (rb'{"prompt": "hi", "models": ["claude:\ud83d"]}', "models.0"),
    ],
)
async def test_lone_surrogate_in_chat_text_is_422(stream_client, sim, raw, field):
    for path in CHAT_ENDPOINTS:
        error = assert_error(await post_raw(stream_client, path, raw), 422, "invalid")
        assert error["message"].startswith(f"{field}:"), (path, error)
    assert no_provider_called(sim)
    assert await nothing_stored(stream_client)


async def test_a_paired_surrogate_escape_is_an_ordinary_character(stream_client):
    response = await post_raw(
        stream_client, f"{API}/chat/", rb'{"prompt": "smile \ud83d\ude00", "models": ["claude"]}'
    )
    assert response.status_code == 200, response.text
    conversation = response.json()["conversation_id"]
    stored = (await stream_client.get(f"{API}/conversations/{conversation}")).json()
    assert stored["messages"][0]["content"] == "smile \U0001f600"


async def test_unstorable_title_is_422(client):
    id = (await client.post(f"{API}/conversations/", json={"title": "keep"})).json()["id"]
    for raw in (rb'{"title": "a\u0000b"}', rb'{"title": "\udfff"}'):
        error = assert_error(await post_raw(client, f"{API}/conversations/", raw), 422, "invalid")
        assert error["message"].startswith("title:")
        renamed = await client.patch(f"{API}/conversations/{id}", content=raw, headers=JSON)
        assert assert_error(renamed, 422)["message"].startswith("title:")
    assert [c["title"] for c in (await client.get(f"{API}/conversations/")).json()] == ["keep"]


async def test_odd_field_names_are_422(client):
    for raw in (
        rb'{"\ud800": 1}',  # an unknown field whose name cannot be encoded
        rb'{"\u0000": 1}',
        b'{"' + b"k" * 100_000 + b'": 1}',  # a huge unknown field name is not echoed whole
    ):
        response = await post_raw(client, f"{API}/conversations/", raw)
        assert_error(response, 422, "invalid")
        assert len(response.content) < 2_000


async def test_unstorable_cancel_provider_is_422(stream_client):
    turn = (
        await stream_client.post(
            f"{API}/turns", json={"prompt": "hi", "models": ["claude:m+tokens=200,gap=20"]}
        )
    ).json()
    cancel = f"{API}/turns/{turn['turn_id']}/cancel"
    for raw in (rb'{"providers": ["\ud800"]}', rb'{"providers": ["cl\u0000aude"]}'):
        assert_error(await post_raw(stream_client, cancel, raw), 422)
    assert (await stream_client.post(cancel)).status_code == 200


async def test_a_body_that_is_not_utf8_is_400(stream_client, sim):
    for raw in (
        b'{"prompt": "\xff"}',  # not UTF-8
        b'{"prompt": "\xed\xa0\x80"}',  # a surrogate encoded in UTF-8 bytes is not UTF-8 either
        b"\xef\xbb\xbf{}",  # a byte order mark
    ):
        assert_error(await post_raw(stream_client, f"{API}/chat/", raw), 400, "malformed_json")
    assert no_provider_called(sim)


# -- sizes and numbers -----------------------------------------------------------------------


async def test_a_model_pin_is_at_most_200_characters(stream_client, sim):
    huge = {"prompt": "hi", "models": ["chatgpt:" + "m" * 900_000]}
    error = assert_error(await stream_client.post(f"{API}/chat/", json=huge), 422, "invalid")
    assert error["message"].startswith("models.0:") and len(error["message"]) < 500
    over = {"prompt": "hi", "models": ["chatgpt:" + "m" * 193]}  # 201 characters
    assert_error(await stream_client.post(f"{API}/chat/", json=over), 422, "invalid")
    assert no_provider_called(sim)
    assert await nothing_stored(stream_client)
    at_limit = {"prompt": "hi", "models": ["chatgpt:" + "m" * 192]}  # 200 characters
    response = await stream_client.post(f"{API}/chat/", json=at_limit)
    assert response.status_code == 200, response.text
    assert response.json()["responses"][0]["model"] == "m" * 192


async def test_conversation_ids_with_too_many_digits_are_404(client):
    for id in ("9" * 5000, "0" * 30 + "1", "1" + "0" * 19):
        for method in ("GET", "PATCH", "DELETE"):
            kwargs = {"json": {"title": "x"}} if method == "PATCH" else {}
            response = await client.request(method, f"{API}/conversations/{id}", **kwargs)
            assert_error(response, 404, "not_found")


async def test_out_of_range_conversation_in_a_body_calls_no_provider(stream_client, sim):
    for conversation_id in (10**30, -(10**30), 2**63, 0, -1):
        raw = b'{"prompt": "hi", "conversation_id": %d}' % conversation_id
        response = await post_raw(stream_client, f"{API}/chat/", raw)
        assert response.status_code in (404, 422), response.text
        assert_error(response, response.status_code)
    assert no_provider_called(sim)


async def test_odd_paging_numbers_are_422(client):
    for params in (
        {"limit": "9" * 5000},
        {"offset": "9" * 5000},
        {"offset": str(2**63)},
        {"limit": "1_0"},
        {"limit": "１０"},  # fullwidth digits: int() takes them, the API does not
        {"limit": ""},
        {"offset": "0x10"},
    ):
        response = await client.get(f"{API}/conversations/", params=params)
        error = assert_error(response, 422, "invalid")
        assert len(error["message"]) < 200


# -- turn ids and event ids ------------------------------------------------------------------


async def test_odd_turn_ids_are_404(client):
    odd = ["%00", "a", "x" * 21, "x" * 23, "x" * 5000, "%C3%A9" * 11, "%FF", "a" * 20 + "%00a"]
    for turn_id in odd:
        for method, path in (
            ("GET", f"{API}/turns/{turn_id}"),
            ("GET", f"{API}/turns/{turn_id}/events"),
            ("POST", f"{API}/turns/{turn_id}/cancel"),
        ):
            assert_error(await client.request(method, path), 404, "not_found")


async def test_a_well_formed_unknown_turn_id_is_404(client):
    for path in ("", "/events"):
        assert_error(await client.get(f"{API}/turns/{'A' * 22}{path}"), 404, "not_found")


async def test_odd_last_event_ids_are_422(stream_client):
    turn = (
        await stream_client.post(f"{API}/chat/", json={"prompt": "hi", "models": ["claude"]})
    ).json()
    events = f"{API}/turns/{turn['turn_id']}/events"
    for last_event_id in ("9" * 5000, "-1", "1.5", "²", "0x1", "1 2", "\u0661", "9" * 19):
        by_query = await stream_client.get(events, params={"last_event_id": last_event_id})
        assert_error(by_query, 422)
        if last_event_id.isascii():  # a header carries latin-1 only
            by_header = await stream_client.get(events, headers={"last-event-id": last_event_id})
            assert_error(by_header, 422)


# -- bodies ----------------------------------------------------------------------------------


async def test_odd_bodies(stream_client):
    deep = b"[" * 100_000 + b"]" * 100_000
    for raw, status in (
        (b"", 400),
        (b"   \n", 400),
        (b"null", 422),
        (b"[]", 422),
        (b'"prompt"', 422),
        (b"12", 422),
        (b'{"prompt": 1e400}', 400),
        (b'{"prompt": NaN}', 400),
        (rb'{"prompt": "\ud800", "x": NaN}', 400),  # read again for the surrogate: still 400
        (b'{"prompt": "hi"} trailing', 400),
        (deep, 400),
        (rb'["\ud800", ' + deep + b"]", 400),
        (b'{"prompt": "hi", "models": ["claude"], "prompt": "again"}', 200),  # the last wins
    ):
        response = await post_raw(stream_client, f"{API}/chat/", raw)
        if status == 200:
            assert response.status_code == 200, response.text
        else:
            assert_error(response, status)


async def test_a_declared_length_over_the_limit_is_413(stream_client, sim):
    response = await post_raw(
        stream_client, f"{API}/turns", b'{"prompt": "' + b"x" * 1_100_000 + b'"}'
    )
    assert_error(response, 413, "too_large")
    assert no_provider_called(sim)


# -- methods, HEAD, trailing slashes ----------------------------------------------------------


async def test_wrong_methods_are_405_with_every_allowed_method(client):
    for method, path, allowed in (
        ("PUT", "/conversations/", {"GET", "HEAD", "POST"}),
        ("DELETE", "/conversations", {"GET", "HEAD", "POST"}),
        ("PUT", "/conversations/1", {"GET", "HEAD", "PATCH", "DELETE"}),
        ("POST", "/conversations/1/", {"GET", "HEAD", "PATCH", "DELETE"}),
        ("OPTIONS", "/conversations/1", {"GET", "HEAD", "PATCH", "DELETE"}),
        ("GET", "/chat/", {"POST"}),
        ("GET", "/chat/stream", {"POST"}),
        ("DELETE", "/turns", {"POST"}),
        ("POST", "/turns/" + "A" * 22, {"GET", "HEAD"}),
        ("GET", "/turns/" + "A" * 22 + "/cancel", {"POST"}),
        ("POST", "/providers", {"GET", "HEAD"}),
    ):
        response = await client.request(method, f"{API}{path}")
        assert_error(response, 405, "method_not_allowed")
        assert {m.strip() for m in response.headers["allow"].split(",")} == allowed, path


async def test_head_answers_like_get_without_a_body(client):
    for path in ("/conversations/", "/conversations", "/providers", "/health"):
        response = await client.head(f"{API}{path}")
        assert response.status_code == 200 and response.content == b""
        assert response.headers["content-type"].startswith("application/json")


async def test_head_on_a_finished_turns_events_does_not_hang(stream_client):
    turn = (
        await stream_client.post(f"{API}/chat/", json={"prompt": "hi", "models": ["claude"]})
    ).json()
    events = f"{API}/turns/{turn['turn_id']}/events"
    response = await stream_client.head(events, timeout=5)
    assert response.status_code == 200 and response.content == b""
    assert (await stream_client.head(events + "/", timeout=5)).status_code == 200


async def test_chat_paths_with_and_without_trailing_slash(stream_client):
    for path in ("/chat", "/chat/", "/chat/stream/", "/turns/", "/turns"):
        body = {"prompt": "hi", "models": ["claude"]}
        response = await stream_client.post(f"{API}{path}", json=body)
        assert response.status_code in (200, 201), response.text


# -- content types (the first half of CSRF protection) ----------------------------------------

JSON_BODIES = {
    f"{API}/chat/": {"prompt": "hi"},
    f"{API}/chat/stream": {"prompt": "hi"},
    f"{API}/turns": {"prompt": "hi"},
    f"{API}/conversations/": {"title": "t"},
}


@pytest.mark.parametrize("path", CHAT_ENDPOINTS)
async def test_a_cross_site_simple_post_starts_no_turn(stream_client, sim, path):
    body = b'{"prompt": "spend my money"}'
    for content_type in (
        "text/plain",
        "text/plain;charset=UTF-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        None,
    ):
        headers = {"content-type": content_type} if content_type else {}
        response = await stream_client.post(path, content=body, headers=headers)
        assert_error(response, 415, "unsupported_media_type")
    assert no_provider_called(sim)
    assert await nothing_stored(stream_client)


async def test_json_endpoints_refuse_other_media_types(stream_client, sim):
    client = stream_client
    id = (await client.post(f"{API}/conversations/", json={"title": "keep"})).json()["id"]
    for content_type in (
        "text/json",
        "application/jsonp",
        "application/json-patch+json",
        "application/json; charset=latin-1",
        "",
        "application/x-json",
    ):
        headers = {"content-type": content_type}
        for path, body in JSON_BODIES.items():
            response = await client.post(path, json=body, headers=headers)
            assert_error(response, 415, "unsupported_media_type")
        renamed = await client.patch(
            f"{API}/conversations/{id}", json={"title": "x"}, headers=headers
        )
        assert_error(renamed, 415, "unsupported_media_type")
    assert [c["title"] for c in (await client.get(f"{API}/conversations/")).json()] == ["keep"]
    assert no_provider_called(sim)


async def test_json_with_parameters_is_accepted(client):
    for content_type in (
        "application/json",
        "application/json; charset=utf-8",
        "Application/JSON;charset=UTF-8",
        'application/json; charset="utf-8"',
    ):
        response = await client.post(
            f"{API}/conversations/",
            content=b'{"title": "t"}',
            headers={"content-type": content_type},
        )
        assert response.status_code == 201, response.text


async def test_cancel_needs_a_content_type_only_with_a_body(stream_client):
    turn = (
        await stream_client.post(
            f"{API}/turns", json={"prompt": "hi", "models": ["claude:m+tokens=200,gap=20"]}
        )
    ).json()
    cancel = f"{API}/turns/{turn['turn_id']}/cancel"
    refused = await stream_client.post(
        cancel, content=b'{"providers": ["claude"]}', headers={"content-type": "text/plain"}
    )
    assert_error(refused, 415, "unsupported_media_type")
    assert_error(await stream_client.post(cancel, content=b"{}"), 415, "unsupported_media_type")
    state = (await stream_client.get(f"{API}/turns/{turn['turn_id']}")).json()
    assert state["status"] == "running"
    cancelled = await stream_client.post(cancel)  # an empty body: cancel everything
    assert cancelled.status_code == 200, cancelled.text
