"""Isolated children waiting for their program (workers), kept warm in a pool per set
of limits, and stopped with everything they started."""

from __future__ import annotations

import atexit
import contextlib
import os
import queue
import threading
from typing import Literal

from rewardsmith.sandbox import cgroup
from rewardsmith.sandbox.child import bootstrap_settings, frame
from rewardsmith.sandbox.isolation import available, decided_mode, mode, warn_once
from rewardsmith.sandbox.limits import Limits
from rewardsmith.sandbox.template import ForkedRun, close_template, template
from rewardsmith.sandbox.uids import claimed_uid, release_uids


class Worker:
    """A child that has isolated itself (as a sandbox uid in `root` mode, in its own
    namespaces in `userns` mode) and waits for its program."""

    def __init__(self, limits: Limits) -> None:
        self.mode = mode()
        if not self.mode:
            raise RuntimeError(f"the sandbox cannot run here: {available()}")
        # in `userns` mode the namespaces part runs: no uid to claim, none to kill by
        self.claim = claimed_uid() if self.mode == "root" else contextlib.nullcontext(0)
        uid = self.claim.__enter__()
        try:
            self._spawn(limits, uid)
        except BaseException:
            self.claim.__exit__(None, None, None)
            raise

    def _spawn(self, limits: Limits, uid: int) -> None:
        control_read, self.control = os.pipe()
        self.responses, response_write = os.pipe()
        self.limits = limits
        self.cgroup = cgroup.run_cgroup(limits)
        forked_by = template(self.mode)
        try:
            self.process = ForkedRun(forked_by, control_read, response_write)
        except BaseException:
            self.cgroup.remove()
            raise
        finally:
            os.close(control_read)
            os.close(response_write)
        try:  # before the settings are sent: nothing of the run is ever outside it
            self.cgroup.join(self.process.pid)
        except OSError:
            self.process.kill()
            self.cgroup.remove()
            raise
        settings = bootstrap_settings(limits, uid, self.mode)
        os.write(self.control, frame(settings))

    def alive(self) -> bool:
        return self.process.poll() is None

    def start(self, program: str, mode: Literal["script", "serve"], entry: str = "") -> None:
        """Hand the program over; from here on the child runs untrusted code."""
        job = frame({"program": program, "mode": mode, "entry_point": entry})
        with contextlib.suppress(BrokenPipeError):
            os.write(self.control, job)
        self._close_control()

    def _close_control(self) -> None:
        if self.control >= 0:  # closed once only: the number may be reused by then
            os.close(self.control)
            self.control = -1

    def kill(self) -> None:
        """Stop the child and everything it started: SIGKILL to the program, its PID
        namespace's init (the kernel then kills every process in the namespace)."""
        self.process.kill()

    def finish(self) -> None:
        """Kill the child and everything it started, and give its cgroup and uid back
        (kept for later runs)."""
        self.kill()
        self.process.wait()
        cgroup.done_with(self.cgroup, self.limits)
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()
        self._close_control()
        os.close(self.responses)
        self.claim.__exit__(None, None, None)


class _WarmPool:
    """Workers started ahead of time, so a run pays for handing over its program only.
    Each take asks one of the pool's lasting refill threads for a replacement (a thread
    started per take cost more than the rest of the take)."""

    def __init__(self, limits: Limits, size: int) -> None:
        self.limits = limits
        self.ready: queue.Queue[Worker] = queue.Queue()
        self.wanted: queue.SimpleQueue[bool] = queue.SimpleQueue()  # False: stop
        self.closed = False
        self.refills = [
            threading.Thread(target=self._keep_filled, daemon=True) for _ in range(size)
        ]
        for thread in self.refills:
            thread.start()
            self.wanted.put(True)

    def take(self) -> Worker:
        self.wanted.put(True)
        while True:
            try:
                worker = self.ready.get_nowait()
            except queue.Empty:
                return Worker(self.limits)
            if worker.alive():
                return worker
            worker.finish()

    def _keep_filled(self) -> None:
        """Start a worker for each take asked for, until told to stop (False)."""
        while self.wanted.get():
            try:
                worker = Worker(self.limits)
            except Exception:  # a take that finds none starts its own and meets the
                continue  # error there, with its caller
            if self.closed:
                worker.finish()
            else:
                self.ready.put(worker)

    def close(self) -> None:
        self.closed = True
        for _ in self.refills:
            self.wanted.put(False)
        for thread in self.refills:
            thread.join()
        while not self.ready.empty():
            self.ready.get_nowait().finish()


_POOLS: dict[Limits, _WarmPool] = {}
_POOLS_OWNER = [os.getpid()]  # the process whose pools these are
_POOLS_LOCK = threading.Lock()
WARM_WORKERS = 4


def warm_worker(limits: Limits) -> Worker:
    """A warm worker for these limits (pools are kept per set of limits)."""
    found, why, notes = decided_mode()
    if not found:
        raise RuntimeError(f"the sandbox cannot run here: {why}")
    if found == "userns":
        warn_once(notes)
    cgroup.warn_once()
    with _POOLS_LOCK:
        if _POOLS_OWNER[0] != os.getpid():  # forked from a scoring process: its warm
            _POOLS.clear()  # workers are its children, not ours (nor its threads here)
            _POOLS_OWNER[0] = os.getpid()
        if limits not in _POOLS:
            _POOLS[limits] = _WarmPool(limits, WARM_WORKERS)
        pool = _POOLS[limits]
    return pool.take()


@atexit.register
def close_pools() -> None:
    """Stop the warm workers, then the template they were forked from; give back the
    sandbox uids and remove the cgroups kept for later runs (also run at interpreter
    exit)."""
    with _POOLS_LOCK:
        if _POOLS_OWNER[0] == os.getpid():
            for pool in _POOLS.values():
                pool.close()
        _POOLS.clear()
        close_template()
        release_uids()
        cgroup.remove_kept()
