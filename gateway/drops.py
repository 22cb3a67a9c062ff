"""The error that ends a client's stream on purpose, for the server's log and the metrics to tell
from a failure (a leaf module: the response raises it, the server and the middleware read it)."""

from __future__ import annotations


class SendTimeout(TimeoutError):
    """The client did not take a send within ``SEND_TIMEOUT``: it is dropped, and may resume
    with ``Last-Event-ID``."""
