"""Settings from the environment and an optional ``.env`` file.

Top-level settings are flat (``DATABASE_URL``, ``PORT``); each provider reads its own prefix
(``CLAUDE_MODEL``, ``GROK_BASE_URL``, ``GEMINI_IDLE_TIMEOUT`` ...). Keys use the providers' own
variable names (``ANTHROPIC_API_KEY`` ...). Invalid settings stop start-up with one line that
names the variable.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, PrivateAttr, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from providers import PROVIDERS, SIMULATOR_KEY, PriceTable, ProviderConfig
from providers.models import RULE as MODEL_RULE
from providers.models import is_model_name
from providers.transport import NetworkSettingError, network_for

ENV_FILE = ".env"
MIN_ENVIRONMENT_KEY_CHARS = 32
_COMMON = SettingsConfigDict(env_file=ENV_FILE, env_file_encoding="utf-8", extra="ignore")


class SettingsError(Exception):
    """One clear line about one bad setting."""


class ProviderSettings(BaseSettings):
    """Per-provider settings, read with the provider's prefix (``CLAUDE_`` ...)."""

    model_config = _COMMON

    base_url: str | None = None
    model: str | None = None
    # The wire format, where the provider speaks more than one (CHATGPT_WIRE=openai_chat for a
    # server with Chat Completions only; the default is the Responses API).
    wire: str | None = None
    system_prompt: str | None = None
    max_tokens: int | None = Field(default=1024, ge=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    connect_timeout: float = Field(default=10.0, gt=0)
    first_token_timeout: float = Field(default=60.0, gt=0)
    idle_timeout: float = Field(default=30.0, gt=0)
    max_attempts: int = Field(default=3, ge=1, le=10)
    enabled: bool = True
    # The models clients may pin (comma-separated); empty: any name of the model grammar.
    models: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("models", mode="before")
    @classmethod
    def _model_list(cls, value: object) -> object:
        names = comma_separated(value)
        for name in names if isinstance(names, list) else ():
            if not is_model_name(name):
                raise ValueError(f"{name!r}: {MODEL_RULE}")
        return names

    # Network (docs/networks.md), each over the standard variable it overrides: a proxy URL
    # (over HTTPS_PROXY ... and NO_PROXY), a CA file or directory (over SSL_CERT_FILE and
    # SSL_CERT_DIR), a client certificate and key (mutual TLS), and the transport (httpx's own
    # instead of ours: slower; for comparison, or as a way out).
    proxy: SecretStr | None = None  # it may carry credentials
    ca_bundle: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    transport: Literal["own", "httpx"] = "own"


class Settings(BaseSettings):
    model_config = _COMMON

    database_url: str | None = None
    data_dir: Path = Path(".data")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    log_level: str = "info"

    anthropic_api_key: SecretStr | None = None
    openai_api_key: SecretStr | None = None
    google_api_key: SecretStr | None = None
    xai_api_key: SecretStr | None = None
    perplexity_api_key: SecretStr | None = None

    # Where simulated providers are served: unset = by a simulator inside this process.
    simulator_url: str | None = None

    # The live event bus across workers and hosts; unset: one process, memory only.
    redis_url: str | None = None
    redis_stream_retention: float = Field(default=300.0, gt=0)  # a finished turn's stream
    # A running turn's lease: another gateway marks it interrupted this long after its
    # owner stops renewing it (it renews every third of it).
    turn_lease: float = Field(default=30.0, ge=1)
    # With Redis, the fast path: a process that has not beaten its heartbeat for this long is
    # dead, and another one finishes its turns at once (it beats every quarter of it).
    redis_heartbeat: float = Field(default=2.0, ge=0.5)

    db_pool_min: int = Field(default=2, ge=1)
    db_pool_max: int = Field(default=10, ge=1)
    db_command_timeout: float = Field(default=10.0, gt=0)
    # How long GET /health waits for a connection and `SELECT 1` before answering 503.
    db_health_timeout: float = Field(default=1.0, gt=0)
    # At start-up, how long an unreachable DATABASE_URL is retried before giving up.
    database_wait: float = Field(default=30.0, ge=0)

    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    # Images: the largest upload (POST /uploads), and how many a prompt may attach.
    max_upload_bytes: int = Field(default=20_000_000, ge=1024)
    max_attachments: int = Field(default=10, ge=0, le=100)
    max_prompt_chars: int = Field(default=100_000, ge=1)
    max_concurrent_turns: int = Field(default=2_000, ge=1)
    # on: every API call needs credentials, whatever the client's address ("auto" is the old
    # name of it); off: never authenticate (only behind an authenticating proxy of your own;
    # said loudly at start).
    auth: Literal["on", "auto", "off"] = "on"
    # A key accepted like a created admin key, for scripts, compose files and load tests.
    multichat_key: SecretStr | None = None
    # Host names the gateway answers to besides loopback and HOST ("*": any), or whole
    # origins (https://chat.example.com:8443) that browsers may send requests from; commas.
    allowed_hosts: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Where people open the page (https://chat.example.com): its origin is always allowed,
    # and it is the address printed at start.
    public_url: str | None = None
    # Addresses or networks (CIDR) of the proxies whose X-Forwarded-* and Forwarded headers
    # are believed; empty: nobody's.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Origins of browser clients on other sites (CORS, and state-changing requests); commas.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    session_ttl: float = Field(default=7 * 24 * 3600.0, gt=0)  # the page's sign-in cookie
    events_token_ttl: float = Field(default=600.0, gt=0)  # the token in a turn's events_url
    # Per client key (not in open mode); 0 means no limit.
    key_turns_per_minute: int = Field(default=60, ge=0)
    key_max_concurrent_turns: int = Field(default=10, ge=0)
    context_budget_chars: int = Field(default=60_000, ge=100)
    # Prices per model beyond (or instead of) the shipped table (providers/prices.json).
    prices_file: Path | None = None
    # USD: a turn's running legs are cancelled once its estimated cost passes this.
    max_turn_cost: float | None = Field(default=None, gt=0)

    disconnect_grace: float = Field(default=5.0, ge=0)
    # A turn started by POST /turns waits this long for its first EventSource before it stops.
    first_listener_timeout: float = Field(default=15.0, gt=0)
    # How often running answers' text is stored, so that a crash loses at most this much.
    checkpoint_interval: float = Field(default=2.0, ge=0)
    # On SIGTERM, how long running answers have to be stored and their listeners told.
    shutdown_grace: float = Field(default=5.0, gt=0)
    # A connection that has not sent a whole request head within this many seconds is closed.
    header_timeout: float = Field(default=5.0, gt=0)
    # A request head (request line and headers) larger than this is answered 431.
    max_head_bytes: int = Field(default=65_536, ge=4096)
    # A request body must arrive whole within this many seconds of its head, or the
    # connection is closed.
    body_timeout: float = Field(default=15.0, gt=0)
    replay_retention: float = Field(default=300.0, ge=0)
    ping_interval: float = Field(default=15.0, gt=0)
    retry_ms: int = Field(default=2_000, ge=0)
    send_timeout: float = Field(default=15.0, gt=0)
    listener_buffer_bytes: int = Field(default=4_000_000, ge=1024)
    # What all listeners of a process may hold together; past it, slow readers are dropped.
    listener_buffer_total: int = Field(default=256_000_000, ge=1_000_000)

    writer_batch: int = Field(default=200, ge=1)
    writer_queue: int = Field(default=10_000, ge=1)

    # Observability: GET /metrics and its hooks (off: neither), a bearer token that opens
    # /metrics only (for scrapers without a client key), and the log format.
    metrics: Literal["on", "off"] = "on"
    metrics_token: SecretStr | None = None
    log_format: Literal["text", "json"] = "text"

    # The .env file these settings came from, so provider settings read the same one.
    _env_file: str | None = PrivateAttr(default=ENV_FILE)

    @field_validator("allowed_hosts", "cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        return comma_separated(value)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        value = comma_separated(value)
        for entry in value if isinstance(value, list) else ():
            ipaddress.ip_network(entry, strict=False)  # a ValueError names the bad entry
        return value

    @field_validator("public_url")
    @classmethod
    def _origin_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parts = urlsplit(value.strip())
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be the page's address, like https://chat.example.com")
        return value.strip().rstrip("/")

    @field_validator("multichat_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        key = value.get_secret_value().strip()
        if len(key) < MIN_ENVIRONMENT_KEY_CHARS or not key.isprintable() or " " in key:
            raise ValueError(
                f"must be at least {MIN_ENVIRONMENT_KEY_CHARS} printable characters, no spaces"
                " (e.g. the output of `openssl rand -hex 32`)"
            )
        return SecretStr(key)

    @field_validator("prices_file")
    @classmethod
    def _readable_prices(cls, value: Path | None) -> Path | None:
        if value is not None and str(value).strip():
            PriceTable.load(value)  # a PriceFileError is a ValueError: one line at start-up
            return value
        return None

    def price_table(self) -> PriceTable:
        return PriceTable.load(self.prices_file)

    @field_validator("database_url")
    @classmethod
    def _postgres_url(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        if not value.startswith(("postgres://", "postgresql://")):
            raise ValueError("must start with postgresql://")
        return value

    def api_key(self, name: str) -> str | None:
        secret: SecretStr | None = getattr(self, PROVIDERS[name].key_env.lower())
        value = secret.get_secret_value().strip() if secret else ""
        return value or None


def comma_separated(value: object) -> object:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def load_settings(env_file: str | None = ENV_FILE, **overrides: Any) -> Settings:
    """Read settings, turning pydantic's report into one line naming the variable."""
    try:
        settings = Settings(_env_file=env_file, **overrides)
    except ValidationError as error:
        raise SettingsError(_one_line(error, prefix="")) from None
    settings._env_file = env_file
    # A bad CLAUDE_TEMPERATURE, proxy or CA file stops start-up here, before anything.
    provider_configs(settings, settings.simulator_url or "http://127.0.0.1")
    return settings


def provider_settings(settings: Settings) -> dict[str, ProviderSettings]:
    """Each provider's own settings, read with its prefix; raises SettingsError."""
    own = {}
    for name in PROVIDERS:
        prefix = f"{name.upper()}_"
        try:
            own[name] = ProviderSettings(_env_prefix=prefix, _env_file=settings._env_file)
        except ValidationError as error:
            raise SettingsError(_one_line(error, prefix=prefix)) from None
        wires = PROVIDERS[name].wires
        if own[name].wire is not None and own[name].wire not in wires:
            raise SettingsError(f"invalid setting {prefix}WIRE: must be one of {', '.join(wires)}")
    return own


def provider_configs(
    settings: Settings, simulator_root: str, environ: Mapping[str, str] | None = None
) -> list[ProviderConfig]:
    """One config per enabled provider; those without a key point at the simulator. Proxies
    and CAs come from each provider's settings, then from ``environ``'s standard variables
    (HTTPS_PROXY, NO_PROXY, SSL_CERT_FILE ...; the process environment by default)."""
    configs = []
    simulator_root = simulator_root.rstrip("/")
    environ = os.environ if environ is None else environ
    for name, own in provider_settings(settings).items():
        spec = PROVIDERS[name]
        if not own.enabled:
            continue
        key = settings.api_key(name)
        simulated = key is None
        base_url = (
            own.base_url or (simulator_root + spec.simulator_prefix if simulated else spec.base_url)
        ).rstrip("/")
        try:
            network = network_for(
                base_url,
                environ,
                prefix=f"{name.upper()}_",
                proxy=own.proxy.get_secret_value() if own.proxy else None,
                ca_bundle=own.ca_bundle,
                client_cert=own.client_cert,
                client_key=own.client_key,
                transport=own.transport,
            )
        except NetworkSettingError as error:
            variable = error.variable
            if not variable.startswith(f"{name.upper()}_"):
                variable += f" (used for {name})"  # a standard variable: say where it bit
            raise SettingsError(f"invalid setting {variable}: {error.reason}") from None
        configs.append(
            ProviderConfig(
                name=name,
                base_url=base_url,
                model=own.model or spec.model,
                flavour=spec.flavour,
                wire=own.wire,
                api_key=key or SIMULATOR_KEY,
                simulated=simulated,
                system_prompt=own.system_prompt,
                max_tokens=own.max_tokens,
                temperature=own.temperature,
                connect_timeout=own.connect_timeout,
                first_token_timeout=own.first_token_timeout,
                idle_timeout=own.idle_timeout,
                max_attempts=own.max_attempts,
                models=tuple(own.models),
                network=network,
            )
        )
    return configs


def _one_line(error: ValidationError, prefix: str) -> str:
    first = error.errors()[0]
    field = "_".join(str(part) for part in first["loc"]) or "settings"
    return f"invalid setting {prefix}{field.upper()}: {first['msg']}"
