"""A reward server in a child process on a free loopback port, for tests and benchmarks.

`LocalServer` runs `rewardsmith serve` as a real process in its own session (so that it
and everything it started can be stopped together), waits until every worker process has
loaded its reward (each logs `worker <pid> ready`), and finds the processes behind it:
the live workers, the worker holding a given client connection, their resident memory,
and every process a worker started (`descendants`, `Watched`, to show that none outlives
it). The process lookups read /proc, so they work on Linux only.
"""

from __future__ import annotations

import contextlib
import os
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Self

from rewardsmith.core.procfs import EXITED_STATES, process_stat

READY_LINE = re.compile(r"worker (\d+) ready")
TOKEN_ENV = "REWARDSMITH_LOCAL_SERVER_TOKEN"


class LocalServer:
    """`rewardsmith serve --reward REWARD` on 127.0.0.1; `options` are more CLI options
    (`{"max_queue": 2}` becomes `--max-queue 2`, `{"health": True}` the switch
    `--health`); with `token`, bearer auth is on."""

    def __init__(
        self,
        reward: str | Path,
        workers: int = 2,
        token: str | None = None,
        options: dict[str, Any] | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.reward = str(reward)
        self.workers = workers
        self.token = token
        self.options = options or {}
        self._own_log = log_path is None  # a temporary file, removed by `stop`
        self.log_path = log_path or _temporary_log()
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 120.0) -> Self:
        """Start the server and wait until all its workers are ready."""
        command = [
            str(Path(sys.executable).with_name("rewardsmith")),
            "serve",
            "--reward",
            self.reward,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        for name, value in self.options.items():
            flag = f"--{name.replace('_', '-')}"
            if value is True:  # a switch
                command.append(flag)
            else:
                command += [flag, str(value)]
        env = dict(os.environ)
        if self.token is not None:
            command += ["--token-env", TOKEN_ENV]
            env[TOKEN_ENV] = self.token
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
            )
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop(signal.SIGKILL)
            raise
        return self

    @property
    def pid(self) -> int:
        assert self.process is not None, "the server is not started"
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 120.0) -> None:
        """Block until `workers` live workers have loaded the reward and /readyz says 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.log()[-4000:]}")
            if len(self.worker_pids()) >= self.workers and self._answers("/readyz"):
                return
            time.sleep(0.1)
        raise TimeoutError(f"the server was not ready within {timeout:g} s:\n{self.log()[-4000:]}")

    def worker_pids(self) -> list[int]:
        """The live worker processes that have loaded the reward (the server process
        itself when it runs one worker)."""
        ready = {int(pid) for pid in READY_LINE.findall(self.log())}
        return sorted(pid for pid in ready if pid == self.pid or _live_parent(pid) == self.pid)

    def worker_for(self, client_port: int) -> int | None:
        """The worker holding the loopback connection from `client_port`, if any."""
        inode = _connection_inode(self.port, client_port)
        if inode is None:
            return None
        target = f"socket:[{inode}]"
        for pid in self.worker_pids():
            with contextlib.suppress(OSError):
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    with contextlib.suppress(OSError):
                        if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                            return pid
        return None

    def memory(self) -> dict[int, int]:
        """Resident bytes of the server process and of each live worker."""
        pids = {self.pid, *self.worker_pids()}
        return {pid: rss for pid in pids if (rss := resident_bytes(pid)) is not None}

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 60.0) -> int | None:
        """Send `sig` and wait for the exit (SIGKILL after `timeout`); whatever is left of
        the server's session (e.g. check processes of a killed worker) is killed too, and
        a log file of our own is removed. Returns the exit code."""
        if self.process is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            code = None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self.process.wait()
        if self._own_log:
            self.log_path.unlink(missing_ok=True)
        return code

    def _answers(self, path: str) -> bool:
        try:
            with urllib.request.urlopen(self.url + path, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def resident_bytes(pid: int) -> int | None:
    """VmRSS of a process, or None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) * 1024 if found else None


def descendants(pid: int) -> list[int]:
    """The running processes that `pid` started, that they started, and so on."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (parent := _live_parent(int(entry))) is not None:
            children.setdefault(parent, []).append(int(entry))
    found: list[int] = []
    todo = [pid]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += below
    return found


class Watched:
    """Processes held through pidfds, so that a pid reused later is never taken for them."""

    def __init__(self, pids: list[int]) -> None:
        self.fds: dict[int, int] = {}
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                self.fds[pid] = os.pidfd_open(pid)

    def running(self) -> list[int]:
        """The watched processes that have not ended (a zombie has ended)."""
        poll = select.poll()
        for fd in self.fds.values():
            poll.register(fd, select.POLLIN)
        ended = {fd for fd, _ in poll.poll(0)}
        return sorted(pid for pid, fd in self.fds.items() if fd not in ended)

    def wait_ended(self, timeout: float) -> list[int]:
        """Wait up to `timeout` seconds for all to end; those still running."""
        deadline = time.monotonic() + timeout
        while (left := self.running()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return left

    def close(self) -> None:
        for fd in self.fds.values():
            os.close(fd)
        self.fds = {}


def _live_parent(pid: int) -> int | None:
    """The parent pid of a running process; None when it is gone or a zombie."""
    found = process_stat(pid)
    return None if found is None or found[0] in EXITED_STATES else found[1]


def _connection_inode(server_port: int, client_port: int) -> int | None:
    """The inode of the server side of a loopback TCP connection, from /proc/net/tcp."""
    local, remote = f"0100007F:{server_port:04X}", f"0100007F:{client_port:04X}"
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1] == local and fields[2] == remote:
            return int(fields[9])
    return None


def _temporary_log() -> Path:
    handle, name = tempfile.mkstemp(prefix="rewardsmith-serve-", suffix=".log")
    os.close(handle)
    return Path(name)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
