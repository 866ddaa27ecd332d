"""Worker processes for CPU-heavy checks, with timeouts that work from any thread.

Signal-based timeouts (`signal.alarm`, which math-verify uses by default) only work in
the main thread, so inside a trainer's thread pool or an asyncio server they either
fail or silently never fire. Here the check runs in a worker process; when it overruns,
pebble kills that worker and starts a fresh one, and the caller gets a TimeoutError.

Workers die with the process that owns the pool (see core/lifecycle.py) and run under a
memory limit: a check that needs more gets an error status, not the machine. Checkers may
catch the MemoryError and answer anyway (math-verify does), so a check that grew its
worker's resident memory by more than half the limit is reported as out of memory
whatever it returned (memory grows by doubling: a check that hit the limit grew that
much). Work done for one request can be abandoned as a whole: pool tasks submitted while
a `TaskScope` is current (from any coroutine, or `asyncio.to_thread` thread, that
inherited it) are cancelled together by `TaskScope.cancel`; a running one is killed with
its worker, which the pool replaces.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import BrokenExecutor, CancelledError, Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from pebble import ProcessExpired, ProcessPool

from rewardsmith.core.lifecycle import die_with_parent, limit_memory, start_in_lasting_thread
from rewardsmith.core.spawn_guard import hint, refuse_in_bootstrap
from rewardsmith.core.types import Status

# Address space of one worker. A warmed-up math worker peaks near 90 MB (sympy, antlr,
# math-verify; no threads, no numpy); a pathological power grows by ~150 MB a second.
DEFAULT_MEMORY_MB = 1024
SLOTS = 4096  # tasks handed to pebble at once; more wait in the pool
_worker_memory_mb = 0  # in a worker process: its limit,
_worker_flags: tuple[Any, Any] = ((), ())  # and the pool's (started, cancelled) flags


class TaskScope:
    """The pool tasks submitted on behalf of one piece of work, to cancel together."""

    def __init__(self) -> None:
        self._futures: list[Future] = []
        self._cancelled = False
        self._lock = threading.Lock()

    def add(self, future: Future) -> None:
        with self._lock:
            if not self._cancelled:
                self._futures.append(future)
                return
        future.cancel()  # submitted after the work was abandoned: never run it

    def cancel(self) -> None:
        """Cancel every task submitted in this scope, now and later (running ones are
        killed with their worker, which the pool replaces)."""
        with self._lock:
            self._cancelled = True
            futures, self._futures = self._futures, []
        for future in futures:
            future.cancel()


_SCOPE: ContextVar[TaskScope | None] = ContextVar("rewardsmith_task_scope", default=None)


@contextmanager
def task_scope(scope: TaskScope) -> Iterator[TaskScope]:
    """Make `scope` current: pool tasks submitted inside (also from coroutines and
    `asyncio.to_thread` threads started inside, which copy the context) join it."""
    token = _SCOPE.set(scope)
    try:
        yield scope
    finally:
        _SCOPE.reset(token)


@dataclass(eq=False)
class _Task:
    future: Future  # the caller's; done when the check is
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    timeout: float | None
    slot: int | None = None  # its flags, while it is with pebble
    running: Future | None = None  # pebble's future


class WorkerPool:
    """A lazily started pool of `workers` processes (spawned, so safe next to threads),
    each limited to `memory_mb` of address space and killed when this process ends.

    A cancelled task is killed with its worker only if it has started: pebble hands
    every task to the workers at once, and would kill and replace the worker that picks
    up a task cancelled meanwhile, so abandoning N queued tasks would cost N restarts.
    Instead each task has two flags in memory shared with the workers, `started` (set by
    the worker that picks it up, which then skips it if `cancelled`) and `cancelled` (set
    here, which then kills it if `started`)."""

    def __init__(
        self,
        workers: int,
        initializer: Callable[[], None] | None = None,
        memory_mb: int = DEFAULT_MEMORY_MB,
    ) -> None:
        self.workers = max(1, workers)
        self.initializer = initializer
        self.memory_mb = memory_mb
        self._pool: ProcessPool | None = None
        self._flags: tuple[Any, Any] = ((), ())  # (started, cancelled), one byte per slot
        self._free: list[int] = []  # slots no task holds
        self._waiting: deque[_Task] = deque()  # tasks beyond SLOTS
        self._lock = threading.RLock()  # (pebble may call back at once, in this thread)

    def start(self) -> None:
        """Start the workers now (their initializer runs in the background)."""
        with self._lock:
            self._started()

    def submit(self, fn: Callable[..., Any], *args: Any, timeout: float | None) -> Future:
        """Run `fn(*args)` in a worker; cancelling the future stops it (see the class)."""
        task = _Task(Future(), fn, args, timeout)
        with self._lock:
            self._waiting.append(task)
            self._dispatch()
        task.future.add_done_callback(partial(self._cancelled, task))
        scope = _SCOPE.get()
        if scope is not None:
            scope.add(task.future)
        return task.future

    def _dispatch(self) -> None:
        """Hand waiting tasks to pebble while slots are free (call holding the lock)."""
        pool = self._started()
        started, cancelled = self._flags
        while self._waiting and self._free:
            task = self._waiting.popleft()
            if task.future.cancelled():
                continue
            slot = self._free.pop()
            started[slot] = cancelled[slot] = 0
            try:
                running = pool.schedule(
                    _check, args=(slot, task.fn, *task.args), timeout=task.timeout
                )
            except Exception as exc:  # the pool is broken or stopped
                self._free.append(slot)
                with contextlib.suppress(InvalidStateError):  # (unless cancelled meanwhile)
                    task.future.set_exception(exc)
                continue
            task.slot, task.running = slot, running
            running.add_done_callback(partial(self._finished, task))

    def _cancelled(self, task: _Task, future: Future) -> None:
        """Done-callback of the caller's future: stop a cancelled task."""
        if not future.cancelled():
            return
        with self._lock:
            if task.slot is None or task.running is None:
                return  # still waiting (then dropped), or over
            started, cancelled = self._flags
            cancelled[task.slot] = 1
            if started[task.slot]:
                task.running.cancel()  # pebble kills its worker and starts another

    def _finished(self, task: _Task, running: Future) -> None:
        if not running.cancelled():
            with contextlib.suppress(InvalidStateError):  # (unless cancelled meanwhile)
                if (error := running.exception()) is not None:
                    task.future.set_exception(error)
                else:
                    task.future.set_result(running.result())
        with self._lock:
            if task.slot is not None:
                self._free.append(task.slot)
                task.slot = None
            if self._pool is not None:
                self._dispatch()

    def _started(self) -> ProcessPool:
        if self._pool is None:
            refuse_in_bootstrap()
            self._pool = start_in_lasting_thread(self._open)
        return self._pool

    def _open(self) -> ProcessPool:
        context = multiprocessing.get_context("spawn")
        if not self._flags[0]:  # once: tasks of a closed pool may still give slots back
            self._flags = (context.RawArray("B", SLOTS), context.RawArray("B", SLOTS))
            self._free = list(range(SLOTS))
        pool = ProcessPool(
            max_workers=self.workers,
            initializer=_enter_worker,
            initargs=(os.getpid(), self.memory_mb, self._flags, self.initializer),
            context=context,
        )
        pool.schedule(_ready)  # pebble starts the workers now, from this (lasting) thread
        return pool

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            waiting, self._waiting = self._waiting, deque()
        for task in waiting:
            task.future.cancel()
        if pool is not None:
            pool.stop()
            pool.join()


def _enter_worker(
    parent: int,
    memory_mb: int,
    flags: tuple[Any, Any],
    initializer: Callable[[], None] | None,
) -> None:
    """Worker initializer: end with `parent`, stay within `memory_mb`, end at once when
    stopped (pebble's SIGTERM handler would wait for a long C call to return, and block
    the pool for seconds before its SIGKILL), then warm up."""
    global _worker_memory_mb, _worker_flags
    die_with_parent(parent)
    limit_memory(memory_mb)
    _worker_memory_mb, _worker_flags = memory_mb, flags
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if initializer is not None:
        initializer()


def _check(slot: int, fn: Callable[..., Any], *args: Any) -> Any:
    """Run one task in a worker, unless it was cancelled before it started (then nobody
    waits for its result). MemoryError when it grew the worker by more than half its
    limit, even if it caught the MemoryError itself."""
    started, cancelled = _worker_flags
    started[slot] = 1
    if cancelled[slot]:
        return None
    Path("/proc/self/clear_refs").write_text("5")  # the peak (VmHWM) starts from now
    result = fn(*args)
    if 2 * _grown_mb() > _worker_memory_mb:
        raise MemoryError
    return result


def _grown_mb() -> int:
    """How far this process's resident memory rose above what it holds now, in MiB,
    since its peak (VmHWM) was last reset."""
    status = Path("/proc/self/status").read_bytes()

    def kilobytes(field: bytes) -> int:
        start = status.index(field) + len(field)
        return int(status[start : status.index(b"kB", start)])

    return (kilobytes(b"VmHWM:") - kilobytes(b"VmRSS:")) >> 10


def _ready() -> None:
    """A no-op task: submitting it makes the pool start its workers."""


def outcome(future: Future) -> tuple[Status, Any]:
    """Wait for a pool task: (OK, result), (TIMEOUT, message) or (ERROR, message)."""
    try:
        return Status.OK, future.result()
    except FutureTimeout:
        return Status.TIMEOUT, "check exceeded its time limit; worker killed and replaced"
    except CancelledError:
        return Status.ERROR, "check cancelled: the work it was part of was abandoned"
    except MemoryError:
        return Status.ERROR, "check exceeded its worker's memory limit"
    except ProcessExpired as exc:
        return Status.ERROR, f"worker process died (exit code {exc.exitcode}){hint()}"
    except BrokenExecutor as exc:
        return Status.ERROR, f"{type(exc).__name__}: {exc}{hint()}"
    except Exception as exc:
        return Status.ERROR, f"{type(exc).__name__}: {exc}"


async def aoutcome(future: Future) -> tuple[Status, Any]:
    """`outcome` for asyncio callers: awaits the task without blocking the loop; when the
    caller is cancelled, so is the task (its worker is killed if it is running)."""
    try:
        await asyncio.wrap_future(future)
    except asyncio.CancelledError:
        task = asyncio.current_task()
        if task is None or task.cancelling():
            raise  # the caller was cancelled, not only the task (e.g. by its TaskScope)
    except Exception:
        pass  # examined below, by the same rules as `outcome`
    return outcome(future)
