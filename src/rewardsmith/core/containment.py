"""Per-sample fault containment: when a component fails on a batch, only the samples that
make it fail lose their reward.

A component scores a whole batch at once (planning, de-duplication, fast paths, judge
requests), so one hostile sample could make the whole call raise. When it does, the
batch is narrowed down instead of given up: halves of the groups are scored apart until
the failing groups are found; in a failing group each sample is tried alone to find the
culprits, and the group is scored again without them. The culprits get the fallback
reward with the reason; every other sample gets exactly the Score it gets in a batch
without the culprits. Only failing batches pay for the extra calls. A component that
writes training state while it scores (the adaptive rewards) writes it again for the
samples scored again, which is one reason every verifier also guards each sample's own
work (`core.component.guarded`) and leaves this narrowing for what slips past.

The search is written once, as a generator of "score these groups" requests, and driven
by a sync and an async caller (`Component.run` / `Component.arun`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator

from rewardsmith.core.types import Group, Score, Status

Attempt = list[list[Score]] | Exception  # what scoring some groups gave: Scores, or the raise
Search = Generator[list[Group], Attempt, list[list[Score]]]


def reason_of(exc: BaseException) -> str:
    """The failure as one line: the exception's type and message (bounded in length)."""
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= 500 else text[:497] + "..."


def contain(groups: list[Group], fallback: float) -> Search:
    """Scores for `groups`: all of them in one call when that works, else narrowed down
    to the failing samples (see the module docstring)."""
    attempt = yield groups
    if isinstance(attempt, Exception):
        return (yield from isolate(groups, attempt, fallback))
    return attempt


def isolate(groups: list[Group], first: Exception, fallback: float) -> Search:
    """Scores for `groups`, whose scoring as one batch raised `first`: yields the groups
    to try next and receives what trying them gave."""
    if len(groups) > 1:
        middle = len(groups) // 2
        left = yield from contain(groups[:middle], fallback)
        right = yield from contain(groups[middle:], fallback)
        return left + right
    [group] = groups
    if len(group) == 1:
        return [[_failed(first, fallback)]]
    alone: list[Exception | None] = []
    for sample in group.samples:
        attempt = yield [Group(group.group_id, [sample])]
        alone.append(attempt if isinstance(attempt, Exception) else None)
    culprits = {i for i, exc in enumerate(alone) if exc is not None}
    if not culprits or len(culprits) == len(group):
        # Every sample fails alone, or the group fails only as a whole: nobody to blame
        # but the group itself.
        return [[_failed(alone[i] or first, fallback) for i in range(len(group))]]
    rest = Group(group.group_id, [s for i, s in enumerate(group.samples) if i not in culprits])
    [rest_scores] = yield from contain([rest], fallback)
    kept = iter(rest_scores)
    row = [_failed(exc, fallback) if exc is not None else next(kept) for exc in alone]
    return [row]


def _failed(exc: Exception, fallback: float) -> Score:
    return Score.failed(Status.ERROR, fallback, reason_of(exc), "exception")


class _Stepper:
    """Walks a search: `request` is the batch it asks for next (None once it is done,
    and then `result` holds its Scores)."""

    def __init__(self, search: Search) -> None:
        self.search = search
        self.request: list[Group] | None = None
        self.result: list[list[Score]] = []
        self.send(None)

    def send(self, attempt: Attempt | None) -> None:
        try:
            self.request = self.search.send(attempt)  # type: ignore[arg-type]
        except StopIteration as done:
            self.request, self.result = None, done.value


def drive(search: Search, score: Callable[[list[Group]], list[list[Score]]]) -> list[list[Score]]:
    """Run `search`, scoring each batch it asks for with `score`."""
    step = _Stepper(search)
    while step.request is not None:
        try:
            attempt: Attempt = score(step.request)
        except Exception as exc:
            attempt = exc
        step.send(attempt)
    return step.result


async def adrive(
    search: Search, score: Callable[[list[Group]], Awaitable[list[list[Score]]]]
) -> list[list[Score]]:
    """`drive` for a component's async scoring."""
    step = _Stepper(search)
    while step.request is not None:
        try:
            attempt: Attempt = await score(step.request)
        except Exception as exc:
            attempt = exc
        step.send(attempt)
    return step.result
