"""Real parts for the network tests: certificates from a throwaway CA (trustme), TLS servers,
and two CONNECT proxies as processes of their own: Debian's tinyproxy (``.ci/run`` installs
it; without it those tests are skipped with a reason, and under CI=true that is a failure) and
``tests/support/connect_proxy.py`` (a name table of its own, TLS to the proxy)."""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import trustme

from tests.support.cluster import need, wait_for_port
from tests.support.paths import ROOT
from tests.support.servers import free_port


@dataclass
class Certificates:
    """A CA and a server certificate it signed, as files and as contexts."""

    authority: trustme.CA
    ca_file: Path
    cert_file: Path  # the chain, leaf first
    key_file: Path

    @classmethod
    def make(cls, folder: Path, *names: str) -> Certificates:
        folder.mkdir(parents=True, exist_ok=True)
        authority = trustme.CA()
        issued = authority.issue_cert(*names)
        ca_file, cert_file, key_file = (folder / n for n in ("ca.pem", "cert.pem", "key.pem"))
        authority.cert_pem.write_to_path(str(ca_file))
        issued.private_key_pem.write_to_path(str(key_file))
        cert_file.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
        return cls(authority, ca_file, cert_file, key_file)

    def server_context(self, client_ca: Path | None = None) -> ssl.SSLContext:
        """A server context; with ``client_ca``, one that requires a client certificate it
        signed (mutual TLS)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.cert_file, self.key_file)
        context.set_alpn_protocols(["h2", "http/1.1"])
        if client_ca is not None:
            context.verify_mode = ssl.CERT_REQUIRED
            context.load_verify_locations(cafile=client_ca)
        return context

    def client_files(self, folder: Path, name: str = "client") -> tuple[Path, Path]:
        """A client certificate this CA signed: (cert file, key file)."""
        issued = self.authority.issue_cert(f"{name}@example.test")
        cert, key = folder / f"{name}-cert.pem", folder / f"{name}-key.pem"
        cert.write_bytes(b"".join(blob.bytes() for blob in issued.cert_chain_pems))
        issued.private_key_pem.write_to_path(str(key))
        return cert, key


Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def answer_sse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads one request (head and body) and answers a short SSE body, then closes."""
    head = await reader.readuntil(b"\r\n\r\n")
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            await reader.readexactly(int(line.split(b":")[1]))
    body = b"data: hello\n\n"
    writer.write(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncontent-length: %d\r\n"
        b"connection: close\r\n\r\n%s" % (len(body), body)
    )
    await writer.drain()
    writer.close()


class Process:
    """A proxy process, stopped whatever state it is in."""

    process: subprocess.Popen | None = None
    port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()


class ConnectProxy(Process):
    """tests/support/connect_proxy.py: a name table, optional Basic auth and TLS to the proxy."""

    def __init__(
        self,
        folder: Path,
        names: dict[str, str],
        *,
        auth: str | None = None,
        tls: Certificates | None = None,
    ) -> None:
        self.log = folder / f"connect-proxy-{free_port()}.log"
        self.log.touch()
        self.command = [sys.executable, "-m", "tests.support.connect_proxy", "--log", str(self.log)]
        self.command += [f"--map={name}={address}" for name, address in names.items()]
        if auth:
            self.command += ["--auth", auth]
        if tls:
            self.command += ["--tls-cert", str(tls.cert_file), "--tls-key", str(tls.key_file)]
        self.scheme = "https" if tls else "http"

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def start(self) -> ConnectProxy:
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()  # blocks until it listens, or exits
        if not line.startswith("listening on "):
            self.stop()
            raise RuntimeError(f"the proxy did not start: {line!r}")
        self.port = int(line.split()[-1])
        return self

    def tunnels(self) -> list[str]:
        """One line per CONNECT: status, target, Proxy-Authorization (or -)."""
        return self.log.read_text().splitlines()


class TinyProxy(Process):
    """Debian's tinyproxy, configured in ``folder``."""

    def __init__(
        self, folder: Path, *, auth: tuple[str, str] | None = None, connect_ports=()
    ) -> None:
        self.binary = need("tinyproxy", "tinyproxy-bin")
        self.port = free_port()
        self.log = folder / f"tinyproxy-{self.port}.log"
        self.config = folder / f"tinyproxy-{self.port}.conf"
        lines = [
            f"Port {self.port}",
            "Listen 127.0.0.1",
            "Timeout 30",
            "Allow 127.0.0.1",
            "LogLevel Connect",
            f'LogFile "{self.log}"',
            "MaxClients 50",
            "DisableViaHeader Yes",
        ]
        if auth:
            lines.append(f"BasicAuth {auth[0]} {auth[1]}")
        lines += [f"ConnectPort {port}" for port in connect_ports]  # none: every port
        self.config.write_text("\n".join(lines) + "\n")

    def start(self) -> TinyProxy:
        self.process = subprocess.Popen(
            [self.binary, "-d", "-c", str(self.config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port, self.process)
        return self

    def connects(self) -> list[str]:
        """tinyproxy's log lines about CONNECT requests."""
        if not self.log.exists():
            return []
        return [line for line in self.log.read_text().splitlines() if "CONNECT" in line]
