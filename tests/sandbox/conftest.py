"""An outer guard for the bomb tests: the test process and everything it starts are put
in a cgroup with a process and a memory ceiling, so that a broken sandbox limit fails a
test instead of taking the machine down. After every test, no cgroup of a run this test
process started may be left (a run's cgroup is removed only once no process is in it);
other rewardsmith processes on the host and their runs are not looked at."""

from __future__ import annotations

import contextlib
import itertools
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from rewardsmith.sandbox import cgroup
from rewardsmith.sandbox.runner import close_pools

CGROUPS = Path("/sys/fs/cgroup")
_SERIAL = itertools.count()
GUARD = {"pids": {"pids.max": "512"}, "memory": {"memory.limit_in_bytes": str(6 << 30)}}


def _own_group(controller: str) -> Path:
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, names, path = line.split(":", 2)
        if controller in names.split(","):
            return CGROUPS / controller / path.lstrip("/")
    raise FileNotFoundError(controller)


@contextlib.contextmanager
def _guarded() -> Iterator[None]:
    moved: list[tuple[Path, Path]] = []
    try:
        for controller, settings in GUARD.items():
            home = _own_group(controller)
            guard = home / f"rewardsmith-test-guard-{os.getpid()}-{next(_SERIAL)}"
            guard.mkdir()
            for name, value in settings.items():
                (guard / name).write_text(value)
            (guard / "cgroup.procs").write_text(str(os.getpid()))
            moved.append((home, guard))
        yield
    finally:
        close_pools()  # warm workers started inside the guard would keep it busy
        for home, guard in reversed(moved):
            (home / "cgroup.procs").write_text(str(os.getpid()))
            with contextlib.suppress(OSError):
                guard.rmdir()


def run_cgroups_left() -> list[Path]:
    """The cgroups of runs started by this process that still exist (also inside a
    guard)."""
    if cgroup.decided()[1]:
        return []
    runs = f"{cgroup.PREFIX}-{os.getpid()}-*"
    return sorted(
        path
        for home in cgroup.own_groups().values()
        for pattern in (runs, f"rewardsmith-test-guard-{os.getpid()}-*/{runs}")
        for path in home.glob(pattern)
    )


@pytest.fixture(autouse=True)
def no_run_left() -> Iterator[None]:
    yield
    close_pools()  # the warm workers waiting for programs; then no run may remain
    assert run_cgroups_left() == []


@pytest.fixture
def outer_guard() -> Iterator[None]:
    """Run the test inside the guard cgroup; skip when cgroups cannot be written here."""
    try:
        guard = _guarded()
        guard.__enter__()
    except OSError as exc:
        pytest.skip(f"no writable cgroup v1 pids/memory controllers for the outer guard: {exc}")
    try:
        yield
    finally:
        guard.__exit__(None, None, None)


@pytest.fixture
def leak_target() -> Iterator[tuple[socket.socket, str]]:
    """A listener on loopback outside the sandbox, and a program that tries to reach it."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(2)
    port = listener.getsockname()[1]
    program = (
        "import socket\n"
        f"socket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'leak')\n"
    )
    yield listener, program
    listener.close()
