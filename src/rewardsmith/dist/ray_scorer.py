"""Scoring on a Ray cluster: groups spread over workers, retried when a worker is lost.

Each worker is a Ray actor that builds the reward once from its definition (the YAML
contents travel, so the reward file itself need not be on the worker's machine; files
it names, such as rubrics or judge caches, must be) and scores tasks of whole groups.
The driver cuts each batch into tasks (`rewardsmith.dist.tasks`), gives every worker one
task at a time, and takes each result once. When a worker dies (killed, out of memory,
its node gone) or runs longer than `task_timeout`, its task goes back to the queue for
the other workers and a replacement worker is started.

Adaptive rewards share their training state through the store every worker opens:
Redis on a real cluster (SQLite works while all workers are on one machine; a
`memory://` store would be private to each worker and is refused). A group retried
after its worker died mid-task may have written its state updates twice; the scores in
the output never count twice.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import rewardsmith.api  # noqa: F401  (registers the built-in components, in workers too)
from rewardsmith.core.config import ConfigError
from rewardsmith.core.pipeline import GroupedBatch, Reward, RewardDefinition
from rewardsmith.core.types import Group, Sample, Score, Status
from rewardsmith.dist.tasks import DispatchStats, Task, TaskLedger, plan_tasks
from rewardsmith.state import StateStore, resolve_url

RewardSource = str | Path | RewardDefinition | Callable[[], Reward]


class RewardWorker:
    """The body of a Ray worker: one reward, built when the worker starts."""

    def __init__(
        self, source: RewardDefinition | Callable[[], Reward], workers: int, state: str | None
    ) -> None:
        if isinstance(source, RewardDefinition):
            self.reward = source.build(workers, state)
        else:
            self.reward = source()
        self.reward.warm_up()

    def pid(self) -> int:
        return os.getpid()

    def score_groups(self, groups: list[Group]) -> list[list[Score]]:
        return self.reward.score_groups(groups)

    def usage(self) -> dict[str, float]:
        return self.reward.usage()

    def close(self) -> None:
        self.reward.close()


@dataclass(eq=False)
class _Worker:
    actor: Any  # a Ray actor handle of RewardWorker
    stopped_for: str = ""  # why the driver killed it, if it did


@dataclass
class _Flight:
    task: Task
    worker: _Worker
    started: float


class RayScorer:
    """Scores groups over Ray workers; the same Scores as `Reward.score_groups`.

    `reward` is a built-in name, a YAML file, a `RewardDefinition`, or a picklable
    function returning a `Reward` (for rewards built in Python). `actors` is the number of
    Ray workers (default: the cluster's CPUs ÷ `workers`); `workers` the processes each
    of them uses for CPU-heavy checks (and the CPUs it reserves). `address` is an existing
    cluster ("auto", "ray://host:10001"); without one, and without a Ray already started
    in this process, a local cluster is started and stopped on `close` (`address` and
    `runtime_env` apply only when this starts Ray). The README's "Scaling out" section
    has an example.
    """

    def __init__(
        self,
        reward: RewardSource,
        *,
        actors: int | None = None,
        workers: int = 1,
        state: str | StateStore | None = None,
        address: str | None = None,
        groups_per_task: int | None = None,
        max_attempts: int = 3,
        task_timeout: float | None = None,
        runtime_env: Mapping[str, Any] | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ConfigError(f"max_attempts: expected at least 1, got {max_attempts}")
        if task_timeout is not None and task_timeout <= 0:
            raise ConfigError(f"task_timeout: expected a positive number, got {task_timeout}")
        if workers < 1:
            raise ConfigError(f"workers: expected at least 1, got {workers}")
        if groups_per_task is not None and groups_per_task < 1:
            raise ConfigError(f"groups_per_task: expected at least 1, got {groups_per_task}")
        self.source, state_url = _source_and_state(reward, state)
        self.workers = workers
        self.state_url = state_url
        self.groups_per_task = groups_per_task
        self.max_attempts = max_attempts
        self.task_timeout = task_timeout
        self.stats = DispatchStats()
        # Build once here so that a bad definition fails now, with its message, before
        # any worker starts; the fallback of the root is what lost groups get.
        with self._build_locally() as checked:
            self.fallback = checked.root.fallback
            self.batch_wide = checked.batch_wide

        try:
            import ray
        except ImportError:
            raise ConfigError(
                "Ray is not installed; pip install 'rewardsmith[ray]' for the Ray backend"
            ) from None
        self._ray = ray
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            ray.init(
                address=address,
                runtime_env=dict(runtime_env) if runtime_env else None,
                include_dashboard=False,
                logging_level=logging.WARNING,
                log_to_driver=False,
            )
        cpus = int(ray.cluster_resources().get("CPU", 1))
        count = actors or max(1, cpus // workers)
        # each worker holds a CPU per check process; Ray must not restart or retry it by
        # itself, since the driver decides where a lost task goes
        self._remote = ray.remote(num_cpus=workers, max_restarts=0, max_task_retries=0)(
            RewardWorker
        )
        self._workers: list[_Worker] = []
        try:
            started = [self._start_worker() for _ in range(count)]
            ray.get([w.actor.pid.remote() for w in started])
        except ray.exceptions.RayActorError as exc:
            self.close()
            raise ConfigError(f"reward: a Ray worker could not build it: {_cause(exc)}") from None

    def score(self, samples: Sequence[Sample | Mapping[str, Any]]) -> list[Score]:
        """One Score per sample, in input order (as `Reward.score`)."""
        batch = GroupedBatch.of(samples)
        return batch.scatter(self.score_groups(batch.groups) if batch.groups else [])

    def score_groups(self, groups: list[Group]) -> list[list[Score]]:
        """One list of Scores per group, in order."""
        per_task = self.groups_per_task
        if per_task is None and self.batch_wide:
            per_task = len(groups)  # its groups depend on each other: keep the batch whole
        tasks = plan_tasks([len(g) for g in groups], len(self._workers), per_task)
        ledger = TaskLedger([len(g) for g in groups], tasks, self.max_attempts, self.fallback)
        flights: dict[Any, _Flight] = {}
        idle = list(self._workers)
        while not ledger.finished:
            while idle and ledger.pending:
                task = ledger.next()
                assert task is not None
                worker = idle.pop()
                batch = [groups[g] for g in task.groups]
                flights[worker.actor.score_groups.remote(batch)] = _Flight(
                    task, worker, time.monotonic()
                )
            wait = self._wait_time(flights)
            ready, _ = self._ray.wait(list(flights), num_returns=1, timeout=wait)
            if not ready:
                self._stop_overdue(flights)
                continue
            self._collect(ready[0], flights.pop(ready[0]), ledger, idle)
        self.stats.add(ledger.stats)
        return ledger.scores()

    def worker_pids(self) -> list[int]:
        """Process ids of the live workers (all on this machine for a local cluster)."""
        return self._ray.get([w.actor.pid.remote() for w in self._workers])

    def usage(self) -> dict[str, float]:
        """Judge calls, cache hits, tokens, ... summed over the live workers, and the
        dispatch so far (`ray_tasks`, `ray_retries`, `ray_workers_lost`, ...)."""
        totals: dict[str, float] = {"ray_workers": len(self._workers)}
        for usage in self._ray.get([w.actor.usage.remote() for w in self._workers]):
            for key, value in usage.items():
                totals[key] = totals.get(key, 0.0) + value
        totals.update({f"ray_{key}": value for key, value in asdict(self.stats).items()})
        return totals

    def close(self) -> None:
        """Stop the workers (closing their rewards) and a local cluster this started."""
        ray = self._ray
        # a worker that cannot close is killed below all the same
        with contextlib.suppress(ray.exceptions.RayError, TimeoutError):
            ray.get([w.actor.close.remote() for w in self._workers], timeout=30)
        for worker in self._workers:
            ray.kill(worker.actor)
        self._workers = []
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()

    def __enter__(self) -> RayScorer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _build_locally(self) -> Reward:
        if isinstance(self.source, RewardDefinition):
            return self.source.build(self.workers, self.state_url)
        return self.source()

    def _start_worker(self) -> _Worker:
        actor = self._remote.remote(self.source, self.workers, self.state_url)
        worker = _Worker(actor)
        self._workers.append(worker)
        return worker

    def _collect(self, ref: Any, flight: _Flight, ledger: TaskLedger, idle: list[_Worker]) -> None:
        """Record a finished flight: its scores, or its failure."""
        errors = self._ray.exceptions
        try:
            scores = self._ray.get(ref)
        except (errors.RayActorError, errors.WorkerCrashedError, errors.OutOfMemoryError) as exc:
            worker = flight.worker
            if worker.stopped_for:
                ledger.failed(flight.task, worker.stopped_for, Status.TIMEOUT)
            else:
                ledger.failed(flight.task, f"Ray worker lost: {type(exc).__name__}")
            self._replace(worker, idle)
            return
        except errors.RayTaskError as exc:  # the reward raised: retrying would raise again
            ledger.give_up(flight.task, f"Ray worker error: {_cause(exc)}")
        else:
            ledger.done(flight.task, scores)
        idle.append(flight.worker)

    def _replace(self, worker: _Worker, idle: list[_Worker]) -> None:
        self.stats.workers_lost += 1
        self._workers.remove(worker)
        self._ray.kill(worker.actor)
        idle.append(self._start_worker())

    def _wait_time(self, flights: dict[Any, _Flight]) -> float | None:
        if self.task_timeout is None or not flights:
            return None
        oldest = min(f.started for f in flights.values())
        return max(0.0, oldest + self.task_timeout - time.monotonic())

    def _stop_overdue(self, flights: dict[Any, _Flight]) -> None:
        """Kill workers whose task has run past `task_timeout`; `_collect` retries it."""
        assert self.task_timeout is not None
        now = time.monotonic()
        for flight in flights.values():
            if now - flight.started >= self.task_timeout and not flight.worker.stopped_for:
                flight.worker.stopped_for = f"task ran longer than {self.task_timeout:g} s"
                self._ray.kill(flight.worker.actor)


def _source_and_state(
    reward: RewardSource, state: str | StateStore | None
) -> tuple[RewardDefinition | Callable[[], Reward], str | None]:
    """What the workers build from, and the URL of the store they share."""
    if isinstance(reward, str | Path):
        reward = RewardDefinition.resolve(reward)
    if not isinstance(reward, RewardDefinition):
        if state is not None:
            raise ConfigError("state: a reward built by a function opens its own store")
        return reward, None
    url = state.url if isinstance(state, StateStore) else resolve_url(state or reward.state)
    if url == "memory://":
        raise ConfigError(
            "state: memory:// would be private to each Ray worker; use a shared store "
            "(redis://host:port/db, or sqlite:///path on a one-machine cluster)"
        )
    if url.startswith("sqlite:///"):  # workers may start elsewhere: make the path absolute
        url = "sqlite:///" + str(Path(url.removeprefix("sqlite:///")).absolute())
    return reward, url


def _cause(exc: Exception) -> str:
    """The last line of the error a Ray worker reported (its own exception message)."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(exc).__name__
