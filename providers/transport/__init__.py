"""How the providers' clients reach their hosts: our own HTTP/1.1 transport under httpx.

Offers:

* ``Http1Transport``: the httpx transport (asyncio protocol + httptools, O(1) pool), direct
  or through an HTTP proxy (CONNECT tunnel, TLS inside);
* ``body_reader`` and ``Reader``: a response body as one plain coroutine per socket read;
* ``Network`` and ``network_for``: one provider's proxy, CAs, client certificate and transport,
  resolved from its own settings and the standard variables (``HTTPS_PROXY`` ...,
  ``NO_PROXY``, ``SSL_CERT_FILE``, ``SSL_CERT_DIR``); ``NetworkSettingError`` when unusable;
* ``Proxy``, ``NoProxy``, ``EnvironmentProxies``: proxy URLs and the proxy variables;
* ``client_context``: the shared TLS context for a set of CA and certificate files.

The modules: ``connection`` (one HTTP/1.1 exchange), ``pool`` (the transport), ``tunnel``
(CONNECT), ``proxy``, ``tls``, ``network``. docs/networks.md says why the transport is ours.
"""

from providers.transport.connection import Body, Reader, body_reader
from providers.transport.network import Network, NetworkSettingError, network_for
from providers.transport.pool import Http1Transport
from providers.transport.proxy import EnvironmentProxies, NoProxy, Proxy, ProxyURLError
from providers.transport.tls import client_context

__all__ = [
    "Body",
    "EnvironmentProxies",
    "Http1Transport",
    "Network",
    "NetworkSettingError",
    "NoProxy",
    "Proxy",
    "ProxyURLError",
    "Reader",
    "body_reader",
    "client_context",
    "network_for",
]
