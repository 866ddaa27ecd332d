"""Worker processes for CPU-heavy checks, with timeouts that work from any thread.

Signal-based timeouts (`signal.alarm`, which math-verify uses by default) only work in
the main thread, so inside a trainer's thread pool or an asyncio server they either
fail or silently never fire. Here the check runs in a worker process; when it overruns,
pebble kills that worker and starts a fresh one, and the caller gets a TimeoutError.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from pebble import ProcessExpired, ProcessPool

from rewardsmith.core.types import Status


class WorkerPool:
    """A lazily started pool of `workers` processes (spawned, so safe next to threads)."""

    def __init__(self, workers: int, initializer: Callable[[], None] | None = None) -> None:
        self.workers = max(1, workers)
        self.initializer = initializer
        self._pool: ProcessPool | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the workers now (their initializer runs in the background)."""
        self.submit(_ready, timeout=None)

    def submit(self, fn: Callable[..., Any], *args: Any, timeout: float | None) -> Future:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPool(
                    max_workers=self.workers,
                    initializer=self.initializer,
                    context=multiprocessing.get_context("spawn"),
                )
            return self._pool.schedule(fn, args=args, timeout=timeout)

    def close(self) -> None:
        with self._lock:
            if self._pool is not None:
                self._pool.stop()
                self._pool.join()
                self._pool = None


def _ready() -> None:
    """A no-op task: submitting it makes the pool start its workers."""


def outcome(future: Future) -> tuple[Status, Any]:
    """Wait for a pool task: (OK, result), (TIMEOUT, message) or (ERROR, message)."""
    try:
        return Status.OK, future.result()
    except FutureTimeout:
        return Status.TIMEOUT, "check exceeded its time limit; worker killed and replaced"
    except ProcessExpired as exc:
        return Status.ERROR, f"worker process died (exit code {exc.exitcode})"
    except Exception as exc:
        return Status.ERROR, f"{type(exc).__name__}: {exc}"


async def aoutcome(future: Future) -> tuple[Status, Any]:
    """`outcome` for asyncio callers: awaits the task without blocking the loop."""
    with contextlib.suppress(Exception):  # examined below, by the same rules as `outcome`
        await asyncio.wrap_future(future)
    return outcome(future)
