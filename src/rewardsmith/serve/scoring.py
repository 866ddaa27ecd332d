"""Scoring off the server's event loop, and abandoning it at the deadline.

Each worker process scores on a second event loop in its own thread: everything a
request's scoring does in Python (reading samples, extracting and normalising answers,
regexes, combining parts, rendering the response) runs there, so the server's loop only
moves bytes and `/healthz` answers at once however heavy a batch is. (One C call that
holds the interpreter lock, such as a regex, still delays both; that is why every
pattern applied to untrusted text must run in linear time.)

When a request is abandoned (its deadline passed), its scoring task is cancelled and so
is every check it submitted to a worker pool, including checks submitted later by
threads the scoring left running: running checks are killed with their worker, so the
next request finds the pool free.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from rewardsmith.core.pool import TaskScope, task_scope

T = TypeVar("T")


class ScoringLoop:
    """An event loop in a thread of its own, on which requests are scored."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="rewardsmith-scoring", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    async def run(self, work: Coroutine[Any, Any, T]) -> T:
        """`work`'s result, computed on the scoring loop; cancelling the caller cancels
        `work` and every pool task it submitted."""
        scope = TaskScope()
        future = asyncio.run_coroutine_threadsafe(_within(scope, work), self._loop)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            scope.cancel()
            raise

    def stop(self) -> None:
        """Wait for the loop's threads (e.g. `asyncio.to_thread` work), then end it."""
        asyncio.run_coroutine_threadsafe(
            self._loop.shutdown_default_executor(), self._loop
        ).result()
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._loop.close()


async def _within(scope: TaskScope, work: Coroutine[Any, Any, T]) -> T:
    with task_scope(scope):
        return await work
