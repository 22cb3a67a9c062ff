"""What both tools do before they start an event loop: more file descriptors, and uvloop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from gateway.server import raise_open_files_limit

__all__ = ["event_loop_factory", "raise_open_files_limit"]


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop]:
    """uvloop's loop when it is installed: the load generator must stay cheaper than the
    gateway it measures."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        return asyncio.new_event_loop
    return uvloop.new_event_loop
