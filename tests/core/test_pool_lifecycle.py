"""Worker lifecycle: pool workers die with the process that owns the pool (even when the
thread that first used it has ended, and while a worker is stuck in one long C call),
and a memory-hungry task gets an error status instead of growing past the limit."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from rewardsmith.core.pool import WorkerPool, outcome
from rewardsmith.core.types import Status
from rewardsmith.serve.local import Watched

# The parent: a pool first used from a thread that then ends, one worker busy in a single
# C call (where no Python watchdog thread could run); it reports its processes and waits.
PARENT = """
import json, os, threading, time
from rewardsmith.core.pool import WorkerPool, outcome
from rewardsmith.serve.local import descendants

pool = WorkerPool(2)
first = []
user = threading.Thread(target=lambda: first.append(outcome(pool.submit(os.getpid, timeout=120))))
user.start()
user.join()
pool.submit(sum, range(10**15), timeout=None)
time.sleep(1)
print(json.dumps({"first": first[0][1], "processes": descendants(os.getpid())}), flush=True)
time.sleep(600)
"""


def hoard() -> None:
    """Grow without bound, 16 MiB at a time."""
    chunks = []
    while True:
        chunks.append(bytearray(16 << 20))


def hoard_quietly() -> str:
    """Hit the limit, catch the MemoryError and answer anyway (as math-verify does)."""
    with contextlib.suppress(MemoryError):
        hoard()
    return "equal"


def die() -> None:
    """End as the OOM killer ends a process."""
    os.kill(os.getpid(), signal.SIGKILL)


def peak_mb() -> int:
    """The address space this worker ever used, in MiB (VmPeak)."""
    status = Path("/proc/self/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmPeak:"))
    return int(line.split()[1]) // 1024


def test_workers_die_with_the_parent_process():
    parent = subprocess.Popen([sys.executable, "-c", PARENT], stdout=subprocess.PIPE, text=True)
    try:
        report = json.loads(parent.stdout.readline())  # type: ignore[union-attr]
        # the worker that ran the first task outlived the thread that submitted it
        assert report["first"] in report["processes"], report
        watched = Watched(report["processes"])
        assert len(watched.running()) >= 2  # both workers (and a resource tracker)
        parent.kill()
        parent.wait()
        survivors = watched.wait_ended(60)
        watched.close()
        assert survivors == [], f"still running after their parent was killed: {survivors}"
    finally:
        parent.kill()
        parent.wait()


def test_memory_hungry_task_gets_an_error_status_and_the_pool_recovers():
    pool = WorkerPool(1, memory_mb=256)
    try:
        status, message = outcome(pool.submit(hoard, timeout=120))
        assert status is Status.ERROR
        assert message == "check exceeded its worker's memory limit"
        status, peak = outcome(pool.submit(peak_mb, timeout=120))
        assert status is Status.OK and peak <= 256
        status, message = outcome(pool.submit(hoard_quietly, timeout=120))
        assert (status, message) == (Status.ERROR, "check exceeded its worker's memory limit")
        assert outcome(pool.submit(os.getpid, timeout=120))[0] is Status.OK
    finally:
        pool.close()


def test_worker_killed_like_by_the_oom_killer_is_replaced():
    pool = WorkerPool(1)
    try:
        status, message = outcome(pool.submit(die, timeout=120))
        assert status is Status.ERROR and "died" in message
        assert outcome(pool.submit(os.getpid, timeout=120))[0] is Status.OK
    finally:
        pool.close()
