"""Tasks of whole groups, and the ledger that collects their scores exactly once.

A batch is cut into tasks of consecutive groups (a group is never split: group-relative
rewards need all of it). The ledger hands tasks out, takes each task's scores once, and
decides what happens to a task whose worker was lost: a task of several groups is split
into one task per group, so that a group that kills every worker it meets (a "poison"
group) takes only itself down; a one-group task is retried until it has failed
`max_attempts` times, after which its samples get a failed Score with the reason. Each
group's scores come from exactly one successful attempt or from that final failure.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from rewardsmith.core.types import Score, Status

TASKS_PER_WORKER = 4  # default: a lost or slow task is a small share of a worker's work


@dataclass
class Task:
    """Positions (in the batch) of the groups scored together, and failures so far."""

    groups: tuple[int, ...]
    attempts: int = 0


@dataclass
class DispatchStats:
    """What it took to score the batches so far."""

    tasks: int = 0  # tasks completed, including those given up
    retries: int = 0  # tasks handed out again after a failure
    workers_lost: int = 0  # workers that died or were stopped for running too long
    groups_failed: int = 0  # groups given up on, their samples scored as failed

    def add(self, other: DispatchStats) -> None:
        self.tasks += other.tasks
        self.retries += other.retries
        self.workers_lost += other.workers_lost
        self.groups_failed += other.groups_failed


def plan_tasks(
    sizes: Sequence[int], workers: int, groups_per_task: int | None = None
) -> list[Task]:
    """Consecutive groups, `groups_per_task` to a task; by default enough tasks that each
    worker gets about TASKS_PER_WORKER of them."""
    if not sizes:
        return []
    if groups_per_task is None:
        groups_per_task = math.ceil(len(sizes) / (max(1, workers) * TASKS_PER_WORKER))
    step = max(1, groups_per_task)
    return [
        Task(tuple(range(start, min(start + step, len(sizes)))))
        for start in range(0, len(sizes), step)
    ]


@dataclass
class TaskLedger:
    """Hands out tasks and records each group's scores once."""

    sizes: Sequence[int]  # samples per group, by position
    tasks: list[Task]
    max_attempts: int = 3
    fallback: float = 0.0
    stats: DispatchStats = field(default_factory=DispatchStats)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts: expected at least 1, got {self.max_attempts}")
        self.pending: deque[Task] = deque(self.tasks)
        self.results: list[list[Score] | None] = [None] * len(self.sizes)
        self.open = len(self.sizes)

    @property
    def finished(self) -> bool:
        return self.open == 0

    def next(self) -> Task | None:
        return self.pending.popleft() if self.pending else None

    def done(self, task: Task, scores: list[list[Score]]) -> None:
        """Record a task's scores (one list per group, in the task's order)."""
        if [len(s) for s in scores] != [self.sizes[g] for g in task.groups]:
            raise RuntimeError(f"a worker returned scores of the wrong shape for {task.groups}")
        for group, group_scores in zip(task.groups, scores, strict=True):
            self._record(group, group_scores)
        self.stats.tasks += 1

    def failed(self, task: Task, reason: str, status: Status = Status.ERROR) -> None:
        """A task's worker was lost: retry it (split, if it holds several groups), or give
        up after `max_attempts` failures."""
        attempts = task.attempts + 1
        if attempts >= self.max_attempts:
            self.give_up(task, f"{reason} (attempt {attempts} of {self.max_attempts})", status)
            return
        retries = [Task((g,), attempts) for g in task.groups]
        self.pending.extendleft(reversed(retries))
        self.stats.retries += len(retries)

    def give_up(self, task: Task, reason: str, status: Status = Status.ERROR) -> None:
        """Score the task's samples as failed, with the fallback reward and `reason`."""
        for group in task.groups:
            failed = [Score.failed(status, self.fallback, reason) for _ in range(self.sizes[group])]
            self._record(group, failed)
        self.stats.groups_failed += len(task.groups)
        self.stats.tasks += 1

    def scores(self) -> list[list[Score]]:
        """Every group's scores, by position; only once the ledger is finished."""
        if not self.finished:
            raise RuntimeError(f"{self.open} groups have no scores yet")
        return [s for s in self.results if s is not None]

    def _record(self, group: int, scores: list[Score]) -> None:
        if self.results[group] is not None:
            raise RuntimeError(f"group {group} was scored twice")
        self.results[group] = scores
        self.open -= 1
