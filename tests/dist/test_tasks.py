"""Task planning and the ledger: every group scored exactly once, whatever fails."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardsmith.core.types import Score, Status
from rewardsmith.dist.tasks import TASKS_PER_WORKER, Task, TaskLedger, plan_tasks

sizes_strategy = st.lists(st.integers(min_value=1, max_value=5), min_size=0, max_size=40)


@given(sizes_strategy, st.integers(1, 8), st.none() | st.integers(1, 10))
def test_plan_covers_every_group_once_in_order(sizes, workers, per_task):
    tasks = plan_tasks(sizes, workers, per_task)
    flat = [g for task in tasks for g in task.groups]
    assert flat == list(range(len(sizes)))
    assert all(task.groups and task.attempts == 0 for task in tasks)
    if per_task is not None:
        assert all(len(task.groups) <= per_task for task in tasks)


def test_default_plan_gives_each_worker_several_tasks():
    tasks = plan_tasks([16] * 64, workers=2)
    assert len(tasks) == 2 * TASKS_PER_WORKER
    assert plan_tasks([16] * 3, workers=8) == [Task((0,)), Task((1,)), Task((2,))]


def scores_for(task: Task, sizes: list[int]) -> list[list[Score]]:
    """The scores a worker would return: each sample's value names its group."""
    return [[Score(float(g)) for _ in range(sizes[g])] for g in task.groups]


def drive(ledger: TaskLedger, sizes: list[int], fails) -> None:
    """Run the ledger to the end; `fails(task)` says whether this attempt loses its worker."""
    while not ledger.finished:
        task = ledger.next()
        assert task is not None, "groups left open with nothing to hand out"
        if fails(task):
            ledger.failed(task, "worker lost")
        else:
            ledger.done(task, scores_for(task, sizes))


@given(
    sizes_strategy.filter(bool),
    st.integers(1, 4),
    st.integers(1, 6),
    st.sets(st.integers(0, 39)),
    st.data(),
)
def test_every_group_is_scored_exactly_once_whatever_fails(
    sizes, max_attempts, per_task, poison, data
):
    """Poison groups kill every worker they meet; other attempts fail at random."""
    ledger = TaskLedger(sizes, plan_tasks(sizes, 2, per_task), max_attempts, fallback=-1.0)

    def fails(task: Task) -> bool:
        return any(g in poison for g in task.groups) or data.draw(st.booleans())

    drive(ledger, sizes, fails)
    scores = ledger.scores()
    assert [len(s) for s in scores] == sizes
    for group, group_scores in enumerate(scores):
        statuses = {s.status for s in group_scores}
        if group in poison:
            assert statuses == {Status.ERROR}
            assert all(s.value == -1.0 for s in group_scores)
        if statuses == {Status.OK}:
            assert all(s.value == group for s in group_scores)
    assert ledger.stats.groups_failed == sum(
        1 for group_scores in scores if group_scores[0].status is Status.ERROR
    )


def test_a_poison_group_takes_only_itself_down():
    sizes = [2, 2, 2, 2]
    ledger = TaskLedger(sizes, [Task((0, 1, 2, 3))], max_attempts=3, fallback=0.0)
    attempts: dict[int, int] = {}

    def fails(task: Task) -> bool:
        for g in task.groups:
            attempts[g] = attempts.get(g, 0) + 1
        return 2 in task.groups

    drive(ledger, sizes, fails)
    scores = ledger.scores()
    assert [s[0].status for s in scores] == [Status.OK, Status.OK, Status.ERROR, Status.OK]
    assert "attempt 3 of 3" in scores[2][0].info["error"]
    assert attempts == {0: 2, 1: 2, 2: 3, 3: 2}  # split after the first loss, then alone
    assert ledger.stats.retries == 4 + 1  # four singles, then the poison group once more
    assert ledger.stats.groups_failed == 1


def test_one_attempt_gives_up_at_once_with_the_status_asked_for():
    ledger = TaskLedger([1, 1], [Task((0, 1))], max_attempts=1)
    task = ledger.next()
    ledger.failed(task, "ran too long", Status.TIMEOUT)
    assert ledger.finished
    assert [s[0].status for s in ledger.scores()] == [Status.TIMEOUT, Status.TIMEOUT]
    assert ledger.scores()[0][0].info["error"] == "ran too long (attempt 1 of 1)"


def test_a_group_cannot_be_recorded_twice():
    ledger = TaskLedger([1], [Task((0,))])
    task = ledger.next()
    ledger.done(task, [[Score(1.0)]])
    with pytest.raises(RuntimeError, match="scored twice"):
        ledger.done(task, [[Score(1.0)]])


def test_scores_of_the_wrong_shape_are_refused():
    ledger = TaskLedger([2], [Task((0,))])
    with pytest.raises(RuntimeError, match="wrong shape"):
        ledger.done(ledger.next(), [[Score(1.0)]])


def test_unfinished_ledger_has_no_scores():
    ledger = TaskLedger([1, 1], plan_tasks([1, 1], 1, 1))
    ledger.done(ledger.next(), [[Score(0.0)]])
    with pytest.raises(RuntimeError, match="1 groups have no scores yet"):
        ledger.scores()


def test_max_attempts_must_be_positive():
    with pytest.raises(ValueError, match="max_attempts"):
        TaskLedger([1], [Task((0,))], max_attempts=0)
