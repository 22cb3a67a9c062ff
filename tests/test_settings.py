"""Settings: defaults, .env, per-provider prefixes, and one clear line for a bad value."""

from __future__ import annotations

import pytest

from gateway.settings import SettingsError, load_settings, provider_configs
from providers import PROVIDERS, SIMULATOR_KEY


def test_defaults(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    settings = load_settings(env_file=None)
    assert (settings.host, settings.port, settings.database_url) == ("127.0.0.1", 8000, None)


def test_invalid_setting_names_the_variable(monkeypatch):
    monkeypatch.setenv("PORT", "eighty")
    with pytest.raises(SettingsError) as caught:
        load_settings(env_file=None)
    message = str(caught.value)
    assert message.startswith("invalid setting PORT:") and "\n" not in message


def test_invalid_database_url(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        load_settings(env_file=None)


def test_invalid_provider_setting_names_the_prefixed_variable(monkeypatch):
    monkeypatch.setenv("GROK_IDLE_TIMEOUT", "-3")
    with pytest.raises(SettingsError, match="invalid setting GROK_IDLE_TIMEOUT"):
        provider_configs(load_settings(env_file=None), "http://sim")


def test_env_file_and_provider_prefixes(tmp_path, monkeypatch):
    env = tmp_path / ".env"
    env.write_text(
        "OPENAI_API_KEY=sk-test-123\nCHATGPT_MODEL=gpt-4o-mini\nCLAUDE_ENABLED=false\nPORT=9001\n"
    )
    settings = load_settings(env_file=str(env))
    assert settings.port == 9001
    configs = {c.name: c for c in provider_configs(settings, "http://sim:1")}
    assert "claude" not in configs
    chatgpt = configs["chatgpt"]
    assert (chatgpt.model, chatgpt.simulated, chatgpt.api_key) == (
        "gpt-4o-mini",
        False,
        "sk-test-123",
    )
    assert chatgpt.base_url == PROVIDERS["chatgpt"].base_url
    gemini = configs["gemini"]
    assert gemini.simulated and gemini.api_key == SIMULATOR_KEY
    assert gemini.base_url == "http://sim:1" + PROVIDERS["gemini"].simulator_prefix


def test_keys_do_not_show_in_repr(monkeypatch):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-secret-value")
    settings = load_settings(env_file=None)
    assert "sk-ant-secret-value" not in repr(settings)
    config = next(c for c in provider_configs(settings, "http://sim") if c.name == "claude")
    assert "sk-ant-secret-value" not in repr(config)


def test_cli_reports_bad_settings_in_one_line(monkeypatch, capsys):
    from gateway.cli import main

    monkeypatch.setenv("PORT", "not-a-port")
    monkeypatch.chdir("/")  # no .env here
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("multichat: invalid setting PORT") and "\n" not in err


def test_chatgpt_speaks_responses_unless_told_chat_completions(monkeypatch):
    from providers import make_adapter
    from providers.openai_chat import OpenAIChatAdapter
    from providers.openai_responses import OpenAIResponsesAdapter

    configs = {c.name: c for c in provider_configs(load_settings(env_file=None), "http://sim")}
    assert isinstance(make_adapter(configs["chatgpt"], None), OpenAIResponsesAdapter)
    monkeypatch.setenv("CHATGPT_WIRE", "openai_chat")
    configs = {c.name: c for c in provider_configs(load_settings(env_file=None), "http://sim")}
    assert isinstance(make_adapter(configs["chatgpt"], None), OpenAIChatAdapter)
    monkeypatch.setenv("GROK_WIRE", "openai_responses")
    with pytest.raises(
        SettingsError, match="invalid setting GROK_WIRE: must be one of openai_chat"
    ):
        load_settings(env_file=None)
