"""The five providers: which wire format each speaks, where, and which key unlocks it."""

from __future__ import annotations

import dataclasses
import ssl
from collections.abc import Iterable
from dataclasses import dataclass

import httpx

from providers.base import Adapter, ProviderConfig
from providers.transport import Http1Transport, Network


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    name: str  # the name in the API
    wire: str  # anthropic | openai_responses | openai_chat | gemini
    flavour: str  # the API within a wire format: openai, xai, perplexity, anthropic, gemini
    key_env: str
    base_url: str
    model: str
    simulator_prefix: str  # where the built-in simulator serves this API
    display_name: str  # the name people know it by, as the page shows it
    # How its models' names start: the price table's models that are this provider's.
    model_prefixes: tuple[str, ...] = ()
    # Other wire formats it can be told to speak (<NAME>_WIRE): ChatGPT's Chat Completions,
    # for servers that only have that.
    other_wires: tuple[str, ...] = ()

    @property
    def wires(self) -> tuple[str, ...]:
        return (self.wire, *self.other_wires)


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
            "openai_responses",
            "openai",
            "OPENAI_API_KEY",
            "https://api.openai.com/v1",
            "gpt-5.5",
            "/openai/v1",
            display_name="ChatGPT",
            other_wires=("openai_chat",),
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
    if wire == "openai_responses":
        from providers.openai_responses import OpenAIResponsesAdapter

        return OpenAIResponsesAdapter
    raise ValueError(f"unknown wire format {wire!r}")


def make_adapter(config: ProviderConfig, client: httpx.AsyncClient) -> Adapter:
    spec = PROVIDERS[config.name]
    wire = config.wire or spec.wire
    if wire not in spec.wires:
        raise ValueError(f"{config.name} speaks {' or '.join(spec.wires)}, not {wire}")
    if config.flavour is None or config.wire is None:
        config = dataclasses.replace(config, flavour=config.flavour or spec.flavour, wire=wire)
    return adapter_class(wire)(config, client)


def make_client(max_streams: int = 10_000, network: Network | None = None) -> httpx.AsyncClient:
    """One long-lived client per provider, sized for every stream the gateway may hold open,
    reaching its host as ``network`` says (direct by default, the public CAs).

    Each open upstream stream holds one HTTP/1.1 connection for its whole life, so the pool
    must be as large as the peak number of concurrent streams (httpx defaults to 100). Its
    bookkeeping is O(1) per request (providers/transport/pool.py), whatever that number.
    ``network.transport == "httpx"`` puts httpx's own transport (httpcore) under the client
    instead, with the same proxy and TLS settings: slower, for comparison or as a way out.
    """
    network = network or Network()
    limits = httpx.Limits(
        max_connections=max_streams,
        max_keepalive_connections=min(max_streams, 1_000),
        keepalive_expiry=30.0,
    )
    transport: httpx.AsyncBaseTransport
    if network.transport == "httpx":
        context = network.ssl_context(shared=False)  # httpcore sets its ALPN on it
        transport = httpx.AsyncHTTPTransport(
            verify=context, limits=limits, proxy=httpx_proxy(network, context)
        )
    else:
        # One context per distinct set of CA and certificate files, shared by the clients.
        transport = Http1Transport(limits, ssl_context=network.ssl_context(), proxy=network.proxy)
    return httpx.AsyncClient(
        transport=transport,
        timeout=httpx.Timeout(30.0),
        follow_redirects=False,
        trust_env=False,
    )


def httpx_proxy(network: Network, context: ssl.SSLContext) -> httpx.Proxy | None:
    proxy = network.proxy
    if proxy is None:
        return None
    auth = (proxy.username, proxy.password or "") if proxy.username is not None else None
    https = proxy.scheme == "https"  # the context for TLS to the proxy itself
    return httpx.Proxy(
        f"{proxy.scheme}://{proxy.display}", auth=auth, ssl_context=context if https else None
    )
