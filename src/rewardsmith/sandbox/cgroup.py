"""A cgroup per run, so that memory and the number of processes are bounded for the run
as a whole (all its processes together), not per process.

cgroup v2 where the host has the unified hierarchy and this process's own cgroup enables
the memory and pids controllers for its children (delegation), else v1 (one directory
under this process's own cgroup in each of /sys/fs/cgroup/memory and
/sys/fs/cgroup/pids). Where neither can be
written (e.g. not root and no delegation), runs have no cgroup, one `NoCgroupWarning` says
so, and only the per-process rlimits (RLIMIT_AS, RLIMIT_NPROC) bound them. The runner
puts the child in its cgroup before sending it the bootstrap, so everything the program
starts is in it; after the run every process in it is killed. An emptied cgroup is
kept for this process's next run with the same limits (making and removing one costs
more than the rest of a short run); `remove_kept` removes them (workers.close_pools).
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable
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
        self._emptied(then=self._removed)

    def empty(self) -> None:
        """SIGKILL every process in the cgroup until none is left."""
        self._emptied(then=lambda: True)

    def _emptied(self, then: Callable[[], bool]) -> None:
        for _ in range(500):
            pids = self.pids()
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    continue
            if not pids and then():
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


_KEPT: dict[Limits, list[RunCgroup]] = {}  # emptied cgroups for later runs, per limits
_KEPT_OWNER = [os.getpid()]
_KEPT_LOCK = threading.Lock()


def run_cgroup(limits: Limits) -> RunCgroup:
    """An empty cgroup with the run's memory and process limits, kept from an earlier
    run or made now (one without directories if none can be made)."""
    if decided()[1]:
        return RunCgroup([])
    with _KEPT_LOCK:
        if _KEPT_OWNER[0] != os.getpid():  # forked: the parent's cgroups are not ours
            _KEPT.clear()
            _KEPT_OWNER[0] = os.getpid()
        kept = _KEPT.get(limits)
        if kept:
            return kept.pop()
    return _made(limits)


def done_with(group: RunCgroup, limits: Limits) -> None:
    """The run in `group` has ended: kill whatever is left in it and keep it for the
    next run with these limits."""
    group.empty()
    if group.directories:
        with _KEPT_LOCK:
            _KEPT.setdefault(limits, []).append(group)


def remove_kept() -> None:
    """Remove the cgroups kept for later runs (only this process's own)."""
    with _KEPT_LOCK:
        groups = [group for kept in _KEPT.values() for group in kept]
        _KEPT.clear()
        mine = _KEPT_OWNER[0] == os.getpid()
    for group in groups if mine else ():
        group.remove()


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
