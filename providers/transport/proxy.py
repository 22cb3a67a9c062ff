"""Which proxy a provider's requests go through: proxy URLs, NO_PROXY, and the environment.

The standard variables mean what they mean to curl, requests and httpx: ``HTTPS_PROXY`` for
https URLs, ``HTTP_PROXY`` for http ones, ``ALL_PROXY`` for either when its own is unset; the
lowercase spelling wins over the uppercase one, and ``HTTP_PROXY`` is ignored in a CGI request
(httpoxy). ``NO_PROXY`` lists hosts reached directly: ``*``, host names (matching their
subdomains too, with or without a leading dot or ``*.``), IP addresses and CIDR blocks, each
optionally with ``:port``. Names are never resolved to match a CIDR block (as in curl and Go).
Loopback (``localhost``, 127.0.0.0/8, ::1) is never reached through a proxy from the
environment (as in Go): the gateway's own simulators live there.

A proxy URL may carry credentials; ``Proxy`` keeps them out of its repr and of every message.
Only HTTP proxies (``http://`` and ``https://``, tunnelling with CONNECT) are supported; a
SOCKS URL is refused with a ``ProxyURLError`` that says so.
"""

from __future__ import annotations

import base64
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}
SOCKS = ("socks4", "socks4a", "socks5", "socks5h", "socks")
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class ProxyURLError(ValueError):
    """A proxy setting that cannot be used; ``variable`` names where it was set."""

    def __init__(self, message: str, variable: str = "") -> None:
        super().__init__(message)
        self.variable = variable


@dataclass(frozen=True, slots=True)
class Proxy:
    """An HTTP proxy: where it is, and the credentials to send it (never shown)."""

    scheme: str  # http | https (TLS to the proxy itself)
    host: str
    port: int
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    variable: str = ""  # the setting it came from: HTTPS_PROXY, CLAUDE_PROXY ...

    @classmethod
    def parse(cls, url: str, variable: str = "") -> Proxy:
        text = url.strip()
        if "://" not in text:
            text = "http://" + text  # "proxy:3128", as curl reads it
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            raise ProxyURLError("is not a valid proxy URL", variable) from None
        scheme = parts.scheme.lower()
        if scheme in SOCKS:
            raise ProxyURLError(
                f"{scheme}:// proxies are not supported: give an HTTP proxy (one that "
                "tunnels with CONNECT), or reach this provider directly (NO_PROXY)",
                variable,
            )
        if scheme not in DEFAULT_PORTS:
            raise ProxyURLError(f"unsupported proxy scheme {scheme!r} (http or https)", variable)
        if not parts.hostname:
            raise ProxyURLError("is a proxy URL without a host", variable)
        return cls(
            scheme=scheme,
            host=parts.hostname,
            port=port or DEFAULT_PORTS[scheme],
            username=unquote(parts.username) if parts.username is not None else None,
            password=unquote(parts.password) if parts.password is not None else None,
            variable=variable,
        )

    @property
    def display(self) -> str:
        """host:port, for logs and errors: never the credentials."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def authorization(self) -> bytes | None:
        """The Proxy-Authorization value (Basic), when the URL carried credentials."""
        if self.username is None:
            return None
        pair = f"{self.username}:{self.password or ''}".encode()
        return b"Basic " + base64.b64encode(pair)

    def scrub(self, text: str) -> str:
        """``text`` without the credentials, in case a library echoed them."""
        for secret in (self.password, self.username):
            if secret and len(secret) >= 3:
                text = text.replace(secret, "***")
        return text

    def __repr__(self) -> str:
        return f"Proxy({self.scheme}://{self.display})"


@dataclass(frozen=True, slots=True)
class NoProxy:
    """The hosts of ``NO_PROXY``, each with an optional port."""

    everything: bool = False
    names: tuple[tuple[str, int | None], ...] = ()  # suffixes, lowercase, no leading dot
    networks: tuple[tuple[IPNetwork, int | None], ...] = ()

    @classmethod
    def parse(cls, value: str) -> NoProxy:
        names: list[tuple[str, int | None]] = []
        networks: list[tuple[IPNetwork, int | None]] = []
        for raw in value.split(","):
            entry = raw.strip().lower()
            if not entry:
                continue
            if entry == "*":
                return cls(everything=True)
            host, port = _split_port(entry)
            try:
                networks.append((ipaddress.ip_network(host, strict=False), port))
            except ValueError:
                names.append((host.removeprefix("*").lstrip("."), port))
        return cls(False, tuple(names), tuple(networks))

    def matches(self, host: str, port: int) -> bool:
        if self.everything:
            return True
        host = host.lower().strip("[]").rstrip(".")
        address = _ip(host)
        if address is not None:
            return any(
                address in network and wanted in (None, port) for network, wanted in self.networks
            )
        return any(
            (host == name or host.endswith("." + name)) and wanted in (None, port)
            for name, wanted in self.names
        )


def _split_port(entry: str) -> tuple[str, int | None]:
    """ "host:port", "[v6]:port", "v6" (no port: more than one colon), "10.0.0.0/8"."""
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, _port(rest.removeprefix(":"))
    if entry.count(":") == 1:
        host, _, port = entry.partition(":")
        return host, _port(port)
    return entry, None


def _port(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def is_loopback(host: str) -> bool:
    host = host.lower().strip("[]").rstrip(".")
    if host == "localhost" or host.endswith(".localhost"):
        return True
    address = _ip(host)
    return address is not None and address.is_loopback


@dataclass(frozen=True, slots=True)
class EnvironmentProxies:
    """The proxy variables of one environment, read once; each URL parsed when chosen, so that
    a SOCKS ``ALL_PROXY`` that no provider uses (NO_PROXY) stops nothing."""

    https: tuple[str, str] | None = None  # (url, the variable that set it)
    http: tuple[str, str] | None = None
    no_proxy: NoProxy = NoProxy()

    @classmethod
    def read(cls, environ: Mapping[str, str]) -> EnvironmentProxies:
        every = _variable(environ, "all")
        cgi = "REQUEST_METHOD" in environ  # httpoxy: a CGI request's Proxy header lands here
        no_proxy = _variable(environ, "no")
        return cls(
            https=_variable(environ, "https") or every,
            http=_variable(environ, "http", lowercase_only=cgi) or every,
            no_proxy=NoProxy.parse(no_proxy[0]) if no_proxy else NoProxy(),
        )

    def for_url(self, scheme: str, host: str, port: int) -> Proxy | None:
        """The proxy for a request to scheme://host:port, or None for a direct connection.
        Raises ProxyURLError (naming the variable) for a proxy that cannot be used."""
        chosen = self.https if scheme == "https" else self.http
        if chosen is None or is_loopback(host) or self.no_proxy.matches(host, port):
            return None
        return Proxy.parse(*chosen)


def _variable(
    environ: Mapping[str, str], name: str, lowercase_only: bool = False
) -> tuple[str, str] | None:
    for variable in (f"{name}_proxy", f"{name.upper()}_PROXY"):
        if lowercase_only and variable.isupper():
            continue
        value = environ.get(variable, "").strip()
        if value:
            return value, variable
    return None
