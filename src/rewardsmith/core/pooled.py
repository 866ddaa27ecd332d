"""Components whose checks run in worker processes: plan here, check there, resolve here.

A batch is planned in the calling process (`plan`: cheap work, and each sample's Score
when it is decided without a worker), its distinct checks are sent to a `WorkerPool`
once each (`submit`), and their outcomes (`core.pool.outcome`: a result, a timeout, or a
crash) become Scores (`resolve`). The sync and async paths share all three steps.
"""

from __future__ import annotations

import asyncio
from abc import abstractmethod
from collections.abc import Hashable
from concurrent.futures import Future
from typing import Any, Generic, TypeVar

from rewardsmith.core.component import Component
from rewardsmith.core.pool import WorkerPool, aoutcome, outcome
from rewardsmith.core.types import Group, Score, Status

Plan = TypeVar("Plan")
Key = TypeVar("Key", bound=Hashable)


class PooledComponent(Component, Generic[Plan, Key]):
    """A component with a `pool` of worker processes for its checks."""

    pool: WorkerPool

    def warm_up(self) -> None:
        self.pool.start()

    def close(self) -> None:
        self.pool.close()

    @abstractmethod
    def plan(self, groups: list[Group]) -> Plan:
        """What each sample needs; decided samples carry their Score already."""

    @abstractmethod
    def submit(self, plan: Plan) -> dict[Key, Future]:
        """One pool task per distinct check of the plan."""

    @abstractmethod
    def resolve(self, plan: Plan, outcomes: dict[Key, tuple[Status, Any]]) -> list[list[Score]]:
        """The Scores, from the plan and each check's outcome."""

    def score_batch(self, groups: list[Group]) -> list[list[Score]]:
        plan = self.plan(groups)
        futures = self.submit(plan)
        return self.resolve(plan, {key: outcome(future) for key, future in futures.items()})

    async def ascore_batch(self, groups: list[Group]) -> list[list[Score]]:
        plan = self.plan(groups)
        futures = self.submit(plan)
        results = await asyncio.gather(*(aoutcome(future) for future in futures.values()))
        return self.resolve(plan, dict(zip(futures, results, strict=True)))
