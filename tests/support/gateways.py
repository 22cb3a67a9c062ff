"""A gateway for a test: its settings (no .env, no keys from the environment, quiet logs) and
a real uvicorn serving it in a thread, on a port bound before the app is made."""

from __future__ import annotations

from typing import Any

from gateway.settings import Settings, load_settings
from tests.support.paths import ROOT
from tests.support.servers import ServerThread


def make_settings(**overrides: Any) -> Settings:
    """Settings for a test: no .env, no keys from the environment, quiet logs."""
    overrides.setdefault("log_level", "warning")
    overrides.setdefault("data_dir", ROOT / ".data" / "unused")
    return load_settings(env_file=None, **overrides)


def start_gateway(database_url: str, simulator_url: str, **overrides: Any) -> ServerThread:
    from gateway.app import create_app

    overrides.setdefault("disconnect_grace", 0.3)
    return ServerThread.for_app(
        lambda port: create_app(
            make_settings(
                database_url=database_url, port=port, simulator_url=simulator_url, **overrides
            )
        )
    ).start()
