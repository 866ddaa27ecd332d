"""Sandbox uids for `root` mode: one per concurrent run on this machine, claimed with a
lock file, and every process of it killed before and after the run."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from rewardsmith.core.procfs import running

UID_BASE, UID_SLOTS = 61000, 256
LOCK_DIR = Path("/run/rewardsmith-sandbox") if os.access("/run", os.W_OK) else Path("/tmp")


@contextlib.contextmanager
def claimed_uid() -> Iterator[int]:
    """A sandbox uid that no other run on this machine holds right now."""
    LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
    for slot in range(UID_SLOTS):
        handle = open(LOCK_DIR / f"rewardsmith-sandbox-{UID_BASE + slot}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        try:
            _kill_uid(UID_BASE + slot)
            yield UID_BASE + slot
        finally:
            _kill_uid(UID_BASE + slot)
            handle.close()
        return
    raise RuntimeError(f"all {UID_SLOTS} sandbox slots are busy")


def _kill_uid(uid: int) -> None:
    """SIGKILL every process owned by `uid` until none is left."""
    for _ in range(200):
        found = False
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                if entry.stat().st_uid == uid and running(int(entry.name)):
                    os.kill(int(entry.name), signal.SIGKILL)
                    found = True
            except (FileNotFoundError, ProcessLookupError):
                continue
        if not found:
            return
        time.sleep(0.002)
