"""A CONNECT tunnel through an HTTP proxy, with TLS to the origin inside it.

The proxy is reached over TCP (or TLS, for an ``https://`` proxy), asked to ``CONNECT
host:port`` with the credentials of its URL (Basic), and its answer read. On 2xx the origin's
TLS handshake runs inside the tunnel (``loop.start_tls``; TLS in TLS for an https proxy) and
the connection's protocol gets the TLS transport. Any other answer is a ``ProxyFailure`` whose
message names the proxy (host:port, never the credentials), the origin and the proxy's status.
"""

from __future__ import annotations

import asyncio
import ssl

from providers.transport.proxy import Proxy
from providers.transport.tls import handshake_failure

MAX_HEAD = 65_536  # bytes of a proxy's answer head; a longer one is not a proxy's


class ProxyFailure(Exception):
    """The proxy could not be used, or would not open the tunnel; the message says which."""


class Handshake(asyncio.Protocol):
    """Reads the proxy's answer to CONNECT: its head, and whatever came after it."""

    def __init__(self) -> None:
        self.received = bytearray()
        self.answer: asyncio.Future[tuple[bytes, bytes]] = (
            asyncio.get_running_loop().create_future()
        )

    def data_received(self, data: bytes) -> None:
        if self.answer.done():
            return
        self.received += data
        end = self.received.find(b"\r\n\r\n")
        if end >= 0:
            self.answer.set_result((bytes(self.received[:end]), bytes(self.received[end + 4 :])))
        elif len(self.received) > MAX_HEAD:
            self.answer.set_exception(ProxyFailure("the proxy's answer to CONNECT is too long"))

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.answer.done():
            self.answer.set_exception(
                ProxyFailure("the proxy closed the connection instead of answering CONNECT")
            )


async def open_tunnel(
    proxy: Proxy,
    host: str,
    port: int,
    context: ssl.SSLContext,
    protocol: asyncio.BaseProtocol,
) -> asyncio.Transport:
    """The TLS transport to host:port through ``proxy``, speaking to ``protocol``."""
    loop = asyncio.get_running_loop()
    secure = proxy.scheme == "https"
    try:
        transport, handshake = await loop.create_connection(
            Handshake,
            proxy.host,
            proxy.port,
            ssl=context if secure else None,
            server_hostname=proxy.host if secure else None,
        )
    except ssl.SSLError as error:
        raise ProxyFailure(handshake_failure(error, f"the proxy {proxy.display}")) from None
    try:
        transport.write(connect_request(proxy, host, port))
        try:
            head, rest = await handshake.answer
        except ProxyFailure as error:
            raise ProxyFailure(f"{error} (the proxy {proxy.display})") from None
        status, reason = status_line(head, proxy)
        if not 200 <= status < 300:
            raise ProxyFailure(refusal(proxy, f"{host}:{port}", status, reason))
        if rest:
            raise ProxyFailure(f"the proxy {proxy.display} sent bytes before the TLS handshake")
        tls = await loop.start_tls(transport, protocol, context, server_hostname=host)
    except BaseException:
        transport.close()
        raise
    assert tls is not None
    return tls


def connect_request(proxy: Proxy, host: str, port: int) -> bytes:
    authority = (f"[{host}]" if ":" in host else host).encode("ascii") + b":%d" % port
    lines = [b"CONNECT %s HTTP/1.1" % authority, b"Host: %s" % authority]
    authorization = proxy.authorization()
    if authorization is not None:
        lines.append(b"Proxy-Authorization: %s" % authorization)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def status_line(head: bytes, proxy: Proxy) -> tuple[int, str]:
    parts = head.split(b"\r\n", 1)[0].split(b" ", 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
        raise ProxyFailure(f"the proxy {proxy.display} did not answer CONNECT in HTTP")
    reason = parts[2].decode("latin-1") if len(parts) > 2 else ""
    return int(parts[1]), "".join(c for c in reason if c.isprintable()).strip()[:80]


def refusal(proxy: Proxy, origin: str, status: int, reason: str) -> str:
    answer = f"{status} {reason}".strip()
    if status in (401, 407):  # 407 by the standard; tinyproxy says 401 to wrong credentials
        if proxy.username is None:
            return (
                f"the proxy {proxy.display} requires authentication ({answer}); give the "
                "credentials in the proxy URL (http://user:password@host:port)"
            )
        return f"the proxy {proxy.display} rejected the credentials in its URL ({answer})"
    return f"the proxy {proxy.display} would not open a tunnel to {origin} ({answer})"
