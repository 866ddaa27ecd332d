"""Worker processes that end with their parent and cannot grow without bound (Linux).

A worker calls `die_with_parent` first thing: the kernel then SIGKILLs it when its
parent ends, however the parent ends (OOM killer, SIGKILL, crash), and even while the
worker is stuck in one long C call that a watchdog thread could never interrupt. The
kernel ties that signal to the *thread* that started the worker, not to its process, so
whoever starts workers does it through `start_in_lasting_thread`: from a thread that
lives as long as the process, never from a short-lived one (an executor's thread, a
refill thread) whose end would kill the worker. `limit_memory` caps a worker's address
space, so a pathological input fails with MemoryError instead of taking the machine.
"""

from __future__ import annotations

import ctypes
import os
import queue
import resource
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")
PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Have the kernel SIGKILL this process when `parent` (its parent process) ends; if
    `parent` has ended already, exit now."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"prctl(PR_SET_PDEATHSIG): {os.strerror(number)}")
    if os.getppid() != parent:  # it ended before the signal was set up: nothing will come
        os._exit(1)


def limit_memory(megabytes: int) -> None:
    """Cap this process's address space (RLIMIT_AS): allocations past it fail, which
    Python raises as MemoryError."""
    limit = megabytes << 20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


class _LastingThread:
    """One daemon thread per process that runs the calls handed to it, in order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: queue.SimpleQueue[tuple[Future, Callable[[], Any]]] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None

    def run(self, call: Callable[[], T]) -> T:
        if threading.current_thread() is self._thread:
            return call()
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._serve, name="rewardsmith-starter", daemon=True
                )
                self._thread.start()
        done: Future = Future()
        self._calls.put((done, call))
        return done.result()

    def _serve(self) -> None:
        while True:
            done, call = self._calls.get()
            done.set_running_or_notify_cancel()
            try:
                done.set_result(call())
            except BaseException as exc:  # handed to the caller, who re-raises it
                done.set_exception(exc)


_starter = _LastingThread()


def _fresh_starter() -> None:
    global _starter
    _starter = _LastingThread()  # a forked child has none of its parent's threads


os.register_at_fork(after_in_child=_fresh_starter)


def start_in_lasting_thread(start: Callable[[], T]) -> T:
    """`start()` (which starts worker processes), run in this process's lasting thread."""
    return _starter.run(start)
