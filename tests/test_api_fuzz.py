"""Schemathesis against a real gateway: no 5xx, and every answer is the one the document gives.

The gateway is started as the fixtures do (real uvicorn, a fresh PostgreSQL database, all five
providers served by the simulators) and fuzzed through its own OpenAPI document (the one it
serves; schemathesis needs it at collection time, so it is built as the app builds it):
bounded examples, a fixed seed and derandomized generation, so a run is the same every time
and takes seconds. Streams end when their turn ends (the simulators answer in ~0.1 s), and a
request timeout and an event cap stop anything that would not.
"""

from __future__ import annotations

import pytest
import schemathesis
from schemathesis import Config

from gateway.app import create_app
from tests.support.credentials import BROWSER_HEADERS
from tests.support.databases import TEMPLATE, create_database, drop_database
from tests.support.gateways import make_settings, start_gateway

API = "/api/v1"

CONFIG = {
    "seed": 20261124,
    "suppress-health-check": ["too_slow", "filter_too_much", "data_too_large"],
    "request-timeout": 10,
    "max-stream-events": 200,
    "generation": {"max-examples": 15, "deterministic": True, "database": "none"},
    "checks": {
        # Every check schemathesis has ("--checks all"), these named on purpose: no 5xx; the
        # status code, content type, headers and body are the ones the document gives; valid
        # data is accepted and invalid data refused; a wrong method is 405 with Allow.
        "enabled": True,
        "positive_data_acceptance": {"enabled": True},
        "negative_data_rejection": {"enabled": True},
        "missing_required_header": {"enabled": True},
        "not_a_server_error": {"enabled": True},
        "status_code_conformance": {"enabled": True},
        "content_type_conformance": {"enabled": True},
        "response_headers_conformance": {"enabled": True},
        "response_schema_conformance": {"enabled": True},
        "unsupported_method": {"enabled": True},
    },
}


@pytest.fixture(scope="module")
async def fuzzed_gateway(postgres_admin_dsn, template_dsn, simulator):
    dsn = await create_database(postgres_admin_dsn, TEMPLATE)
    server = start_gateway(dsn, simulator.url)
    yield server
    server.stop()
    await drop_database(postgres_admin_dsn, dsn)


DOCUMENT = create_app(make_settings()).state.openapi
schema = schemathesis.openapi.from_dict(DOCUMENT, config=Config.from_dict(CONFIG))


def names_a_provider_twice(body) -> bool:
    """The one rule about a body that the document cannot state: a turn asks each provider
    once, so ``["claude", "claude:x"]`` is refused (422) though each entry is valid."""
    models = body.get("models") if isinstance(body, dict) else None
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        return False
    names = [m.partition(":")[0].strip() for m in models]
    return len(names) != len(set(names))


async def test_the_fuzzed_document_is_the_served_one(fuzzed_gateway):
    import httpx

    async with httpx.AsyncClient(base_url=fuzzed_gateway.url) as client:
        assert (await client.get(f"{API}/openapi.json")).json() == DOCUMENT


def uploads_bytes(case) -> bool:
    """An upload's bytes must be a whole image of the type they say: a rule no schema states
    (the document says "binary"), so a schema-valid upload is as likely refused (415, 422) as
    not. tests/test_turn_reasoning_images.py tests every reason."""
    return case.method == "POST" and case.path == f"{API}/uploads"


@schema.parametrize()
def test_api_conforms_to_its_document(case, fuzzed_gateway):
    positive = case.meta.generation.mode.is_positive
    if positive and (names_a_provider_twice(case.body) or uploads_bytes(case)):
        return  # a 422 the document cannot foresee (every phase, so no generation filter)
    # requests, not httpx: the suite's key goes in by hand (tests/support/credentials.py).
    case.call_and_validate(base_url=fuzzed_gateway.url, headers=BROWSER_HEADERS)
