"""Running untrusted Python programs in isolated child processes.

Threat model: the program was written by a policy that is rewarded for passing, on the
machine that trains it. There are two isolation modes, chosen once per process: `root`
when running as root, else `userns` when this kernel lets an unprivileged user create
user namespaces (checked once by isolating a child for real); with neither, the sandbox
refuses to run (`available()` says why). Each layer below defends one thing:

- a fresh network namespace (bootstrap.py, both modes): no network, not even loopback;
- a private mount namespace with tmpfs on /tmp, /var/tmp, /dev/shm and over hidden
  directories such as /root: nothing written survives the run, nothing private is seen.
  In `userns` mode every mount is also made read-only (recursively, so that no mount
  namespace made later can undo it), the user's home directory and /run (the user's
  D-Bus and agent sockets) are hidden too, and a fresh /proc shows only the run's
  processes (other processes of the same user could otherwise be read through /proc);
- `root`: an unprivileged uid per concurrent run (claimed with a lock file), no groups
  and no_new_privs: the host's files are read-only to it and private ones unreadable,
  and RLIMIT_NPROC bounds fork bombs (root ignores that limit, so the uid matters).
  `userns`: the runner's own uid (1000 inside the namespace), every capability dropped,
  no nested user namespaces, no_new_privs. WEAKER: the program can read every file the
  runner's user can read, except in the hidden directories, keeps the user's
  supplementary groups (an unprivileged user namespace cannot drop them), and can
  connect to Unix sockets outside the hidden directories that the user may use.
  RLIMIT_NPROC still bounds fork bombs: since Linux 5.14 it counts the processes of the
  uid inside the run's own user namespace, i.e. of this run only;
- RLIMIT_AS / CPU / NOFILE / FSIZE: memory bombs, busy loops, descriptor and disk
  exhaustion; a wall-clock deadline kills sleepers and signal-ignorers;
- an empty environment: the parent's variables (tokens, keys) are not inherited;
- nothing started by the program outlives its run, even if it daemonised or started a
  new session: in `root` mode every process of the run's uid is killed after the run;
  in `userns` mode the run has its own PID namespace, whose init (PID 1, beside the
  program's PID 2) ends with the program or when the run is stopped, and the kernel
  then kills every process in the namespace (killing by uid would kill the user's own
  processes);
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
import pwd
import queue
import selectors
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

BOOTSTRAP_PATH = Path(__file__).with_name("bootstrap.py")
# compiled once here, not in every child: the child's `-c` stub reads it as the first
# control frame (the same interpreter runs both, so the marshal format is the same);
# without docstrings it stays far below a pipe's buffer, so sending it never waits
BOOTSTRAP_CODE = marshal.dumps(
    compile(BOOTSTRAP_PATH.read_text(), str(BOOTSTRAP_PATH), "exec", optimize=2)
)
STUB = (
    "import marshal, os, sys\n"
    "control = os.fdopen(int(sys.argv[1]), 'rb')\n"
    "exec(marshal.loads(control.read(int.from_bytes(control.read(4), 'little'))))\n"
)
UID_BASE, UID_SLOTS = 61000, 256
LOCK_DIR = Path("/run/rewardsmith-sandbox") if os.access("/run", os.W_OK) else Path("/tmp")


# CPython 3.11 keeps the AST builder's recursion counter per interpreter, not per thread:
# parsing or compiling ASTs from several threads at once can fail with a SystemError.
AST_LOCK = threading.Lock()

# Replaced by a fresh tmpfs in every run: an interpreter installed here cannot run there.
SCRATCH_DIRS = ("/tmp", "/var/tmp", "/dev/shm")


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


class WeakerIsolationWarning(RuntimeWarning):
    """The sandbox runs in `userns` mode, whose protections are weaker than as root.

    Emitted once per process, at the first run; turn it into an error
    (`-W error::rewardsmith.sandbox.runner.WeakerIsolationWarning`) to refuse that mode.
    """


_MODE_LOCK = threading.Lock()
_MODE: tuple[str, str, list[str]] | None = None  # (mode, why not, notes)
_WARN_LOCK = threading.Lock()
_WARNED = False


def _mode() -> tuple[str, str, list[str]]:
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
        process = _start_child(control_read)
    finally:
        os.close(control_read)
    try:
        with contextlib.suppress(BrokenPipeError):
            settings = {**_settings(Limits(), 0, "userns"), "probe": True}
            os.write(control, _code_frame() + _frame(settings))
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
    return _mode()[1]


def mode() -> str:
    """'root' or 'userns': how runs are isolated here ('' if they cannot be)."""
    return _mode()[0]


def _warn_once(notes: list[str]) -> None:
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
        "they run as this user (uid 1000 inside), not as a separate sandbox uid, so they "
        "can read every file this user can read, except in /tmp, /var/tmp, /dev/shm, "
        "/run and the home directory, which they see empty",
        "they keep this user's supplementary groups for file access, which an "
        "unprivileged user namespace cannot drop"
        + (f" (now {', '.join(map(str, groups))})" if groups else ""),
        "they can connect to the Unix sockets outside those directories that this user "
        "may use (a network namespace covers only the network and abstract sockets)",
        *notes,
    ]
    warnings.warn(
        "rewardsmith sandbox: not running as root, so untrusted programs are isolated "
        "with unprivileged user namespaces instead: no network, no writes outside their "
        "own tmpfs, their own PID namespace and /proc, every process killed with the "
        "run, RLIMIT_NPROC per run. Weaker than as root: "
        + "; ".join(weaker)
        + ". For full isolation run as root, or else as a dedicated user without "
        "privileged groups whose files hold nothing secret; make this warning an error "
        "to refuse this mode.",
        WeakerIsolationWarning,
        stacklevel=5,
    )


def _hidden_in_userns() -> list[str]:
    """The runner's home directories and /run: hidden from `userns` mode programs."""
    homes = [os.environ.get("HOME", "")]
    with contextlib.suppress(KeyError):
        homes.append(pwd.getpwuid(os.geteuid()).pw_dir)
    return sorted({path for path in (*homes, "/run") if path and os.path.isabs(path)})


def _settings(limits: Limits, uid: int, mode: str) -> dict[str, Any]:
    settings = {"mode": mode, "uid": uid, "limits": limits.model_dump()}
    settings["readable"] = [os.path.realpath(sys.base_prefix)]
    if mode == "userns":
        settings["hide"] = _hidden_in_userns()
    return settings


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


def _code_frame() -> bytes:
    """The first control frame: the bootstrap, compiled."""
    return len(BOOTSTRAP_CODE).to_bytes(4, "little") + BOOTSTRAP_CODE


def _start_child(control: int, *more_fds: int) -> subprocess.Popen:
    """A `python -I -S` child that will run the bootstrap sent on `control`."""
    return subprocess.Popen(
        [sys.executable, "-I", "-S", "-c", STUB, str(control), *map(str, more_fds)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        pass_fds=(control, *more_fds),
        env={},
        start_new_session=True,
    )


class _Worker:
    """A child that has isolated itself (as a sandbox uid in `root` mode, in its own
    namespaces in `userns` mode) and waits for its program."""

    def __init__(self, limits: Limits) -> None:
        self.mode = mode()
        if not self.mode:
            raise RuntimeError(f"the sandbox cannot run here: {available()}")
        # in `userns` mode the namespaces part runs: no uid to claim, none to kill by
        self.claim = _claimed_uid() if self.mode == "root" else contextlib.nullcontext(0)
        uid = self.claim.__enter__()
        try:
            self._spawn(limits, uid)
        except BaseException:
            self.claim.__exit__(None, None, None)
            raise

    def _spawn(self, limits: Limits, uid: int) -> None:
        control_read, self.control = os.pipe()
        self.responses, response_write = os.pipe()
        self.process = _start_child(control_read, response_write)
        os.close(control_read)
        os.close(response_write)
        os.write(self.control, _code_frame() + _frame(_settings(limits, uid, self.mode)))

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

    def kill(self) -> None:
        """Stop the child and everything it started.

        `root`: SIGKILL (the rest of the uid is killed in `finish`). `userns`: SIGTERM
        to the waiter outside the namespace, which kills and reaps the namespace's init
        (the kernel then kills every process in it); SIGKILL only if that hangs, as the
        init would then be left to a reaper that may never reap it.
        """
        if self.mode == "root":
            self.process.kill()
            return
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()

    def finish(self) -> None:
        """Kill the child and everything it started, and give its uid back."""
        self.kill()
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
    found, why, notes = _mode()
    if not found:
        raise RuntimeError(f"the sandbox cannot run here: {why}")
    if found == "userns":
        _warn_once(notes)
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
        result = _collect(worker, stdin, limits)
        result.seconds = time.perf_counter() - started
        return result
    finally:
        worker.finish()


def _collect(worker: _Worker, stdin: bytes, limits: Limits) -> RunResult:
    """Feed stdin and read stdout/stderr together, never blocking past the deadline."""
    process = worker.process
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
        worker.kill()
    try:
        exit_code = process.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        worker.kill()
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
