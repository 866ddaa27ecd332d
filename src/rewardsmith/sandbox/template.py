"""Runs forked from a warm template instead of started as new interpreters.

The template is one sandbox child (child.py) that has loaded the bootstrap and waits on
a socket; for each run the runner sends it the run's five pipes (control, responses,
stdin, stdout, stderr) and it forks: the fork closes every other descriptor and starts
exactly as a run of its own would (bootstrap.py `main`: settings, isolation, program).
So a run costs a fork of a small, idle interpreter rather than an interpreter start.
The template never runs a program and never holds a run's data (it only passes pipes
on), so every run starts from the same state. It reports each run's pid and, once the
run has ended, its exit code; `ForkedRun` gives the runner the `subprocess.Popen` calls
it uses. The template dies with this process (PR_SET_PDEATHSIG) and its runs with it;
a template that has died is replaced on the next request.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
from concurrent.futures import Future
from typing import IO

from rewardsmith.sandbox.child import code_frame, frame, start_child, template_settings

REPORT_BYTES = 9  # kind (P: forked, X: ended, E: refused), pid, number (little-endian)
FORK_TIMEOUT = 30.0


class Template:
    """A warm template and the runs it has forked."""

    def __init__(self, mode: str) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        control_read, control = os.pipe()
        self.process = start_child(control_read, theirs.fileno())
        os.close(control_read)
        theirs.close()
        os.write(
            control,
            code_frame() + frame(template_settings(mode)),
        )
        os.close(control)
        self.socket = ours
        self.pid = self.process.pid
        self.mode = mode
        self.owner = os.getpid()
        self.lock = threading.Lock()  # one fork request at a time
        self.changed = threading.Condition()
        self.forked: list[Future[tuple[int, int]]] = []
        self.exit_codes: dict[int, int] = {}
        self.runs: set[int] = set()
        self.alive = True
        threading.Thread(target=self._read_reports, daemon=True).start()

    def _read_reports(self) -> None:
        while True:
            try:
                report, fds, _, _ = socket.recv_fds(self.socket, REPORT_BYTES, 1)
            except OSError:
                report, fds = b"", []
            if len(report) != REPORT_BYTES:
                for fd in fds:
                    os.close(fd)
                break
            # the run's pid as the template sees it (in its own PID namespace): its key
            kind, pid = report[:1], int.from_bytes(report[1:5], "little")
            number = int.from_bytes(report[5:], "little", signed=True)
            with self.changed:
                if kind == b"X":
                    self.exit_codes[pid] = number
                    self.runs.discard(pid)
                    self.changed.notify_all()
                elif self.forked:
                    waiter = self.forked.pop(0)
                    if kind == b"P" and len(fds) == 1:
                        self.runs.add(pid)
                        waiter.set_result((pid, fds[0]))
                    else:
                        waiter.set_exception(OSError(f"the template refused a run ({number})"))
        with self.changed:  # the template has ended, and its runs with it (SIGKILL)
            self.alive = False
            for pid in self.runs:
                self.exit_codes.setdefault(pid, -signal.SIGKILL)
            self.runs.clear()
            for waiter in self.forked:
                waiter.set_exception(OSError("the template ended"))
            self.forked.clear()
            self.changed.notify_all()
        self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()

    def fork(self, fds: list[int]) -> tuple[int, int]:
        """Fork a run with these pipe ends (control, responses, stdin, stdout, stderr):
        its key (its pid in the template's PID namespace) and a pidfd of it."""
        waiter: Future[tuple[int, int]] = Future()
        with self.lock:
            with self.changed:
                if not self.alive:
                    raise OSError("the template ended")
                self.forked.append(waiter)
            socket.send_fds(self.socket, [b"F"], fds)
        return waiter.result(timeout=FORK_TIMEOUT)

    def exit_code(self, key: int, timeout: float | None) -> int | None:
        """The run's exit code once it has ended (None if not within `timeout`)."""
        with self.changed:
            self.changed.wait_for(lambda: key in self.exit_codes, timeout)
            return self.exit_codes.get(key)

    def close(self) -> None:
        """End the template: it exits when its socket closes; wait for it (reaped here,
        so that no zombie is left to a PID 1 that may never reap it)."""
        with contextlib.suppress(OSError):
            self.socket.shutdown(socket.SHUT_RDWR)
        self.process.wait()

    def forget(self, key: int) -> None:
        with self.changed:
            self.exit_codes.pop(key, None)


class ForkedRun:
    """A run forked by the template, with the calls of `subprocess.Popen` the sandbox
    uses: `pid`, `stdin`/`stdout`/`stderr`, `poll`, `wait`, `send_signal`, `kill`."""

    def __init__(self, template: Template, control: int, responses: int) -> None:
        self.template = template
        stdin_read, stdin_write = os.pipe()
        stdout_read, stdout_write = os.pipe()
        stderr_read, stderr_write = os.pipe()
        ends = [control, responses, stdin_read, stdout_write, stderr_write]
        try:
            self.key, self.pidfd = template.fork(ends)
        except BaseException:
            for fd in (stdin_write, stdout_read, stderr_read):
                os.close(fd)
            raise
        finally:
            for fd in (stdin_read, stdout_write, stderr_write):
                os.close(fd)
        self.pid = pid_of(self.pidfd)
        self.stdin: IO[bytes] | None = os.fdopen(stdin_write, "wb")
        self.stdout: IO[bytes] | None = os.fdopen(stdout_read, "rb")
        self.stderr: IO[bytes] | None = os.fdopen(stderr_read, "rb")
        self.returncode: int | None = None

    def poll(self) -> int | None:
        return self._ended(0)

    def wait(self, timeout: float | None = None) -> int:
        code = self._ended(timeout)
        if code is None:
            raise subprocess.TimeoutExpired(f"run {self.pid}", timeout or 0)
        return code

    def _ended(self, timeout: float | None) -> int | None:
        if self.returncode is None:
            self.returncode = self.template.exit_code(self.key, timeout)
            if self.returncode is not None:
                self.template.forget(self.key)
                os.close(self.pidfd)
        return self.returncode

    def send_signal(self, number: int) -> None:
        if self.returncode is None:  # (a pidfd: never a reused pid)
            with contextlib.suppress(ProcessLookupError):  # ended, reaped already
                signal.pidfd_send_signal(self.pidfd, number)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)


def pid_of(pidfd: int) -> int:
    """The pid, in this process's PID namespace, of the process `pidfd` refers to (-1
    once it has ended)."""
    with open(f"/proc/self/fdinfo/{pidfd}") as info:
        for line in info:
            if line.startswith("Pid:"):
                return int(line.split()[1])
    raise OSError(f"no pid in the fdinfo of pidfd {pidfd}")


_TEMPLATE: Template | None = None
_TEMPLATE_LOCK = threading.Lock()


def template(mode: str) -> Template:
    """This process's template for isolation `mode`, started (again) when there is none
    alive."""
    global _TEMPLATE
    with _TEMPLATE_LOCK:
        # (a process forked from this one inherits the object, not the template's
        # reader thread, nor is the template its child: it starts one of its own)
        current = _TEMPLATE
        if current is None or not current.alive or current.owner != os.getpid():
            _TEMPLATE = Template(mode)
        elif current.mode != mode:
            current.close()
            _TEMPLATE = Template(mode)
        return _TEMPLATE


def close_template() -> None:
    """End the template once its runs have ended (workers.close_pools calls this last)."""
    global _TEMPLATE
    with _TEMPLATE_LOCK:
        if _TEMPLATE is not None and _TEMPLATE.owner == os.getpid():
            _TEMPLATE.close()
        _TEMPLATE = None
