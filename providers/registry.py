"""The five providers: which wire format each speaks, where, and which key unlocks it."""

from __future__ import annotations

import dataclasses
import functools
import ssl
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from providers.base import Adapter, ProviderConfig
from providers.http1 import Http1Transport


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str  # the name in the API
    wire: str  # anthropic | openai_chat | gemini
    flavour: str  # the API within a wire format: openai, xai, perplexity, anthropic, gemini
    key_env: str
    base_url: str
    model: str
    simulator_prefix: str  # where the built-in simulator serves this API
    display_name: str  # the name people know it by, as the page shows it
    # How its models' names start: the price table's models that are this provider's.
    model_prefixes: tuple[str, ...] = ()


PROVIDERS: dict[str, ProviderSpec] = {
    spec.name: spec
    for spec in (
        ProviderSpec(
            "claude",
            "anthropic",
            "anthropic",
            "ANTHROPIC_API_KEY",
            "https://api.anthropic.com",
            "claude-sonnet-5",
            "/anthropic",
            display_name="Claude",
            model_prefixes=("claude-",),
        ),
        ProviderSpec(
            "chatgpt",
            "openai_chat",
            "openai",
            "OPENAI_API_KEY",
            "https://api.openai.com/v1",
            "gpt-5.5",
            "/openai/v1",
            display_name="ChatGPT",
            model_prefixes=("gpt-", "o1", "o3", "o4"),
        ),
        ProviderSpec(
            "gemini",
            "gemini",
            "gemini",
            "GOOGLE_API_KEY",
            "https://generativelanguage.googleapis.com",
            "gemini-3.5-flash",
            "/gemini",
            display_name="Gemini",
            model_prefixes=("gemini-",),
        ),
        ProviderSpec(
            "grok",
            "openai_chat",
            "xai",
            "XAI_API_KEY",
            "https://api.x.ai/v1",
            "grok-4.3",
            "/xai/v1",
            display_name="Grok",
            model_prefixes=("grok-",),
        ),
        ProviderSpec(
            "perplexity",
            "openai_chat",
            "perplexity",
            "PERPLEXITY_API_KEY",
            "https://api.perplexity.ai",
            "sonar-pro",
            "/perplexity",
            display_name="Perplexity",
            model_prefixes=("sonar",),
        ),
    )
}


def known_models(spec: ProviderSpec, default: str, priced: Iterable[str]) -> list[str]:
    """The models to offer by name: the configured default first, then the priced ones."""
    return [
        default,
        *sorted(m for m in priced if m.startswith(spec.model_prefixes) and m != default),
    ]


# The key the simulators accept; anything else gets that provider's real "bad key" error.
SIMULATOR_KEY = "simulated-key"


def adapter_class(wire: str) -> type[Adapter]:
    # Imported here so that importing the registry stays cheap and free of cycles.
    if wire == "anthropic":
        from providers.anthropic import AnthropicAdapter

        return AnthropicAdapter
    if wire == "gemini":
        from providers.gemini import GeminiAdapter

        return GeminiAdapter
    if wire == "openai_chat":
        from providers.openai_chat import OpenAIChatAdapter

        return OpenAIChatAdapter
    raise ValueError(f"unknown wire format {wire!r}")


def make_adapter(config: ProviderConfig, client: httpx.AsyncClient) -> Adapter:
    spec = PROVIDERS[config.name]
    if config.flavour is None:
        config = dataclasses.replace(config, flavour=spec.flavour)
    return adapter_class(spec.wire)(config, client)


@functools.cache
def shared_ssl_context() -> ssl.SSLContext:
    """One for every provider's client: each context holds its own copy of the CA bundle
    (about 0.7 MB), and they are all the same."""
    return httpx.create_ssl_context(trust_env=False)


def make_client(max_streams: int = 10_000) -> httpx.AsyncClient:
    """One long-lived client per provider, sized for every stream the gateway may hold open.

    Each open upstream stream holds one HTTP/1.1 connection for its whole life, so the pool
    must be as large as the peak number of concurrent streams (httpx defaults to 100). Its
    bookkeeping is O(1) per request (providers/http1.py), whatever that number.
    """
    limits = httpx.Limits(
        max_connections=max_streams,
        max_keepalive_connections=min(max_streams, 1_000),
        keepalive_expiry=30.0,
    )
    return httpx.AsyncClient(
        transport=Http1Transport(limits, ssl_context=shared_ssl_context()),
        timeout=httpx.Timeout(30.0),
        follow_redirects=False,
        trust_env=False,
    )
