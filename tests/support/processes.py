"""Waiting for processes to end, children or not, on the kernel's word (a pidfd becomes
readable when its process terminates) rather than by polling their state."""

from __future__ import annotations

import contextlib
import os
import select
import time
from collections.abc import Iterable


def wait_for_exit(pids: Iterable[int], within: float, *, all_of: bool = True) -> bool:
    """Wait until every one of ``pids`` (or, with ``all_of=False``, any one) has terminated,
    for at most ``within`` seconds; True if it happened. A zombie has terminated."""
    fds: list[int] = []
    try:
        for pid in pids:
            try:
                fds.append(os.pidfd_open(pid))
            except ProcessLookupError:
                if not all_of:
                    return True  # already gone
        deadline = time.monotonic() + within
        waiting = set(fds)
        while waiting:
            poller = select.poll()
            for fd in waiting:
                poller.register(fd, select.POLLIN)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            ready = {fd for fd, _ in poller.poll(remaining * 1000)}
            if ready and not all_of:
                return True
            waiting -= ready
        return True
    finally:
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
