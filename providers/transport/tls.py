"""TLS for the providers' connections: which CAs are trusted, a client certificate, ALPN, and
what a failed handshake is called.

One context per distinct set of files, shared by every client that asks for the same: a
context holds its own copy of the CA bundle (about 0.7 MB for the public CAs, 15 ms to load).
"""

from __future__ import annotations

import functools
import ssl

import httpx

# The protocols offered in the TLS handshake; the transport speaks HTTP/1.1 only.
ALPN = ["http/1.1"]


def new_client_context(
    ca_file: str | None = None,
    ca_dir: str | None = None,
    client_cert: str | None = None,
    client_key: str | None = None,
) -> ssl.SSLContext:
    """A client context trusting ``ca_file`` and/or ``ca_dir`` instead of the public CAs
    (certifi's bundle, as httpx uses), presenting ``client_cert`` (mutual TLS) when given.
    ``client_context`` is the same, shared; this one is for a library that changes the
    context it is given (httpcore sets its own ALPN protocols on it).

    Raises ValueError with one clear line when a file cannot be used."""
    if ca_file or ca_dir:
        try:
            context = ssl.create_default_context(cafile=ca_file, capath=ca_dir)
        except (OSError, ssl.SSLError) as error:
            raise ValueError(f"cannot load CA certificates: {reason(error)}") from None
        if ca_file and not context.get_ca_certs() and not ca_dir:
            raise ValueError(f"no CA certificate in {ca_file}")
    else:
        context = httpx.create_ssl_context(trust_env=False)
    if client_cert:
        try:
            context.load_cert_chain(client_cert, client_key or None)
        except (OSError, ssl.SSLError) as error:
            raise ValueError(f"cannot load the client certificate: {reason(error)}") from None
    context.set_alpn_protocols(ALPN)
    return context


client_context = functools.cache(new_client_context)


def reason(error: BaseException) -> str:
    """A short reason for an OS or TLS error, without the C source location."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return error.verify_message or "certificate verify failed"
    if isinstance(error, ssl.SSLError):
        return (error.reason or str(error)).replace("_", " ").lower()
    if isinstance(error, OSError) and error.strerror:
        return error.strerror.lower() + (f": {error.filename}" if error.filename else "")
    return str(error) or type(error).__name__


def handshake_failure(error: ssl.SSLError, peer: str) -> str:
    """What a failed TLS handshake with ``peer`` (host:port) is called in a ConnectError."""
    if isinstance(error, ssl.SSLCertVerificationError):
        return f"TLS: the certificate of {peer} is not trusted ({reason(error)})"
    return f"TLS handshake with {peer} failed ({reason(error)})"
