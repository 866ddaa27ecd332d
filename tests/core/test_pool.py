"""The worker pool: a hung check is killed, a crashed worker is replaced, nothing stalls."""

from __future__ import annotations

import asyncio
import os
import time

from rewardsmith.core.pool import WorkerPool, aoutcome, outcome
from rewardsmith.core.types import Status


def double(x: int) -> int:
    return 2 * x


def hang(seconds: float) -> None:
    time.sleep(seconds)


def crash() -> None:
    os._exit(3)


def explode() -> None:
    raise ZeroDivisionError("inside the check")


def test_timeout_crash_and_exception_each_get_a_status_and_the_pool_recovers():
    pool = WorkerPool(2)
    try:
        start = time.perf_counter()
        hung = pool.submit(hang, 60, timeout=0.5)
        died = pool.submit(crash, timeout=10)
        raised = pool.submit(explode, timeout=10)
        assert outcome(hung) == (Status.TIMEOUT, outcome(hung)[1])
        assert outcome(died)[0] is Status.ERROR and "exit code 3" in outcome(died)[1]
        assert outcome(raised) == (Status.ERROR, "ZeroDivisionError: inside the check")
        assert time.perf_counter() - start < 30
        assert [outcome(pool.submit(double, i, timeout=10)) for i in range(4)] == [
            (Status.OK, 2 * i) for i in range(4)
        ]
    finally:
        pool.close()


def test_async_outcome_does_not_block_the_loop():
    pool = WorkerPool(1)

    async def main() -> tuple:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0.01)

        task = asyncio.create_task(ticker())
        result = await aoutcome(pool.submit(hang, 60, timeout=0.5))
        task.cancel()
        return result, ticks

    try:
        (status, _), ticks = asyncio.run(main())
    finally:
        pool.close()
    assert status is Status.TIMEOUT
    assert ticks > 10  # the event loop kept running while the check hung
