"""Memory nobody can inflate (issue #23 point 3), on a real gateway process: many slow readers
are dropped within the process's listener budget, and memory freed after a spike goes back
to the system. (The request-head and body bounds are in test_serving.py.)"""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap

import httpx
import pytest

from gateway import memory
from tests.support.paths import ROOT
from tests.support.turn_helpers import API, eventually

MB = 1024 * 1024


def status_kb(pid: int, field: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


async def test_slow_readers_are_dropped_before_the_process_outgrows_its_budget(
    processes, database_url, sim
):
    budget = 8 * MB
    gateway = processes(
        {
            "DATABASE_URL": database_url,
            "SIMULATOR_URL": sim.url,
            "LISTENER_BUFFER_TOTAL": str(budget),  # each listener alone may hold 4 MB
            "CHATGPT_MAX_TOKENS": "60000",
            "SEND_TIMEOUT": "600",  # the budget, not the send timeout, drops them
        }
    )
    pid = gateway.process.pid
    async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
        # About 4 MB of events: what each listener alone may hold.
        body = {"prompt": "flood", "models": ["chatgpt:gpt-5.5+tokens=60000,chunk=1,gap=0"]}
        created = (await client.post(f"{API}/turns", json=body)).json()
        baseline = status_kb(pid, "VmRSS") * 1024
        readers = []
        try:
            for _ in range(20):  # slow readers: a tiny window, and never a read
                sock = socket.socket()
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                sock.connect(("127.0.0.1", gateway.port))
                sock.sendall(
                    b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % created["events_url"].encode()
                )
                readers.append(sock)

            async def finished() -> bool:
                state = (await client.get(f"{API}/turns/{created['turn_id']}")).json()
                return state["status"] != "running"

            await eventually(finished, within=90, interval=0.2)
        finally:
            for sock in readers:
                sock.close()
        peak = status_kb(pid, "VmHWM") * 1024
    # 20 readers x 4 MB would be 80 MB of buffers (and more in Python's objects around them).
    assert peak - baseline < budget + 40 * MB, (peak - baseline) / MB


@pytest.mark.skipif(memory.free_in_heap() == 0 and memory._LIBC is None, reason="not glibc")
@pytest.mark.integration  # runs the spike in a process of its own
def test_memory_freed_after_a_spike_goes_back_to_the_system():
    script = textwrap.dedent(
        """
        from gateway import memory
        def resident(): return memory.resident_bytes() >> 20
        spare = bytearray(2 * 1024 * 1024); del spare  # glibc now keeps big blocks in its heap
        pinned, spike = [], []
        for _ in range(300):
            spike.append(b"x" * 600_000)
            pinned.append(bytes(200))  # small blocks between them: nothing frees at the top
        del spike
        before = resident()
        assert memory.give_back(), "more than the slack was free"
        print(before, resident())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    before, after = map(int, done.stdout.split())
    assert before - after > 60 and after < before / 2, (before, after)
