"""One provider's network settings, resolved once at start-up: direct or through which proxy,
which CAs to trust, which client certificate to present, and which transport to use.

``network_for`` applies the precedence: a provider's own setting (``CLAUDE_PROXY``,
``CLAUDE_CA_BUNDLE`` ...) over the standard variables (``HTTPS_PROXY`` and the rest, with
``NO_PROXY``; ``SSL_CERT_FILE``, ``SSL_CERT_DIR``) over the defaults (direct, the public CAs).
The proxy is chosen for the provider's base URL: its client talks to that host only.
"""

from __future__ import annotations

import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from providers.transport.proxy import DEFAULT_PORTS, EnvironmentProxies, Proxy, is_loopback
from providers.transport.tls import client_context, new_client_context

TransportName = Literal["own", "httpx"]


class NetworkSettingError(ValueError):
    """A network setting that cannot be used: ``variable`` names it, the message says why."""

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable
        self.reason = message


@dataclass(frozen=True, slots=True)
class Network:
    proxy: Proxy | None = None
    # Why there is no proxy, for the start-up line: "" (none set), "NO_PROXY", "loopback".
    direct_because: str = ""
    ca_file: str | None = None  # trusted instead of the public CAs
    ca_dir: str | None = None
    ca_variable: str = ""  # where the CAs came from: SSL_CERT_FILE, CLAUDE_CA_BUNDLE ...
    client_cert: str | None = None
    client_key: str | None = None
    transport: TransportName = "own"

    def ssl_context(self, shared: bool = True) -> ssl.SSLContext:
        """The TLS context of these files: the one every client with the same files shares,
        or (``shared=False``) a context of its own."""
        make = client_context if shared else new_client_context
        return make(self.ca_file, self.ca_dir, self.client_cert, self.client_key)

    def describe(self) -> str:
        """How the provider is reached, for the start-up log: never a credential."""
        if self.proxy is not None:
            route = f"through the proxy {self.proxy.display} ({self.proxy.variable})"
        else:
            route = f"direct ({self.direct_because})" if self.direct_because else "direct"
        extras = []
        if self.ca_variable:
            extras.append(f"CAs from {self.ca_variable}")
        if self.client_cert:
            extras.append("client certificate")
        if self.transport != "own":
            extras.append(f"{self.transport} transport")
        return route + "".join(f", {extra}" for extra in extras)

    def scrub(self, text: str) -> str:
        return self.proxy.scrub(text) if self.proxy is not None else text


def network_for(
    base_url: str,
    environ: Mapping[str, str],
    *,
    prefix: str = "",
    proxy: str | None = None,
    ca_bundle: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
    transport: TransportName = "own",
) -> Network:
    """The network of a provider at ``base_url``; its own settings (read with ``prefix``,
    e.g. ``CLAUDE_``) win over ``environ``'s standard variables. Raises NetworkSettingError."""
    parts = urlsplit(base_url)
    host = parts.hostname or ""
    port = parts.port or DEFAULT_PORTS.get(parts.scheme, 80)
    chosen: Proxy | None
    direct_because = ""
    try:
        if proxy and proxy.strip():
            chosen = Proxy.parse(proxy, f"{prefix}PROXY")
        else:
            proxies = EnvironmentProxies.read(environ)
            chosen = proxies.for_url(parts.scheme, host, port)
            if chosen is None and (proxies.https if parts.scheme == "https" else proxies.http):
                direct_because = "loopback" if is_loopback(host) else "NO_PROXY"
    except ValueError as error:
        raise NetworkSettingError(getattr(error, "variable", "") or "proxy", str(error)) from None
    if client_key and not client_cert:
        raise NetworkSettingError(f"{prefix}CLIENT_KEY", f"needs {prefix}CLIENT_CERT as well")
    ca_file, ca_dir, ca_variable = _certificate_authorities(environ, prefix, ca_bundle)
    network = Network(
        proxy=chosen,
        direct_because=direct_because,
        ca_file=ca_file,
        ca_dir=ca_dir,
        ca_variable=ca_variable,
        client_cert=client_cert or None,
        client_key=client_key or None,
        transport=transport,
    )
    try:
        network.ssl_context()  # a file that cannot be used stops start-up, not the first call
    except ValueError as error:
        variable = f"{prefix}CLIENT_CERT" if "client certificate" in str(error) else ca_variable
        raise NetworkSettingError(variable, str(error)) from None
    return network


def _certificate_authorities(
    environ: Mapping[str, str], prefix: str, ca_bundle: str | None
) -> tuple[str | None, str | None, str]:
    if ca_bundle and ca_bundle.strip():
        path = ca_bundle.strip()
        if os.path.isdir(path):  # a hashed directory, like SSL_CERT_DIR
            return None, path, f"{prefix}CA_BUNDLE"
        return path, None, f"{prefix}CA_BUNDLE"
    ca_file = environ.get("SSL_CERT_FILE", "").strip() or None
    ca_dir = environ.get("SSL_CERT_DIR", "").strip() or None
    names = [
        name for name, value in (("SSL_CERT_FILE", ca_file), ("SSL_CERT_DIR", ca_dir)) if value
    ]
    return ca_file, ca_dir, " and ".join(names)
