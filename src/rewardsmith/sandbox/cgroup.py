"""A cgroup per run, so that memory and the number of processes are bounded for the run
as a whole (all its processes together), not per process.

cgroup v2 where the host has the unified hierarchy and this process's own cgroup enables
the memory and pids controllers for its children (delegation), else v1 (one directory
under this process's own cgroup in each of /sys/fs/cgroup/memory and
/sys/fs/cgroup/pids). Where neither can be
written (e.g. not root and no delegation), runs have no cgroup, one `NoCgroupWarning` says
so, and only the per-process rlimits (RLIMIT_AS, RLIMIT_NPROC) bound them. The runner
puts the child in its cgroup before sending it the bootstrap, so everything the program
starts is in it; after the run every process in it is killed and it is removed.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
import warnings
from pathlib import Path

from rewardsmith.sandbox.limits import Limits

CGROUP_ROOT = Path("/sys/fs/cgroup")
PREFIX = "rewardsmith-run"
SWAP_LIMITS = {"memory.swap.max", "memory.memsw.limit_in_bytes"}  # only with swap accounting
_SERIAL = itertools.count()


class NoCgroupWarning(RuntimeWarning):
    """No cgroup can be created here: limits hold per process, not per run."""


class RunCgroup:
    """The cgroup directories of one run (one in v2, one per controller in v1); empty
    where cgroups cannot be used."""

    def __init__(self, directories: list[Path]) -> None:
        self.directories = directories

    def join(self, pid: int) -> None:
        """Put process `pid` (not yet running untrusted code) in the run's cgroup."""
        if pid <= 0:  # ended (written as such, 0 would move this process in)
            raise ProcessLookupError(f"no process {pid} to put in a cgroup")
        for directory in self.directories:
            (directory / "cgroup.procs").write_text(str(pid))

    def pids(self) -> set[int]:
        """The processes in the cgroup now."""
        found: set[int] = set()
        for directory in self.directories:
            try:
                found.update(map(int, (directory / "cgroup.procs").read_text().split()))
            except FileNotFoundError:
                continue
        return found

    def remove(self) -> None:
        """SIGKILL every process in the cgroup until none is left, then remove it."""
        for _ in range(500):
            pids = self.pids()
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
            if not pids and self._removed():
                return
            time.sleep(0.002)
        raise RuntimeError(f"the run's cgroup {self.directories} could not be emptied")

    def _removed(self) -> bool:
        for directory in list(self.directories):
            try:
                directory.rmdir()
            except FileNotFoundError:
                pass
            except OSError:  # busy: a killed process has not quite left yet
                return False
            self.directories.remove(directory)
        return True


def run_cgroup(limits: Limits) -> RunCgroup:
    """A new cgroup with the run's memory and process limits (empty if none can be made)."""
    return RunCgroup([]) if decided()[1] else _made(limits)


def _made(limits: Limits) -> RunCgroup:
    name = f"{PREFIX}-{os.getpid()}-{next(_SERIAL)}"
    group = RunCgroup([])
    try:
        for parent, settings in _places(limits):
            group.directories.append(parent / name)
            (parent / name).mkdir()
            for file, value in settings.items():  # in order: swap limits last
                if file not in SWAP_LIMITS or (parent / name / file).exists():
                    (parent / name / file).write_text(value)
    except BaseException:
        group.remove()
        raise
    return group


def _places(limits: Limits) -> list[tuple[Path, dict[str, str]]]:
    """Where the run's cgroups go (this process's own cgroups), and what each holds."""
    memory, processes = str(limits.memory_mb << 20), str(limits.processes)
    own = own_groups()
    if "" in own:  # v2: one cgroup, both controllers; no swap beyond the memory
        return [(own[""], {"memory.max": memory, "pids.max": processes, "memory.swap.max": "0"})]
    return [
        (own["memory"], {"memory.limit_in_bytes": memory, "memory.memsw.limit_in_bytes": memory}),
        (own["pids"], {"pids.max": processes}),
    ]


def own_groups(membership: Path = Path("/proc/self/cgroup")) -> dict[str, Path]:
    """This process's cgroup directory per v1 controller, or under '' on a v2 host."""
    unified = (CGROUP_ROOT / "cgroup.controllers").exists()
    groups: dict[str, Path] = {}
    for line in membership.read_text().splitlines():
        _, names, path = line.split(":", 2)
        if unified and names == "":
            groups[""] = CGROUP_ROOT / path.lstrip("/")
        for name in {"memory", "pids"} & set(names.split(",")):
            groups.setdefault(name, CGROUP_ROOT / name / path.lstrip("/"))
    return {"": groups[""]} if unified else groups


_DECIDED: tuple[str, str] | None = None  # (version, why none can be made)
_LOCK = threading.Lock()
_WARNED = False


def decided() -> tuple[str, str]:
    """('v2' or 'v1', '') when run cgroups can be made here, else ('', why not); decided
    once per process by making one for real."""
    global _DECIDED
    with _LOCK:
        if _DECIDED is None:
            try:
                version = "v2" if "" in own_groups() else "v1"
                _made(Limits()).remove()
                _DECIDED = (version, "")
            except (OSError, KeyError, RuntimeError) as exc:
                _DECIDED = ("", str(exc) or type(exc).__name__)
        return _DECIDED


def warn_once() -> None:
    """Say, once per process, that runs have no cgroup here, and what that leaves."""
    global _WARNED
    why = decided()[1]
    with _LOCK:
        if not why or _WARNED:
            return
        _WARNED = True
    warnings.warn(
        f"rewardsmith sandbox: no cgroup can be created for runs ({why}), so memory and "
        "process limits hold per process only (RLIMIT_AS, RLIMIT_NPROC): a run of n "
        "processes may hold n times memory_mb. Run as root, or delegate the memory and "
        "pids controllers of a cgroup v2 subtree to this user, for whole-run limits.",
        NoCgroupWarning,
        stacklevel=4,  # warn_once, warm_worker, run or Session: the caller of those
    )
