"""Wire formats only: each provider's native streaming API, behind one small interface.

What this package offers (import from here, not from the modules):

* ``Adapter`` and the events it yields: ``str`` text, ``Started``, ``Finish``, ``Usage``,
  ``Citations``; failures are raised as ``ProviderError``.
* ``Message``, the thread an adapter is given; ``ProviderConfig``, everything one call needs;
  ``Provider``, a configured provider (config, adapter, passive health).
* ``PROVIDERS`` (the registry: wire format, flavour, key variable, default model of each),
  ``known_models`` (a provider's models to offer by name),
  ``make_adapter`` and ``make_client``; ``SIMULATOR_KEY``, the key the simulators accept.
* ``PriceTable`` and ``Price`` (``prices``): what each model's tokens cost, shipped as
  ``prices.json`` and overridable by a file; ``estimate_tokens`` where no usage was reported.
* ``SSEDecoder``, the one server-sent-events decoder; ``SSEFieldDecoder``, the same decoder
  also reporting ids, ``retry:`` and comments (the gateway's tools and tests read its streams
  with it).

The simulators live in ``providers.simulators``. This package never imports ``gateway``.
"""

from providers.base import (
    Adapter,
    Citations,
    Event,
    Finish,
    Message,
    Provider,
    ProviderConfig,
    ProviderError,
    Started,
    Status,
    UpstreamRequest,
    Usage,
)
from providers.prices import Price, PriceFileError, PriceTable, estimate_tokens
from providers.registry import (
    PROVIDERS,
    SIMULATOR_KEY,
    ProviderSpec,
    known_models,
    make_adapter,
    make_client,
)
from providers.sse import SSEDecoder, SSEEvent, SSEFieldDecoder, SSEFields

__all__ = [
    "PROVIDERS",
    "SIMULATOR_KEY",
    "Price",
    "PriceFileError",
    "PriceTable",
    "Adapter",
    "Citations",
    "Event",
    "Finish",
    "Message",
    "Provider",
    "ProviderConfig",
    "ProviderError",
    "ProviderSpec",
    "SSEDecoder",
    "SSEEvent",
    "SSEFieldDecoder",
    "SSEFields",
    "Started",
    "Status",
    "UpstreamRequest",
    "Usage",
    "estimate_tokens",
    "known_models",
    "make_adapter",
    "make_client",
]
