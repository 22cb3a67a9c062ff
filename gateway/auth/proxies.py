"""Whose forwarding headers to believe: ``TRUSTED_PROXIES``, and nobody's by default.

A request whose peer is one of the trusted proxies gets, from the headers that proxy set:

* its client address: the rightmost address of ``X-Forwarded-For`` (or ``Forwarded: for=``)
  that is not itself a trusted proxy, as a proxy appends the peer it saw;
* its scheme, from ``X-Forwarded-Proto`` (or ``proto=``): ``https`` behind a TLS proxy;
* its public host, from ``X-Forwarded-Host`` (or ``host=``), which replaces ``Host``.

``X-Forwarded-*`` win when present (the shipped nginx configurations set them); ``Forwarded``
is read only when there are none. For proto and host the proxy nearest to us speaks last, so
the rightmost value is taken. From any other peer these headers are ignored.

uvicorn's own proxy-header handling (which trusts 127.0.0.1 by default) is off in ``multichat
serve`` (``gateway.server.serve_config``): the two would disagree about who the client is.
A pure ASGI middleware: it rewrites the scope once, before anything reads it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
X_FORWARDED = (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host")
SCHEMES = {"http": "http", "https": "https", "ws": "http", "wss": "https"}


class TrustedProxies:
    def __init__(self, app: ASGIApp, trusted: Sequence[str]) -> None:
        self.app = app
        self.networks: tuple[Network, ...] = tuple(
            ipaddress.ip_network(entry, strict=False) for entry in trusted
        )

    def trusts(self, address: str | None) -> bool:
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.networks:
            peer = scope.get("client")
            if peer is not None and self.trusts(peer[0]):
                self.apply(scope)
        await self.app(scope, receive, send)

    def apply(self, scope: Scope) -> None:
        forwarded = read_forwarded(scope["headers"])
        if forwarded.addresses:
            scope["client"] = (self.client_of(forwarded.addresses, scope["client"][0]), 0)
        if forwarded.proto in SCHEMES:
            scope["scheme"] = SCHEMES[forwarded.proto]
        if forwarded.host:
            scope["headers"] = [
                *(h for h in scope["headers"] if h[0] != b"host"),
                (b"host", forwarded.host.encode("latin-1")),
            ]
        scope.setdefault("state", {})["via_trusted_proxy"] = True

    def client_of(self, addresses: list[str], peer: str) -> str:
        """The first address from the right that is not one of our proxies."""
        for address in reversed(addresses):
            if not self.trusts(address):
                return address
        return addresses[0] if addresses else peer


class Forwarded:
    __slots__ = ("addresses", "host", "proto")

    def __init__(self) -> None:
        self.addresses: list[str] = []
        self.proto: str | None = None
        self.host: str | None = None


def read_forwarded(headers: Sequence[tuple[bytes, bytes]]) -> Forwarded:
    found = Forwarded()
    values: dict[bytes, list[str]] = {}
    for name, value in headers:
        if name in X_FORWARDED or name == b"forwarded":
            values.setdefault(name, []).append(value.decode("latin-1"))
    if any(name in values for name in X_FORWARDED):
        found.addresses = [
            address_of(part) for line in values.get(b"x-forwarded-for", ()) for part in split(line)
        ]
        found.proto = last(values.get(b"x-forwarded-proto"))
        found.host = last(values.get(b"x-forwarded-host"))
    elif b"forwarded" in values:
        for element in (part for line in values[b"forwarded"] for part in split(line)):
            pairs = parse_pairs(element)
            if "for" in pairs:
                found.addresses.append(address_of(pairs["for"]))
            found.proto = pairs.get("proto", found.proto)
            found.host = pairs.get("host", found.host)
    found.addresses = [a for a in found.addresses if a]
    if found.proto is not None:
        found.proto = found.proto.lower()
    if found.host is not None and not plausible_host(found.host):
        found.host = None
    return found


def split(line: str) -> list[str]:
    return [part.strip() for part in line.split(",") if part.strip()]


def last(lines: list[str] | None) -> str | None:
    parts = [part for line in lines or () for part in split(line)]
    return parts[-1] if parts else None


def parse_pairs(element: str) -> dict[str, str]:
    """``for=192.0.2.60;proto=https;host="a.example"`` (RFC 7239), names lower-cased."""
    pairs = {}
    for pair in element.split(";"):
        name, _, value = pair.strip().partition("=")
        if name:
            pairs[name.strip().lower()] = value.strip().strip('"')
    return pairs


def address_of(node: str) -> str:
    """An address without its port or brackets (``[2001:db8::1]:4711`` → ``2001:db8::1``);
    an obfuscated or unknown node (RFC 7239 ``_hidden``, ``unknown``) as it is."""
    node = node.strip().strip('"')
    if node.startswith("["):
        return node[1 : node.find("]")] if "]" in node else node
    if node.count(":") == 1:
        return node.split(":", 1)[0]
    return node


def plausible_host(host: str) -> bool:
    return 0 < len(host) <= 255 and all(33 <= ord(c) < 127 for c in host) and "/" not in host
