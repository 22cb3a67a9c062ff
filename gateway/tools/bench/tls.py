"""``BENCH_TLS=1``: the gateways reach the simulators over HTTPS, as they reach real providers.

nginx (Debian's nginx-light) terminates TLS in front of the simulators, on the load side's
cores, with a certificate from a throwaway CA made by ``openssl``; the gateways trust that CA
through ``SSL_CERT_FILE`` (the standard way, docs/networks.md) and get the https URL as their
SIMULATOR_URL. Direct rounds still read the simulators over plain HTTP: the direct baseline
then lacks the TLS hop, so added TTFT includes it, while CPU per token (the gateway's own
process) is what this variant is for.

``BENCH_TRANSPORT=compare`` runs each scenario also through a gateway whose providers use
httpx's own transport (``<PROVIDER>_TRANSPORT=httpx``): the A/B of the two transports in one
run, over TLS with BENCH_TLS=1.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from pathlib import Path

from gateway.tools.bench.processes import free_port
from providers.registry import PROVIDERS

HTTPX_TRANSPORT = "(httpx transport)"


def wanted() -> bool:
    return os.environ.get("BENCH_TLS", "") not in ("", "0")


def compare_transport() -> bool:
    return os.environ.get("BENCH_TRANSPORT", "") == "compare"


def httpx_transport_environment() -> dict[str, str]:
    return {f"{name.upper()}_TRANSPORT": "httpx" for name in PROVIDERS}


def program(name: str) -> str:
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/local/sbin")
    if not found:
        raise RuntimeError(f"BENCH_TLS=1 needs {name} (Debian: nginx-light, openssl)")
    return found


class TlsFront:
    """nginx terminating TLS for ``upstream`` (the simulators' http URL)."""

    def __init__(self, work_dir: Path, upstream_port: int) -> None:
        self.dir = work_dir / "tls-front"
        (self.dir / "temp").mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.url = f"https://localhost:{self.port}"
        self.ca_file = self.dir / "ca.pem"
        self.upstream_port = upstream_port
        self.process: subprocess.Popen | None = None

    @property
    def environment(self) -> dict[str, str]:
        """What a gateway needs to trust the front."""
        return {"SSL_CERT_FILE": str(self.ca_file)}

    def start(self) -> None:
        self._certificates()
        connections = 25_000  # two per stream at streams-10k, and room
        config = self.dir / "nginx.conf"
        temp = self.dir / "temp"
        config.write_text(
            f"worker_processes 1;\nworker_rlimit_nofile {connections + 100};\n"
            f"error_log {self.dir}/error.log;\npid {self.dir}/nginx.pid;\n"
            f"events {{ worker_connections {connections}; }}\n"
            "http {\n  access_log off;\n"
            f"  client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy;\n"
            f"  fastcgi_temp_path {temp}/f; uwsgi_temp_path {temp}/u; scgi_temp_path {temp}/s;\n"
            f"  upstream simulators {{ server 127.0.0.1:{self.upstream_port}; keepalive 1000; }}\n"
            "  server {\n"
            f"    listen 127.0.0.1:{self.port} ssl;\n"
            f"    ssl_certificate {self.dir}/cert.pem; ssl_certificate_key {self.dir}/key.pem;\n"
            "    keepalive_requests 100000;\n"
            "    location / {\n"
            "      proxy_pass http://simulators; proxy_http_version 1.1;\n"
            '      proxy_set_header Connection ""; proxy_buffering off;\n'
            "      proxy_read_timeout 300s;\n"
            "    }\n  }\n}\n"
        )
        directives = "daemon off; user root;" if os.geteuid() == 0 else "daemon off;"
        self.process = subprocess.Popen(
            [program("nginx"), "-p", str(self.dir), "-c", str(config), "-g", directives],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def wait_ready(self, within: float = 30.0) -> None:
        async with asyncio.timeout(within):
            while True:
                if self.process is None or self.process.poll() is not None:
                    raise RuntimeError(f"nginx (BENCH_TLS) exited; see {self.dir}/error.log")
                try:
                    _, writer = await asyncio.open_connection("127.0.0.1", self.port)
                except OSError:
                    await asyncio.sleep(0.1)
                    continue
                writer.close()
                return

    def _certificates(self) -> None:
        """A CA, and a certificate it signed for localhost and 127.0.0.1 (P-256)."""
        openssl = program("openssl")
        d = self.dir

        def run(*args: str) -> None:
            subprocess.run([openssl, *args], check=True, capture_output=True, cwd=d)

        curve = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
        run("req", "-x509", *curve, "-keyout", "ca-key.pem", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=multichat bench CA")  # fmt: skip
        run("req", *curve, "-keyout", "key.pem", "-out", "cert.csr", "-subj", "/CN=localhost")
        (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
        run("x509", "-req", "-in", "cert.csr", "-CA", "ca.pem", "-CAkey", "ca-key.pem",
            "-CAcreateserial", "-out", "cert.pem", "-days", "2", "-extfile", "san.ext")  # fmt: skip

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(20)
