"""The OpenAPI document is valid 3.1, generated, and lists every API route."""

from __future__ import annotations

import re

from openapi_spec_validator import validate
from starlette.routing import Route

from gateway.app import create_app
from tests.support.gateways import make_settings

API = "/api/v1"
DOC_ROUTES = {f"{API}/openapi.json", f"{API}/docs", f"{API}/redoc"}


def app_routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.routes:
        if (
            not isinstance(route, Route)
            or route.path in DOC_ROUTES
            or not route.path.startswith(API)
        ):
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path).rstrip("/") or "/"
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method.lower(), path))
    return found


def test_document_validates_and_lists_every_route():
    app = create_app(make_settings())
    document = app.state.openapi
    validate(document)
    assert document["openapi"] == "3.1.0"
    documented = {
        (method, path.rstrip("/"))
        for path, operations in document["paths"].items()
        for method in operations
    }
    assert app_routes(app) == documented


def test_schemas_come_from_the_models():
    document = create_app(make_settings()).state.openapi
    schemas = document["components"]["schemas"]
    assert schemas["ConversationCreate"]["properties"]["title"]["anyOf"][0]["maxLength"] == 200
    post = document["paths"][f"{API}/conversations/"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ConversationCreate"
    )
    assert {"201", "400", "413", "422", "503"} <= set(post["responses"])


async def test_served_with_docs_pages(client):
    document = await client.get(f"{API}/openapi.json")
    assert document.status_code == 200
    validate(document.json())
    for page in ("docs", "redoc"):
        html = await client.get(f"{API}/{page}")
        assert html.status_code == 200 and f"{API}/openapi.json" in html.text


def test_responses_the_fuzzer_checks_are_documented():
    document = create_app(make_settings()).state.openapi
    paths = document["paths"]
    events = paths[f"{API}/turns/{{turn_id}}/events"]["get"]["responses"]
    assert "204" in events and "content" not in events["204"]
    for path in (f"{API}/chat/stream", f"{API}/turns/{{turn_id}}/events"):
        operation = next(iter(paths[path].values()))
        stream = operation["responses"]["200"]["content"]
        assert list(stream) == ["text/event-stream"]
        names = {
            e["properties"]["event"]["const"]
            for e in stream["text/event-stream"]["schema"]["oneOf"]
        }
        assert names == {"turn", "start", "status", "delta", "thinking", "done", "reveal", "end"}
    for path, operations in paths.items():
        for method, operation in operations.items():
            allow = operation["responses"]["405"]["headers"]["Allow"]
            assert allow["required"], (method, path)
            if "requestBody" in operation:
                assert "415" in operation["responses"], (method, path)
    cancel = paths[f"{API}/turns/{{turn_id}}/cancel"]["post"]
    assert cancel["requestBody"]["required"] is False


def test_every_example_in_the_document_is_a_valid_body():
    """Swagger UI's "Try it out" starts from a schema's first example: each one must pass the
    schema and the model (a vote names a winner or a ranking, never both)."""
    from jsonschema import Draft202012Validator

    from gateway.api import schemas as models

    document = create_app(make_settings()).state.openapi
    components = document["components"]
    examples = {
        name: schema["examples"]
        for name, schema in components["schemas"].items()
        if "examples" in schema
    }
    assert examples["VoteRequest"][0] == {"winner": "A"}
    for name, found in examples.items():
        validator = Draft202012Validator(
            {"$ref": f"#/components/schemas/{name}", "components": components}
        )
        for example in found:
            assert not list(validator.iter_errors(example)), (name, example)
            getattr(models, name).model_validate(example)
