"""Which host names the gateway answers to, and which origins browsers may send requests from.

* **Host names**: loopback, the bound ``HOST``, the names in ``ALLOWED_HOSTS`` and
  ``PUBLIC_URL``. Anything else gets 421 (a page on another site that rebinds its DNS name to
  this address comes with its own name), unless ``ALLOWED_HOSTS`` has ``*``.
* **Origins** of state-changing requests (403 otherwise):

  - the configured ones: ``PUBLIC_URL``, ``ALLOWED_HOSTS`` entries written as origins
    (``https://chat.example.com:8443``), ``CORS_ORIGINS``;
  - the request's own origin, its scheme and ``Host`` (as a trusted proxy gave them, see
    ``gateway.auth.proxies``), but only when that host's name is one of the names above. A
    browser always sends the ``Host`` it addressed, so a page elsewhere cannot make its
    request look same-origin; only a rebound name could, and such a name is never on the list.
    ``ALLOWED_HOSTS=*`` lets any ``Host`` in, and never makes its origin one we trust.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WILDCARD_BINDS = frozenset({"", "0.0.0.0", "::"})
DEFAULT_PORTS = {"http": 80, "https": 443}


def host_name(host: str) -> str:
    """``Host`` without its port, lower case (``[::1]:8000`` → ``::1``)."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def origin_of(scheme: str, host: str) -> str | None:
    """The origin a browser would send for a page at ``scheme://host``: lower case, with no
    default port (``http://localhost:80`` → ``http://localhost``)."""
    return normal_origin(f"{scheme}://{host.strip()}")


def normal_origin(origin: str) -> str | None:
    try:
        parts = urlsplit(origin.strip().lower().rstrip("/"))
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path or parts.query:
        return None
    name = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    if port is None or port == DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{name}"
    return f"{parts.scheme}://{name}:{port}"


@dataclass(frozen=True, slots=True)
class Allowance:
    names: frozenset[str]  # host names answered to, and whose own origin is trusted
    any_host: bool  # ALLOWED_HOSTS=*: every Host is answered, no more origin is trusted
    origins: frozenset[str]  # configured origins, trusted whatever the request's Host

    def host_allowed(self, host: str) -> bool:
        return self.any_host or host_name(host) in self.names

    def origin_allowed(self, origin: str, scheme: str, host: str) -> bool:
        """Whether a browser page at ``origin`` may change things through this request."""
        wanted = normal_origin(origin)
        if wanted is None:
            return False  # "null" (sandboxed pages, file://) and anything malformed
        if wanted in self.origins:
            return True
        return host_name(host) in self.names and wanted == origin_of(scheme, host)


def allowance(
    *,
    host: str,
    allowed_hosts: list[str],
    public_url: str | None,
    cors_origins: list[str],
) -> Allowance:
    names = set(LOOPBACK_NAMES)
    if host.lower() not in WILDCARD_BINDS:
        names.add(host_name(host))
    origins = {normal_origin(o) for o in cors_origins}
    any_host = False
    for entry in [*allowed_hosts, *([public_url] if public_url else [])]:
        if entry.strip() == "*":
            any_host = True
        elif "://" in entry:
            origin = normal_origin(entry)
            if origin is None:
                continue
            origins.add(origin)
            names.add(host_name(urlsplit(origin).netloc))
        else:
            names.add(host_name(entry))
    return Allowance(frozenset(names), any_host, frozenset(o for o in origins if o))
