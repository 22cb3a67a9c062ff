"""GET /_sim/requests shows every prompt sent to a simulator: it is off unless asked for."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from gateway import cli
from providers.simulators import SimulatorConfig, create_app
from tests.support.servers import serve
from tests.support.simulator_calls import FAST, call, post


@pytest.mark.integration
def test_the_default_simulator_answers_404_and_records_nothing() -> None:
    app = create_app(SimulatorConfig(defaults=FAST))
    with serve(app) as running, httpx.Client(base_url=running.url, timeout=10) as http:
        for flavour in ("openai", "anthropic", "gemini"):
            assert post(http, call(flavour, "tokens=2")).status_code == 200
        for api in ("openai", "chatgpt", "nope", ""):
            response = http.get("/_sim/requests", params={"api": api})
            assert response.status_code == 404, response.text
            assert "prompt" not in response.text.lower()
        assert http.get("/_sim/stats").json()["openai"]["completed"] == 1  # still counted

        async def logs() -> dict[str, int]:
            return {flavour: len(log) for flavour, log in app.state.simulator.logs.items()}

        assert set(running.call(logs).values()) == {0}


@pytest.mark.integration
def test_recording_is_opt_in() -> None:
    app = create_app(SimulatorConfig(defaults=FAST, record_requests=True))
    with serve(app) as running, httpx.Client(base_url=running.url, timeout=10) as http:
        request = call("openai", "tokens=2")
        post(http, request)
        logged = http.get("/_sim/requests", params={"api": "openai"}).json()
        assert [entry["body"] for entry in logged] == [request.body]


@pytest.mark.integration
async def test_the_gateways_in_process_simulator_does_not_record() -> None:
    from gateway.app import start_simulator

    async with contextlib.AsyncExitStack() as stack:
        url = await start_simulator(stack)
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            response = await http.get("/_sim/requests", params={"api": "openai"})
            assert response.status_code == 404


def test_multichat_simulate_records_only_with_the_flag(monkeypatch) -> None:
    import providers.simulators.app as simulator_app

    seen: list[SimulatorConfig] = []
    monkeypatch.setattr(simulator_app, "run", lambda host, port, config: seen.append(config))
    for argv, expected in ((["simulate"], False), (["simulate", "--record-requests"], True)):
        assert cli.main(argv) == 0
        assert seen.pop().record_requests is expected
