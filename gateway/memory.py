"""Giving memory back after a spike.

glibc's malloc keeps what a process freed for its next allocations: after a burst (slow
readers' buffers, a flood of large requests) the process stays at its peak RSS although it
holds nothing. Large blocks are mmapped and go back at once, but glibc raises that threshold
as blocks are freed, so a burst of megabyte chunks ends up in the heap, and stays. Every
``INTERVAL`` seconds, if more than ``SLACK`` bytes are free in the heap, ``malloc_trim(0)``
returns them to the system (measured in the benchmark's hostile scenarios: RSS after the
spike). Elsewhere than glibc this does nothing.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import logging
import os
from collections.abc import Callable

log = logging.getLogger("multichat")

INTERVAL = 10.0
SLACK = 32 * 1024 * 1024


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd",
            "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost",
        )
    ]  # fmt: skip


def _glibc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        libc.malloc_trim.argtypes, libc.malloc_trim.restype = [ctypes.c_size_t], ctypes.c_int
        libc.mallinfo2.argtypes, libc.mallinfo2.restype = [], MallInfo2
    except (OSError, AttributeError):  # not glibc, or one older than 2.33
        return None
    return libc


_LIBC = _glibc()


def free_in_heap() -> int:
    """Bytes malloc holds free (and could give back); 0 where that cannot be known."""
    return _LIBC.mallinfo2().fordblks if _LIBC is not None else 0


def give_back(slack: int = SLACK) -> bool:
    """Return the heap's free memory to the system if more than ``slack`` bytes are free."""
    if _LIBC is None or free_in_heap() <= slack:
        return False
    _LIBC.malloc_trim(0)
    return True


def resident_bytes() -> int:
    with open("/proc/self/statm", "rb") as statm:
        return int(statm.read().split()[1]) * PAGE


PAGE = os.sysconf("SC_PAGE_SIZE")


def start(interval: float = INTERVAL, slack: int = SLACK) -> Callable[[], None]:
    """Check every ``interval`` seconds from this event loop; returns what stops it. A trim
    is tried when the heap holds ``slack`` free bytes and the process grew by as much since
    the last one (a trimmed heap still counts its free bytes, as address space)."""

    async def loop() -> None:
        after_last = resident_bytes()
        while True:
            await asyncio.sleep(interval)
            if resident_bytes() - after_last > slack and give_back(slack):
                after_last = resident_bytes()
                log.debug("gave free heap memory back: %d MB resident", after_last >> 20)

    task = asyncio.create_task(loop(), name="give-memory-back")

    def stop() -> None:
        task.cancel()

    return stop
