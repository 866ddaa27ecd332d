"""The Linux process table (/proc): whether a process is still running, and its parent."""

from __future__ import annotations

from pathlib import Path

EXITED_STATES = ("Z", "X")  # zombie (exited, waiting to be reaped) and dead


def process_stat(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a process; None when there is no such process, or
    no /proc on this system."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    state, parent = stat.rsplit(")", 1)[1].split()[:2]  # the name may hold ")" and spaces
    return state, int(parent)


def running(pid: int) -> bool:
    """Whether `pid` is a process that has not exited (a zombie has)."""
    found = process_stat(pid)
    return found is not None and found[0] not in EXITED_STATES
