"""Pinned model names (#20): one grammar, checked before any upstream call; knobs only for
simulated providers; ``<PROVIDER>_MODELS``; and Gemini's model encoded in its URL anyway."""

from __future__ import annotations

import httpx
import pytest

from providers import Message, ProviderConfig, ProviderError, make_adapter
from providers.models import RULE, check_model
from tests.support.gateways import start_gateway
from tests.support.turn_helpers import API

BAD_NAMES = [
    "x/../../../v1/tunedModels#",  # the issue's: another Gemini endpoint, the operator's key
    "gemini-3.5-flash?alt=json",
    "a b",
    "a..b",
    "..",
    "models%2Fx",
    "tab\tname",
    "é",
    "a" * 201,
]


def sim_requests(sim) -> int:
    return sum(s["requests"] for s in sim.stats().values())


@pytest.mark.parametrize("name", BAD_NAMES)
async def test_a_bad_model_name_is_422_before_any_upstream_call(stream_client, sim, name):
    before = sim_requests(sim)
    for path in (f"{API}/chat/", f"{API}/chat/stream", f"{API}/turns"):
        body = {"prompt": "hi", "models": ["claude", f"gemini:{name}"]}
        response = await stream_client.post(path, json=body)
        assert response.status_code == 422, (path, response.text)
        error = response.json()["error"]
        assert error["type"] == "invalid"
        if len(f"gemini:{name}") <= 200:  # longer: the request schema refuses it first (422)
            assert "gemini" in error["message"] and RULE in error["message"]
    assert sim_requests(sim) == before, "no provider was called"


async def test_retry_and_add_check_the_name_too(stream_client, sim):
    created = await stream_client.post(
        f"{API}/chat/", json={"prompt": "hi", "models": ["claude:claude-sonnet-5+tokens=3"]}
    )
    turn_id = created.json()["turn_id"]
    before = sim_requests(sim)
    for action, entry in (("retry", "claude:../x"), ("add", "gemini:x/../../v1/y#")):
        response = await stream_client.post(
            f"{API}/turns/{turn_id}/{action}", json={"providers": [entry]}
        )
        assert response.status_code == 422, (action, response.text)
        assert RULE in response.json()["error"]["message"]
    assert sim_requests(sim) == before


async def test_knobs_only_for_simulated_providers(database_url, sim, monkeypatch):
    """A provider with an API key is live (here pointed at the simulator): its model is a
    name, not a knob string."""
    monkeypatch.setenv("CHATGPT_BASE_URL", f"{sim.url}/openai/v1")
    server = start_gateway(database_url, sim.url, openai_api_key="sk-live-looking")
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            knobbed = {"prompt": "hi", "models": ["chatgpt:gpt-5.5+tokens=3"]}
            refused = await client.post(f"{API}/chat/", json=knobbed)
            assert refused.status_code == 422
            assert "simulated providers only" in refused.json()["error"]["message"]
            simulated = {"prompt": "hi", "models": ["claude:claude-sonnet-5+tokens=3"]}
            assert (await client.post(f"{API}/chat/", json=simulated)).status_code == 200
    finally:
        server.stop()


async def test_provider_models_limit_what_clients_may_pin(database_url, sim, monkeypatch):
    monkeypatch.setenv("CLAUDE_MODELS", "claude-haiku-4, claude-opus-5")
    server = start_gateway(database_url, sim.url)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            for entry, status in (
                ("claude:claude-mythos-9", 422),  # valid, but not offered
                ("claude:claude-haiku-4+tokens=3", 200),  # offered (knobs: simulated)
                ("claude:claude-opus-5", 200),
                ("claude", 200),  # the configured model is always allowed
                ("gemini:gemini-anything", 200),  # GEMINI_MODELS unset: any valid name
            ):
                body = {"prompt": "hi", "models": [entry]}
                response = await client.post(f"{API}/chat/", json=body)
                assert response.status_code == status, (entry, response.text)
                if status == 422:
                    message = response.json()["error"]["message"]
                    assert "CLAUDE_MODELS" in message and "claude-haiku-4" in message
    finally:
        server.stop()


def test_a_bad_model_list_stops_start_up_with_one_line(monkeypatch):
    from gateway.settings import SettingsError, load_settings

    monkeypatch.setenv("GEMINI_MODELS", "gemini-2,../etc")
    with pytest.raises(SettingsError, match="GEMINI_MODELS") as caught:
        load_settings(env_file=None)
    assert "\n" not in str(caught.value)


def config(**overrides) -> ProviderConfig:
    values = {
        "name": "gemini",
        "base_url": "https://gemini.invalid",
        "model": "gemini-3.5-flash",
        "api_key": "k",
        "max_attempts": 1,
    } | overrides
    return ProviderConfig(**values)


def test_gemini_puts_the_model_in_its_url_encoded():
    adapter = make_adapter(config(simulated=True), httpx.AsyncClient())
    request = adapter.build_request([Message("user", "hi")], "gemini-x:latest+tokens=3,gap=1")
    path = httpx.URL(request.url).raw_path.decode()
    assert path == (
        "/v1beta/models/gemini-x%3Alatest%2Btokens%3D3%2Cgap%3D1:streamGenerateContent?alt=sse"
    )


async def test_the_adapters_refuse_a_bad_name_whoever_asks():
    """Admission checks the rule; the adapter checks it again, before any request, for any
    caller (a fuse, a future endpoint) that would skip admission."""
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(500)

    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
        adapter = make_adapter(config(), client)
        with pytest.raises(ProviderError) as caught:
            async for _ in adapter.stream([Message("user", "hi")], "x/../../v1/tunedModels#"):
                pass
    assert caught.value.type == "invalid_model" and RULE in caught.value.message
    assert calls == []


def test_the_rule_itself():
    simulated, live = config(simulated=True), config()
    assert check_model(live, "gemini-2.5-pro-exp-03-25") == "gemini-2.5-pro-exp-03-25"
    assert check_model(live, "models:x_y.z-1") == "models:x_y.z-1"
    assert check_model(simulated, "g+tokens=3, gap = 1") == "g+tokens=3, gap = 1"
    for name in BAD_NAMES:
        with pytest.raises(ValueError, match="not a model name"):
            check_model(simulated, name)
    with pytest.raises(ValueError, match="simulated providers only"):
        check_model(live, "g+tokens=3")
    with pytest.raises(ValueError, match="name=value"):
        check_model(simulated, "g+tokens=3#")
