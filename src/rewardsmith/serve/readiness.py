"""Loading the worker's reward in the background, and whether the worker is ready.

The reward is built and warmed up (its check processes started) in a thread after the
worker starts, so `/healthz` answers at once and `/readyz` says 503 until the reward is
ready; scoring requests get 503 in the meantime.
"""

from __future__ import annotations

import asyncio
import logging
import os

from rewardsmith.api import load_reward
from rewardsmith.core.pipeline import Reward
from rewardsmith.serve.errors import ApiError

log = logging.getLogger("uvicorn.error")  # configured by uvicorn: lands in the server's log
READY_MESSAGE = "worker %d ready: reward %r loaded and warmed up"


class RewardSlot:
    """The worker's one Reward, once loaded."""

    def __init__(self, name: str, check_workers: int) -> None:
        self.name = name
        self.check_workers = check_workers
        self.problem: str | None = "loading the reward"
        self._reward: Reward | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._load())

    async def _load(self) -> None:
        try:
            reward = await asyncio.to_thread(load_reward, self.name, self.check_workers)
            self._reward = reward  # before warming up, so that `close` can stop its workers
            await asyncio.to_thread(reward.warm_up)
        except Exception as exc:
            self.problem = f"the reward failed to load: {type(exc).__name__}: {exc}"
            log.exception("loading reward %r failed", self.name)
        else:
            self.problem = None
            log.info(READY_MESSAGE, os.getpid(), self.name)

    def get(self) -> Reward:
        """The loaded reward, or ApiError(503) saying why there is none yet."""
        if self.problem is not None or self._reward is None:
            raise ApiError(503, f"not ready: {self.problem}")
        return self._reward

    async def close(self) -> None:
        if self._task is not None:
            await self._task  # loading is short; a reward half-built could not be closed
        if self._reward is not None:
            await asyncio.to_thread(self._reward.close)
