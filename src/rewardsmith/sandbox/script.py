"""Running a program as a script: stdin fed and stdout/stderr read together, capped,
never blocking past the wall-clock deadline."""

from __future__ import annotations

import os
import selectors
import subprocess
import time
from dataclasses import dataclass

from rewardsmith.sandbox.limits import Limits
from rewardsmith.sandbox.workers import Worker, warm_worker


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


def run(program: str, stdin: bytes = b"", limits: Limits | None = None) -> RunResult:
    """Run `program` as a script with `stdin`; capture (capped) stdout and stderr."""
    limits = limits or Limits()
    worker = warm_worker(limits)
    try:
        started = time.perf_counter()
        worker.start(program, "script")
        result = _collect(worker, stdin, limits)
        result.seconds = time.perf_counter() - started
        return result
    finally:
        worker.finish()


def _collect(worker: Worker, stdin: bytes, limits: Limits) -> RunResult:
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
