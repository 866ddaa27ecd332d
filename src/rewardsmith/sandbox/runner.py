"""Running untrusted Python programs in isolated child processes.

Threat model: the program was written by a policy that is rewarded for passing, on the
machine that trains it. Each layer below defends one thing:

- a fresh network namespace (bootstrap.py): no network, not even loopback;
- a private mount namespace with tmpfs on /tmp, /var/tmp, /dev/shm and over hidden
  directories such as /root: nothing written survives the run, nothing private is seen;
- an unprivileged uid per concurrent run (claimed with a lock file), no groups and
  no_new_privs: the host's files are read-only to it, and RLIMIT_NPROC bounds fork bombs
  (root ignores that limit, so the uid matters);
- RLIMIT_AS / CPU / NOFILE / FSIZE: memory bombs, busy loops, descriptor and disk
  exhaustion; a wall-clock deadline kills sleepers and signal-ignorers;
- an empty environment: the parent's variables (tokens, keys) are not inherited;
- after every run every process of the run's uid is killed, so nothing that daemonised
  or started a new session survives;
- output is read up to a cap and the child is killed past it;
- verdicts never come from the program: stdout is compared by the caller, and in
  `serve` mode the program only answers calls with literal values that the caller
  parses (`ast.literal_eval`) and compares itself, so exit codes, printed markers,
  `sys.exit(0)`, patched builtins or objects whose `__eq__` always says True count for
  nothing.
"""

from __future__ import annotations

import ast
import atexit
import contextlib
import fcntl
import marshal
import os
import queue
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

BOOTSTRAP = (Path(__file__).with_name("bootstrap.py")).read_text()
UID_BASE, UID_SLOTS = 61000, 256
LOCK_DIR = Path("/run/rewardsmith-sandbox") if os.access("/run", os.W_OK) else Path("/tmp")


# CPython 3.11 keeps the AST builder's recursion counter per interpreter, not per thread:
# parsing or compiling ASTs from several threads at once can fail with a SystemError.
AST_LOCK = threading.Lock()


class Limits(BaseModel):
    """Per-run limits, with safe defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    wall_seconds: float = Field(default=10.0, gt=0)
    cpu_seconds: int = Field(default=10, ge=1)
    memory_mb: int = Field(default=1024, ge=64)
    processes: int = Field(default=32, ge=1)
    open_files: int = Field(default=64, ge=8)
    file_size_mb: int = Field(default=16, ge=1)
    tmpfs_mb: int = Field(default=64, ge=1)
    output_bytes: int = Field(default=1 << 20, ge=1024)


@dataclass
class RunResult:
    """How a program ended, and what it printed (capped)."""

    exit_code: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool = False
    output_capped: bool = False
    seconds: float = 0.0

    @property
    def verdict(self) -> str:
        if self.timed_out:
            return "timeout"
        if self.output_capped:
            return "output limit"
        return "exited" if self.exit_code == 0 else f"exit code {self.exit_code}"


class CallFailed(Exception):
    """A call into a served program did not return a literal value in time."""


def available() -> str:
    """'' when the sandbox can run here, else why not (it needs root on Linux)."""
    if sys.platform != "linux":
        return "the sandbox needs Linux namespaces"
    if os.geteuid() != 0:
        return "the sandbox needs root to create namespaces and switch to a sandbox uid"
    return ""


@contextlib.contextmanager
def _claimed_uid() -> Iterator[int]:
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
                if entry.stat().st_uid == uid and not _zombie(entry.path):
                    os.kill(int(entry.name), signal.SIGKILL)
                    found = True
            except (FileNotFoundError, ProcessLookupError):
                continue
        if not found:
            return
        time.sleep(0.002)


def _zombie(proc_dir: str) -> bool:
    """A process that has exited and waits to be reaped (nothing left to kill)."""
    with open(f"{proc_dir}/stat", "rb") as stat:
        return stat.read().rsplit(b")", 1)[1].split()[0] == b"Z"


def _frame(payload: object) -> bytes:
    """A 4-byte length and a marshal blob: the control channel's unit."""
    blob = marshal.dumps(payload)
    return len(blob).to_bytes(4, "little") + blob


class _Worker:
    """A child that has isolated itself as a sandbox uid and waits for its program."""

    def __init__(self, limits: Limits) -> None:
        self.claim = _claimed_uid()
        uid = self.claim.__enter__()
        try:
            self._spawn(limits, uid)
        except BaseException:
            self.claim.__exit__(None, None, None)
            raise

    def _spawn(self, limits: Limits, uid: int) -> None:
        control_read, self.control = os.pipe()
        self.responses, response_write = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", BOOTSTRAP, str(control_read), str(response_write)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(control_read, response_write),
            env={},
            start_new_session=True,
        )
        os.close(control_read)
        os.close(response_write)
        settings = {"uid": uid, "limits": limits.model_dump(), "readable": [sys.base_prefix]}
        os.write(self.control, _frame(settings))

    def alive(self) -> bool:
        return self.process.poll() is None

    def start(self, program: str, mode: Literal["script", "serve"], entry: str = "") -> None:
        """Hand the program over; from here on the child runs untrusted code."""
        job = _frame({"program": program, "mode": mode, "entry_point": entry})
        with contextlib.suppress(BrokenPipeError):
            os.write(self.control, job)
        self._close_control()

    def _close_control(self) -> None:
        if self.control >= 0:  # closed once only: the number may be reused by then
            os.close(self.control)
            self.control = -1

    def finish(self) -> None:
        """Kill the child and everything of its uid, and give the uid back."""
        self.process.kill()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        self._close_control()
        os.close(self.responses)
        self.claim.__exit__(None, None, None)


class _WarmPool:
    """Workers started ahead of time, so a run pays for handing over its program only."""

    def __init__(self, limits: Limits, size: int) -> None:
        self.limits = limits
        self.ready: queue.Queue[_Worker] = queue.Queue()
        self.refills: list[threading.Thread] = []
        self.closed = False
        for _ in range(size):
            self._refill()

    def take(self) -> _Worker:
        self._refill()
        while True:
            try:
                worker = self.ready.get_nowait()
            except queue.Empty:
                return _Worker(self.limits)
            if worker.alive():
                return worker
            worker.finish()

    def _refill(self) -> None:
        self.refills = [thread for thread in self.refills if thread.is_alive()]
        thread = threading.Thread(target=self._add_worker, daemon=True)
        thread.start()
        self.refills.append(thread)

    def _add_worker(self) -> None:
        worker = _Worker(self.limits)
        if self.closed:
            worker.finish()
        else:
            self.ready.put(worker)

    def close(self) -> None:
        self.closed = True
        for thread in self.refills:
            thread.join()
        while not self.ready.empty():
            self.ready.get_nowait().finish()


_POOLS: dict[Limits, _WarmPool] = {}
_POOLS_LOCK = threading.Lock()
WARM_WORKERS = 4


def _worker(limits: Limits) -> _Worker:
    """A warm worker for these limits (pools are kept per set of limits)."""
    with _POOLS_LOCK:
        if limits not in _POOLS:
            _POOLS[limits] = _WarmPool(limits, WARM_WORKERS)
        pool = _POOLS[limits]
    return pool.take()


@atexit.register
def close_pools() -> None:
    """Stop the warm workers (also run at interpreter exit)."""
    with _POOLS_LOCK:
        for pool in _POOLS.values():
            pool.close()
        _POOLS.clear()


def run(program: str, stdin: bytes = b"", limits: Limits | None = None) -> RunResult:
    """Run `program` as a script with `stdin`; capture (capped) stdout and stderr."""
    limits = limits or Limits()
    worker = _worker(limits)
    try:
        started = time.perf_counter()
        worker.start(program, "script")
        result = _collect(worker.process, stdin, limits)
        result.seconds = time.perf_counter() - started
        return result
    finally:
        worker.finish()


def _collect(process: subprocess.Popen, stdin: bytes, limits: Limits) -> RunResult:
    """Feed stdin and read stdout/stderr together, never blocking past the deadline."""
    assert process.stdin and process.stdout and process.stderr
    deadline = time.monotonic() + limits.wall_seconds
    buffers = {process.stdout.fileno(): bytearray(), process.stderr.fileno(): bytearray()}
    pending = memoryview(stdin)
    timed_out = capped = False
    with selectors.DefaultSelector() as selector:
        for fd in buffers:
            selector.register(fd, selectors.EVENT_READ)
        os.set_blocking(process.stdin.fileno(), False)
        if pending:
            selector.register(process.stdin.fileno(), selectors.EVENT_WRITE)
        else:
            process.stdin.close()
        while any(key.events == selectors.EVENT_READ for key in selector.get_map().values()):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            exited = process.poll() is not None  # then drain what is there and stop:
            events = selector.select(0 if exited else min(remaining, 0.05))  # leftover
            if exited and not events:  # children may hold the pipes open forever
                break
            for key, _ in events:
                if key.events == selectors.EVENT_WRITE:
                    pending = _feed(selector, process, pending)
                    continue
                chunk = os.read(key.fd, 1 << 16)
                if not chunk:
                    selector.unregister(key.fd)
                    continue
                buffers[key.fd] += chunk
                capped = capped or sum(map(len, buffers.values())) > limits.output_bytes
            if capped:
                break
    if not process.stdin.closed:
        process.stdin.close()
    if timed_out or capped:
        process.kill()
    try:
        exit_code = process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        process.kill()
        exit_code, timed_out = process.wait(), True
    out, err = (
        bytes(buffers[s.fileno()][: limits.output_bytes]) for s in (process.stdout, process.stderr)
    )
    process.stdout.close()
    process.stderr.close()
    return RunResult(exit_code, out, err, timed_out, capped)


def _feed(
    selector: selectors.BaseSelector, process: subprocess.Popen, pending: memoryview
) -> memoryview:
    """Write what the child's stdin takes now; close it when all is written or refused."""
    assert process.stdin is not None
    try:
        pending = pending[os.write(process.stdin.fileno(), pending) :]
    except BlockingIOError:
        return pending
    except BrokenPipeError:
        pending = pending[len(pending) :]
    if not pending:
        selector.unregister(process.stdin.fileno())
        process.stdin.close()
    return pending


class Session:
    """A served program: `call(args, kwargs)` returns the entry point's literal result.

    The whole session shares one wall-clock deadline; reads and writes never block past
    it, whatever the program does with its pipes, and once a call has run out of time
    every later call fails at once.
    """

    def __init__(self, program: str, entry_point: str, limits: Limits) -> None:
        self.limits = limits
        self.worker = _worker(limits)
        self.worker.start(program, "serve", entry_point)
        assert self.worker.process.stdin is not None
        self._requests = self.worker.process.stdin.fileno()
        os.set_blocking(self._requests, False)
        os.set_blocking(self.worker.responses, False)
        self._buffer = b""
        self.failure = ""
        self.deadline = time.monotonic() + limits.wall_seconds
        try:  # the program may exit, hang or crash while it loads
            self.ready = self._line() == b"ready"
        except CallFailed:
            self.ready = False

    def _wait(self, fd: int, event: int) -> None:
        remaining = self.deadline - time.monotonic()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, event)
            if remaining <= 0 or not selector.select(remaining):
                self.failure = "time limit exceeded"
                raise CallFailed(self.failure)

    def _send(self, data: bytes) -> None:
        while data:
            self._wait(self._requests, selectors.EVENT_WRITE)
            try:
                data = data[os.write(self._requests, data) :]
            except BlockingIOError:
                continue
            except BrokenPipeError:
                self.failure = "the program exited"
                raise CallFailed(self.failure) from None

    def _line(self) -> bytes:
        while b"\n" not in self._buffer:
            self._wait(self.worker.responses, selectors.EVENT_READ)
            try:
                chunk = os.read(self.worker.responses, 1 << 16)
            except BlockingIOError:
                continue
            if not chunk:
                self.failure = "the program closed its answers"
                raise CallFailed(self.failure)
            self._buffer += chunk
            if len(self._buffer) > self.limits.output_bytes:
                self.failure = "the program wrote too much"
                raise CallFailed(self.failure)
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line

    def call(self, args: list[Any], kwargs: dict[str, Any]) -> Any:
        """The call's result as a Python literal; CallFailed if it raised or misbehaved."""
        if self.failure:
            raise CallFailed(self.failure)
        try:
            request = marshal.dumps((list(args), kwargs))
        except ValueError:
            raise CallFailed("the test's arguments are not plain values") from None
        self._send(len(request).to_bytes(4, "little") + request)
        line = self._line().decode("utf-8", "replace")
        if line.startswith("!"):
            raise CallFailed(f"raised {line[1:]}")
        try:
            with AST_LOCK:
                return ast.literal_eval(line[1:])
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            raise CallFailed("returned something that is not a plain value") from None

    def close(self) -> None:
        self.worker.finish()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
