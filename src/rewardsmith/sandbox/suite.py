"""Running a program once per test in one isolated run: stdin/stdout test suites.

The run is isolated once (namespaces, file tree, cgroup, uid: see runner.py); inside it
the program is compiled once, and each test's input is run by a child forked from that
compiled state (bootstrap.py, `suite` mode), so a test costs a fork, not an interpreter
start and an isolation. Each test keeps its own wall-clock and output limits, its own
CPU limit (a new process), and a process group of its own that is killed when the test
ends. What the program printed comes back on a pipe the children cannot write to, and
the verdict is still the caller's comparison. The tests of one sample share its run:
files a test writes to /tmp are there for the next, and a process that left its test's
process group runs on until the run ends; samples never share anything.
"""

from __future__ import annotations

import marshal
import os
import time

from rewardsmith.sandbox.child import frame
from rewardsmith.sandbox.limits import Limits
from rewardsmith.sandbox.pipes import read_exactly, write_all
from rewardsmith.sandbox.script import RunResult
from rewardsmith.sandbox.workers import Worker, warm_worker

GRACE_SECONDS = 2.0  # for the run to report a test that used its whole wall-clock limit
ANSWER_FIELDS = {
    "exit_code": int,
    "stdout": bytes,
    "stderr": bytes,
    "timed_out": bool,
    "capped": bool,
}


class Suite:
    """`run(stdin)` runs the program on one test input in the suite's isolated run.

    A run that stops answering (crashed, out of time) is replaced by a fresh one for the
    next test, so one test's failure never decides another's.
    """

    def __init__(self, program: str, limits: Limits) -> None:
        self.program = program
        self.limits = limits
        self.worker: Worker | None = None

    def _started(self) -> Worker:
        if self.worker is None:
            self.worker = warm_worker(self.limits)
            self.worker.start(self.program, "suite")
            assert self.worker.process.stdin is not None
            os.set_blocking(self.worker.process.stdin.fileno(), False)
            os.set_blocking(self.worker.responses, False)
        return self.worker

    def run(self, stdin: bytes) -> RunResult:
        """How the program ended on this input, and what it printed (capped)."""
        worker = self._started()
        started = time.perf_counter()
        deadline = time.monotonic() + self.limits.wall_seconds + GRACE_SECONDS
        try:
            assert worker.process.stdin is not None
            write_all(worker.process.stdin.fileno(), frame(stdin), deadline)
            answer = _answer(worker.responses, self.limits, deadline)
        except (TimeoutError, ConnectionError) as exc:
            self.close()
            timed_out = isinstance(exc, TimeoutError)
            return RunResult(None, b"", str(exc).encode(), timed_out, seconds=_since(started))
        return RunResult(
            answer["exit_code"],
            answer["stdout"],
            answer["stderr"],
            answer["timed_out"],
            answer["capped"],
            _since(started),
        )

    def close(self) -> None:
        if self.worker is not None:
            self.worker.finish()
            self.worker = None

    def __enter__(self) -> Suite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _since(started: float) -> float:
    return time.perf_counter() - started


def _answer(fd: int, limits: Limits, deadline: float) -> dict:
    """One answer frame, checked: its size bounded before it is read, its fields typed."""
    size = int.from_bytes(read_exactly(fd, 4, deadline), "little")
    if size > 2 * limits.output_bytes + 4096:
        raise ConnectionError("the run's answer is larger than its output limit")
    try:
        answer = marshal.loads(read_exactly(fd, size, deadline))
    except (ValueError, EOFError, TypeError):
        raise ConnectionError("the run's answer is not readable") from None
    if not isinstance(answer, dict) or not all(
        isinstance(answer.get(key), kind) for key, kind in ANSWER_FIELDS.items()
    ):
        raise ConnectionError("the run's answer is malformed")
    return answer
