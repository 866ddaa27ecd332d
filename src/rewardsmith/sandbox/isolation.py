"""Choosing the isolation mode once per process (`root`, `userns` or none, and why), and
warning once about what `userns` mode protects less than `root` mode."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import warnings

from rewardsmith.sandbox.child import (
    bootstrap_settings,
    code_frame,
    frame,
    start_child,
    template_settings,
)
from rewardsmith.sandbox.limits import Limits

# Replaced by a fresh tmpfs in every run: an interpreter installed here cannot run there.
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm")


class WeakerIsolationWarning(RuntimeWarning):
    """The sandbox runs in `userns` mode, whose protections are weaker than as root.

    Emitted once per process, at the first run; turn it into an error
    (`-W error::rewardsmith.sandbox.runner.WeakerIsolationWarning`) to refuse that mode.
    """


_MODE_LOCK = threading.Lock()
_MODE: tuple[str, str, list[str]] | None = None  # (mode, why not, notes)
_WARN_LOCK = threading.Lock()
_WARNED = False


def decided_mode() -> tuple[str, str, list[str]]:
    """The isolation mode ('root', 'userns' or '' for none), why none, and notes on
    protections that could not be set up; decided once per process."""
    global _MODE
    with _MODE_LOCK:
        if _MODE is None:
            if sys.platform != "linux":
                _MODE = ("", "the sandbox needs Linux namespaces", [])
            elif _under_scratch(sys.base_prefix):
                _MODE = (
                    "",
                    f"the interpreter lives in {sys.base_prefix}, inside a "
                    f"directory the sandbox replaces ({', '.join(SCRATCH_DIRS)})",
                    [],
                )
            elif os.geteuid() == 0:
                _MODE = ("root", "", [])
            else:
                why, notes = _probe_user_namespaces()
                _MODE = ("", why, []) if why else ("userns", "", notes)
        return _MODE


def _under_scratch(path: str) -> bool:
    real = os.path.realpath(path)
    return any(real == d or real.startswith(d + os.sep) for d in SCRATCH_DIRS)


def _probe_user_namespaces() -> tuple[str, list[str]]:
    """Isolate one child in `userns` mode for real: ('', notes) if it worked, else why."""
    control_read, control = os.pipe()
    try:
        process = start_child(control_read)
    finally:
        os.close(control_read)
    try:
        with contextlib.suppress(BrokenPipeError):
            # the template's set-up and a run's, in one process
            settings = {
                **template_settings("userns"),
                **bootstrap_settings(Limits(), 0, "userns"),
                "template": False,
                "probe": True,
            }
            os.write(control, code_frame() + frame(settings))
        os.close(control)
        out, err = process.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        return "isolating a child in unprivileged user namespaces timed out", []
    lines = out.decode(errors="replace").splitlines()
    if process.returncode == 0 and lines[:1] == ["isolated"]:
        return "", lines[1:]
    detail = (err.decode(errors="replace").strip().splitlines() or ["no output"])[-1]
    return (
        "the sandbox needs root, or unprivileged user namespaces that allow mounts "
        f"(isolating a child in them failed: {detail})",
        [],
    )


def available() -> str:
    """'' when the sandbox can run here, else why not (it needs Linux, and root or
    unprivileged user namespaces)."""
    return decided_mode()[1]


def mode() -> str:
    """'root' or 'userns': how runs are isolated here ('' if they cannot be)."""
    return decided_mode()[0]


def warn_once(notes: list[str]) -> None:
    """Say, once per process, what `userns` mode protects less than `root` mode (each
    time, if the warning is made an error: then every run is refused)."""
    global _WARNED
    with _WARN_LOCK:
        if not _WARNED:
            _warn(notes)
            _WARNED = True


def _warn(notes: list[str]) -> None:
    groups = sorted(set(os.getgroups()) - {os.getgid()})
    weaker = [
        "they run as this user (uid 1000 inside), not as a separate sandbox uid, so a "
        "kernel flaw that lets a program out of its namespaces leaves it with this "
        "user's rights, and unprivileged user namespaces expose more of the kernel to it",
        "they keep this user's supplementary groups for access to the files of their "
        "read-only tree, which an unprivileged user namespace cannot drop"
        + (f" (now {', '.join(map(str, groups))})" if groups else ""),
        *notes,
    ]
    warnings.warn(
        "rewardsmith sandbox: not running as root, so untrusted programs are isolated "
        "with unprivileged user namespaces instead: no network, only a minimal read-only "
        "file tree and their own tmpfs, their own PID, IPC and UTS namespaces and /proc, "
        "every process killed with the run, RLIMIT_NPROC per run. Weaker than as root: "
        + "; ".join(weaker)
        + ". For full isolation run as root, or else as a dedicated user without "
        "privileged groups whose files hold nothing secret; make this warning an error "
        "to refuse this mode.",
        WeakerIsolationWarning,
        stacklevel=5,  # _warn, warn_once, warm_worker, run or Session: the caller of those
    )
