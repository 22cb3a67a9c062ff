"""Wire formats only: each provider's native streaming API, behind one small interface.

What this package offers (import from here, not from the modules):

* ``Adapter`` and the events it yields: ``str`` text, ``Started``, ``Finish``, ``Usage``,
  ``Citations``; failures are raised as ``ProviderError``.
* ``Message``, the thread an adapter is given; ``ProviderConfig``, everything one call needs;
  ``Provider``, a configured provider (config, adapter, passive health).
* ``PROVIDERS`` (the registry: wire format, flavour, key variable, default model of each),
  ``make_adapter`` and ``make_client``; ``SIMULATOR_KEY``, the key the simulators accept.
* ``check_model`` and ``InvalidModel`` (``models``): the one grammar of a pinned model, and
  ``<PROVIDER>_MODELS``, checked before any upstream call.
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
from providers.models import InvalidModel, check_model
from providers.prices import Price, PriceFileError, PriceTable, estimate_tokens
from providers.registry import PROVIDERS, SIMULATOR_KEY, ProviderSpec, make_adapter, make_client
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
    "InvalidModel",
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
    "check_model",
    "estimate_tokens",
    "make_adapter",
    "make_client",
]
