"""A small CONNECT proxy, run as its own process by the network tests (``tests/support/proxies.py``).

What a company proxy does that tinyproxy cannot be made to do here: it resolves names from its
own table (``--map api.claude.test=127.0.0.1``), so an upstream name that only the proxy can
resolve proves the gateway asked the proxy, not its own resolver; and it can be reached over
TLS (``--tls-cert``/``--tls-key``: an ``https://`` proxy). Optionally it wants Basic
credentials (``--auth user:password``: 407 without them). Names outside the table get 502, as
a proxy that cannot resolve them would answer.

It prints ``listening on <port>`` once it accepts connections, and appends one line per CONNECT
to ``--log``: ``<status> <host:port> <Proxy-Authorization value or ->``.

    python -m tests.connect_proxy --map api.x.test=127.0.0.1 --log proxy.log
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import signal
import ssl
import sys


class Proxy:
    def __init__(self, names: dict[str, str], auth: str | None, log: str | None) -> None:
        self.names = names
        self.expected = "Basic " + base64.b64encode(auth.encode()).decode() if auth else None
        self.log = log

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self.tunnel(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ssl.SSLError):
            pass
        finally:
            writer.close()

    async def tunnel(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        request, *lines = head.split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines if line)
        }
        method, target, _ = request.split(" ", 2)
        authorization = headers.get("proxy-authorization")
        if method != "CONNECT":
            return await self.answer(writer, 405, "Method Not Allowed", target, authorization)
        if self.expected is not None and authorization != self.expected:
            return await self.answer(
                writer,
                407,
                "Proxy Authentication Required",
                target,
                authorization,
                b'Proxy-Authenticate: Basic realm="test"\r\n',
            )
        host, _, port = target.rpartition(":")
        address = self.names.get(host.lower())
        if address is None:
            return await self.answer(writer, 502, "Bad Gateway", target, authorization)
        upstream_reader, upstream_writer = await asyncio.open_connection(address, int(port))
        await self.answer(writer, 200, "Connection established", target, authorization)
        await asyncio.gather(
            pipe(reader, upstream_writer), pipe(upstream_reader, writer), return_exceptions=True
        )

    async def answer(
        self,
        writer: asyncio.StreamWriter,
        status: int,
        reason: str,
        target: str,
        authorization: str | None,
        extra: bytes = b"",
    ) -> None:
        if self.log:
            self.record(f"{status} {target} {authorization or '-'}\n")
        body = b"" if status == 200 else b"refused\n"
        length = b"" if status == 200 else b"Content-Length: %d\r\n" % len(body)
        writer.write(
            b"HTTP/1.1 %d %s\r\n%s%s\r\n%s" % (status, reason.encode(), extra, length, body)
        )
        await writer.drain()

    def record(self, line: str) -> None:
        with open(self.log, "a") as log:  # type: ignore[arg-type] - one short line, rarely
            log.write(line)


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65_536):
            writer.write(data)
            await writer.drain()
    finally:
        with contextlib.suppress(OSError, RuntimeError):
            writer.write_eof() if writer.can_write_eof() else writer.close()


async def serve(args: argparse.Namespace) -> None:
    names = dict(pair.split("=", 1) for pair in args.map)
    proxy = Proxy({name.lower(): address for name, address in names.items()}, args.auth, args.log)
    context = None
    if args.tls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.tls_cert, args.tls_key)
    server = await asyncio.start_server(proxy.handle, "127.0.0.1", args.port, ssl=context)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(number, stop.set)
    print(f"listening on {server.sockets[0].getsockname()[1]}", flush=True)
    async with server:
        await stop.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--map", action="append", default=[], help="name=address")
    parser.add_argument("--auth", help="user:password required (Basic)")
    parser.add_argument("--log", help="append one line per CONNECT here")
    parser.add_argument("--tls-cert")
    parser.add_argument("--tls-key")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
