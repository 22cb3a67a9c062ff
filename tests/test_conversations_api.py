"""The conversations API against a real gateway and a real PostgreSQL: success and every error."""

from __future__ import annotations

import pytest

from tests.support.responses import assert_error

API = "/api/v1"


async def test_create_and_get(client):
    created = await client.post(f"{API}/conversations/", json={"title": "Capitals"})
    assert created.status_code == 201
    body = created.json()
    assert body["title"] == "Capitals" and isinstance(body["id"], int)
    fetched = await client.get(f"{API}/conversations/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["title"] == "Capitals"
    assert fetched.json()["messages"] == []


async def test_create_without_title_gets_default(client):
    response = await client.post(f"{API}/conversations/", json={})
    assert response.status_code == 201
    assert response.json()["title"] == "New conversation"


@pytest.mark.parametrize("path", [f"{API}/conversations", f"{API}/conversations/"])
async def test_paths_with_and_without_trailing_slash(client, path):
    created = await client.post(path, json={"title": "x"})
    assert created.status_code == 201
    listed = await client.get(path)
    assert listed.status_code == 200
    one = await client.get(f"{API}/conversations/{created.json()['id']}/")
    assert one.status_code == 200


async def test_list_newest_first_and_paginated(client):
    ids = [
        (await client.post(f"{API}/conversations/", json={"title": f"c{i}"})).json()["id"]
        for i in range(5)
    ]
    page = await client.get(f"{API}/conversations/", params={"limit": 2})
    assert [c["id"] for c in page.json()] == ids[::-1][:2]
    assert page.headers["x-total-count"] == "5"
    rest = await client.get(f"{API}/conversations/", params={"limit": 10, "offset": 2})
    assert [c["id"] for c in rest.json()] == ids[::-1][2:]
    # Renaming counts as activity: the renamed conversation comes first.
    await client.patch(f"{API}/conversations/{ids[0]}", json={"title": "renamed"})
    first = (await client.get(f"{API}/conversations/", params={"limit": 1})).json()[0]
    assert first["id"] == ids[0] and first["title"] == "renamed"


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 101}, {"limit": "x"}, {"offset": -1}])
async def test_list_bad_paging_is_422(client, params):
    assert_error(await client.get(f"{API}/conversations/", params=params), 422)


async def test_rename(client):
    id = (await client.post(f"{API}/conversations/", json={"title": "old"})).json()["id"]
    renamed = await client.patch(f"{API}/conversations/{id}", json={"title": "  new  "})
    assert renamed.status_code == 200 and renamed.json()["title"] == "new"
    assert (await client.get(f"{API}/conversations/{id}")).json()["title"] == "new"


async def test_delete_then_everything_is_404(client):
    id = (await client.post(f"{API}/conversations/", json={"title": "bye"})).json()["id"]
    deleted = await client.delete(f"{API}/conversations/{id}")
    assert deleted.status_code == 204 and deleted.content == b""
    assert_error(await client.get(f"{API}/conversations/{id}"), 404, "not_found")
    assert_error(await client.patch(f"{API}/conversations/{id}", json={"title": "x"}), 404)
    assert_error(await client.delete(f"{API}/conversations/{id}"), 404)


@pytest.mark.parametrize("id", ["999999", "0", "-1", "99999999999999999999999", "abc"])
async def test_unknown_ids_are_404(client, id):
    assert_error(await client.get(f"{API}/conversations/{id}"), 404)


async def test_malformed_json_is_400(client):
    response = await client.post(
        f"{API}/conversations/", content=b'{"title": ', headers={"content-type": "application/json"}
    )
    assert_error(response, 400, "malformed_json")
    empty = await client.post(f"{API}/conversations/", content=b"")
    assert_error(empty, 400)


@pytest.mark.parametrize(
    "body",
    [{"title": 5}, {"title": ["a"]}, {"title": "x" * 201}, {"unknown": 1}, [1, 2], "title"],
)
async def test_wrong_types_are_422(client, body):
    error = assert_error(await client.post(f"{API}/conversations/", json=body), 422, "invalid")
    assert "message" in error


@pytest.mark.parametrize("body", [{}, {"title": ""}, {"title": "   "}, {"title": None}])
async def test_rename_needs_a_title(client, body):
    id = (await client.post(f"{API}/conversations/", json={"title": "keep"})).json()["id"]
    assert_error(await client.patch(f"{API}/conversations/{id}", json=body), 422)
    assert (await client.get(f"{API}/conversations/{id}")).json()["title"] == "keep"


async def test_oversize_body_is_413_and_nothing_is_stored(client):
    huge = b'{"title": "' + b"x" * 2_000_000 + b'"}'
    response = await client.post(
        f"{API}/conversations/", content=huge, headers={"content-type": "application/json"}
    )
    assert_error(response, 413, "too_large")
    assert (await client.get(f"{API}/conversations/")).json() == []


async def test_unknown_route_and_method(client):
    assert_error(await client.get(f"{API}/nothing-here"), 404)
    assert_error(await client.put(f"{API}/conversations/"), 405)


async def test_providers_list_their_models_and_answers_say_they_were_simulated(stream_client):
    providers = {p["name"]: p for p in (await stream_client.get(f"{API}/providers")).json()}
    claude = providers["claude"]
    assert claude["models"][0] == claude["model"] == "claude-sonnet-5"
    assert "claude-haiku-4-5" in claude["models"]
    assert all(m.startswith("claude-") for m in claude["models"])
    assert "sonar" in providers["perplexity"]["models"]
    chat = await stream_client.post(
        f"{API}/chat/", json={"prompt": "hi", "models": ["claude:m+tokens=1"]}
    )
    assert chat.status_code == 200, chat.text
    detail = await stream_client.get(f"{API}/conversations/{chat.json()['conversation_id']}")
    kinds = {m["role"]: m["simulated"] for m in detail.json()["messages"]}
    assert kinds == {"user": None, "assistant": True}
