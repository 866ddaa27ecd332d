"""Serving a program: calls sent to it on its stdin, and its answers read back as
literal values under one wall-clock deadline for the whole session."""

from __future__ import annotations

import ast
import os
import threading
import time
from typing import Any

from rewardsmith.sandbox.child import frame
from rewardsmith.sandbox.limits import Limits
from rewardsmith.sandbox.pipes import read_some, write_all
from rewardsmith.sandbox.workers import warm_worker

# CPython 3.11 keeps the AST builder's recursion counter per interpreter, not per thread:
# parsing or compiling ASTs from several threads at once can fail with a SystemError.
AST_LOCK = threading.Lock()


class CallFailed(Exception):
    """A call into a served program did not return a literal value in time."""


class Session:
    """A served program: `call(args, kwargs)` returns the entry point's literal result.

    The whole session shares one wall-clock deadline; reads and writes never block past
    it, whatever the program does with its pipes, and once a call has run out of time
    every later call fails at once.
    """

    def __init__(self, program: str, entry_point: str, limits: Limits) -> None:
        self.limits = limits
        self.worker = warm_worker(limits)
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

    def _failed(self, exc: OSError) -> CallFailed:
        self.failure = str(exc)
        return CallFailed(self.failure)

    def _send(self, data: bytes) -> None:
        try:
            write_all(self._requests, data, self.deadline)
        except (TimeoutError, ConnectionError) as exc:
            raise self._failed(exc) from None

    def _line(self) -> bytes:
        while b"\n" not in self._buffer:
            try:
                self._buffer += read_some(self.worker.responses, 1 << 16, self.deadline)
            except (TimeoutError, ConnectionError) as exc:
                raise self._failed(exc) from None
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
            request = frame((list(args), kwargs))
        except ValueError:
            raise CallFailed("the test's arguments are not plain values") from None
        self._send(request)
        raw = self._line()
        if len(raw) > self.limits.answer_bytes:  # parsing is costly: bounded before it
            raise CallFailed(f"answer larger than {self.limits.answer_bytes} bytes")
        line = raw.decode("utf-8", "replace")
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
