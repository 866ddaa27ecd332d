"""Sandbox uids for `root` mode: one per concurrent run on this machine, claimed with a
lock file. A scoring process keeps the uids it has claimed for its later runs (one run
at a time each): a run's PID namespace leaves no process of it behind, so a uid is
searched for leftover processes (and they are killed) only when it is claimed and when
it is given back, not around every run."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from rewardsmith.core.procfs import running

UID_BASE, UID_SLOTS = 61000, 256
LOCK_DIR = Path("/run/rewardsmith-sandbox") if os.access("/run", os.W_OK) else Path("/tmp")


class _Claims:
    """The uids this process holds (their lock files open), and which are free now."""

    def __init__(self) -> None:
        self.owner = os.getpid()
        self.locks: dict[int, IO[str]] = {}
        self.free: list[int] = []


_CLAIMS = _Claims()
_CLAIMS_LOCK = threading.Lock()


@contextlib.contextmanager
def claimed_uid() -> Iterator[int]:
    """A sandbox uid that no other run on this machine holds right now."""
    global _CLAIMS
    with _CLAIMS_LOCK:
        if _CLAIMS.owner != os.getpid():  # forked: the parent's claims are not ours
            _CLAIMS = _Claims()
        claims = _CLAIMS
        uid = claims.free.pop() if claims.free else _claim_new(claims)
    try:
        yield uid
    finally:
        with _CLAIMS_LOCK:
            if claims is _CLAIMS:
                claims.free.append(uid)


def _claim_new(claims: _Claims) -> int:
    LOCK_DIR.mkdir(mode=0o700, exist_ok=True)
    for slot in range(UID_SLOTS):
        uid = UID_BASE + slot
        if uid in claims.locks:
            continue
        handle = open(LOCK_DIR / f"rewardsmith-sandbox-{uid}.lock", "w")  # noqa: SIM115
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            continue
        _kill_uid(uid)  # whatever a run of an ended process may have left
        claims.locks[uid] = handle
        return uid
    raise RuntimeError(f"all {UID_SLOTS} sandbox slots are busy")


def release_uids() -> None:
    """Give back this process's uids, once no run uses them (workers.close_pools)."""
    global _CLAIMS
    with _CLAIMS_LOCK:
        claims, _CLAIMS = _CLAIMS, _Claims()
    if claims.owner != os.getpid():
        return
    for uid, handle in claims.locks.items():
        _kill_uid(uid)
        handle.close()


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
