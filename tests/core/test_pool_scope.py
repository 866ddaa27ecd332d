"""Abandoning work: the pool tasks submitted in a TaskScope are cancelled together; the
one running is killed with its worker, the queued ones never run (and cost no worker)."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

from rewardsmith.core.pool import TaskScope, WorkerPool, aoutcome, outcome, task_scope
from rewardsmith.core.types import Status

CANCELLED = (Status.ERROR, "check cancelled: the work it was part of was abandoned")


def mark_and_sleep(mark: str, seconds: float) -> None:
    Path(mark).touch()
    time.sleep(seconds)


def test_cancelling_a_scope_kills_the_running_task_and_drops_the_queued(tmp_path: Path):
    pool = WorkerPool(1)
    try:
        first_worker = outcome(pool.submit(os.getpid, timeout=120))[1]
        marks = [tmp_path / f"started-{i}" for i in range(6)]
        scope = TaskScope()
        with task_scope(scope):
            abandoned = [pool.submit(mark_and_sleep, str(m), 600, timeout=None) for m in marks]
        deadline = time.monotonic() + 120
        while not marks[0].exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert marks[0].exists()

        scope.cancel()
        assert [outcome(future) for future in abandoned] == [CANCELLED] * 6
        replacement = outcome(pool.submit(os.getpid, timeout=120))[1]
        assert replacement != first_worker  # killed with the task it was running
        assert [m.exists() for m in marks] == [True] + [False] * 5  # the rest never ran
        with task_scope(scope):  # submitted after the work was abandoned: never run
            assert outcome(pool.submit(os.getpid, timeout=120)) == CANCELLED
    finally:
        pool.close()


def test_cancelling_queued_tasks_costs_no_worker(tmp_path: Path):
    pool = WorkerPool(1)
    try:
        worker = outcome(pool.submit(os.getpid, timeout=120))[1]
        busy = pool.submit(time.sleep, 1, timeout=120)  # not in the scope: runs to its end
        marks = [tmp_path / f"queued-{i}" for i in range(3)]
        scope = TaskScope()
        with task_scope(scope):
            queued = [pool.submit(mark_and_sleep, str(m), 600, timeout=None) for m in marks]
        scope.cancel()
        assert outcome(busy) == (Status.OK, None)
        assert [outcome(future) for future in queued] == [CANCELLED] * 3
        assert outcome(pool.submit(os.getpid, timeout=120)) == (Status.OK, worker)
        assert not any(m.exists() for m in marks)
    finally:
        pool.close()


def test_an_awaited_task_cancelled_by_its_scope_is_a_status_not_a_cancellation():
    pool = WorkerPool(1)

    async def main() -> tuple[Status, object]:
        scope = TaskScope()
        with task_scope(scope):
            future = pool.submit(time.sleep, 600, timeout=None)
        asyncio.get_running_loop().call_later(0.2, scope.cancel)
        return await aoutcome(future)

    try:
        assert asyncio.run(main()) == CANCELLED
    finally:
        pool.close()
