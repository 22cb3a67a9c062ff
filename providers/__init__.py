"""Wire formats only: each provider's native streaming API, behind one small interface.

What this package offers (import from here, not from the modules):

* ``Adapter`` and the events it yields (chunks.py): ``str`` answer text, ``Thinking``
  (reasoning text), ``Started``, ``Finish``, ``Usage`` (with reasoning tokens), ``Citations``,
  ``Echo`` (what to send back on a later turn), ``Ignored`` (a setting the model was not
  given); failures are raised as ``ProviderError``.
* ``Message`` (with its ``Image``s), the thread an adapter is given, and ``CallSettings``, one
  call's system prompt, temperature, output limit and reasoning level (messages.py);
  ``ProviderConfig``, everything one provider needs; ``Provider``, a configured provider
  (config, adapter, passive health).
* ``PROVIDERS`` (the registry: wire format, flavour, key variable, default model of each),
  ``known_models`` (a provider's models to offer by name),
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
    CallSettings,
    Citations,
    Echo,
    Event,
    Finish,
    Ignored,
    Image,
    Message,
    Provider,
    ProviderConfig,
    ProviderError,
    Started,
    Status,
    Thinking,
    UpstreamRequest,
    Usage,
)
from providers.messages import IMAGE_TYPES, REASONING_LEVELS, Reasoning
from providers.models import InvalidModel, check_model
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
    "IMAGE_TYPES",
    "PROVIDERS",
    "REASONING_LEVELS",
    "SIMULATOR_KEY",
    "Price",
    "PriceFileError",
    "PriceTable",
    "Adapter",
    "CallSettings",
    "Citations",
    "Echo",
    "Event",
    "Finish",
    "InvalidModel",
    "Ignored",
    "Image",
    "Message",
    "Provider",
    "ProviderConfig",
    "ProviderError",
    "ProviderSpec",
    "Reasoning",
    "SSEDecoder",
    "SSEEvent",
    "SSEFieldDecoder",
    "SSEFields",
    "Started",
    "Status",
    "Thinking",
    "UpstreamRequest",
    "Usage",
    "check_model",
    "estimate_tokens",
    "known_models",
    "make_adapter",
    "make_client",
]
