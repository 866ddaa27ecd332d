"""The component protocol: anything that maps Groups to one Score per Sample.

Components run on a whole batch of groups at once (`run` / `arun`), so a verifier can
spread CPU-heavy work over worker processes and a judge can send its requests together.
A per-sample component implements only `score_sample`; `SampleComponent` lifts it to
groups. `run` is the guarded entry point: no exception escapes it, every sample gets a
Score with a finite value, and the component's name is stamped into `Score.components`.
When scoring a batch raises, `core.containment` narrows the failure down to the samples
that cause it, so no sample costs another its reward.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict

from rewardsmith.core.containment import adrive, contain, drive, reason_of
from rewardsmith.core.types import Group, Sample, Score, Status

if TYPE_CHECKING:
    from rewardsmith.core.config import BuildContext


T = TypeVar("T")


class InvalidSample(ValueError):
    """Raised by a component when a sample lacks what it needs (names the field).

    `code` is the machine-readable kind of problem; by default from the message's
    leading field name: "reference: missing; ..." -> missing_reference,
    "reference.gold: ..." -> invalid_reference.
    """

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        field = re.match(r"([a-z_]+)[^:]*:( missing\b)?", message)
        if code or field is None:
            self.code = code or "invalid_input"
        else:
            self.code = f"{'missing' if field.group(2) else 'invalid'}_{field.group(1)}"


class Params(BaseModel):
    """Base for a component's configuration: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Component(ABC):
    """Maps a batch of groups to one Score per sample.

    Subclasses set `kind` (the registry name, via `@register`) and `Params`.
    """

    kind: ClassVar[str] = ""
    Params: ClassVar[type[Params]] = Params

    def __init__(
        self, params: Params, ctx: BuildContext, name: str, fallback: float, path: str
    ) -> None:
        self.params = params
        self.path = path
        self.name = name
        self.fallback = fallback
        self.ctx = ctx

    @abstractmethod
    def score_batch(self, groups: list[Group]) -> list[list[Score]]:
        """Score every sample of every group (may raise; `run` guards it)."""

    async def ascore_batch(self, groups: list[Group]) -> list[list[Score]]:
        """Async form; by default runs `score_batch` in a thread so the loop stays free."""
        return await asyncio.to_thread(self.score_batch, groups)

    def children(self) -> list[Component]:
        return []

    def batch_wide(self) -> bool:
        """True when a group's scores depend on the other groups of the batch (batch
        statistics, or training state the batch itself writes). Such a reward gives the
        same results only when a batch is scored in one piece (see rewardsmith.dist)."""
        return any(child.batch_wide() for child in self.children())

    def warm_up(self) -> None:
        """Start workers and connections now rather than on first use (optional)."""
        for child in self.children():
            child.warm_up()

    def close(self) -> None:
        """Release workers and connections held by this component and its children."""
        for child in self.children():
            child.close()

    def run(self, groups: list[Group]) -> list[list[Score]]:
        return self._finish(drive(contain(groups, self.fallback), self._checked))

    async def arun(self, groups: list[Group]) -> list[list[Score]]:
        return self._finish(await adrive(contain(groups, self.fallback), self._achecked))

    def _checked(self, groups: list[Group]) -> list[list[Score]]:
        scores = self.score_batch(groups)
        self._check_shape(groups, scores)
        return scores

    async def _achecked(self, groups: list[Group]) -> list[list[Score]]:
        scores = await self.ascore_batch(groups)
        self._check_shape(groups, scores)
        return scores

    def _check_shape(self, groups: list[Group], scores: list[list[Score]]) -> None:
        if [len(g) for g in groups] != [len(row) for row in scores]:
            raise RuntimeError(f"component {self.name!r} returned scores of the wrong shape")

    def _finish(self, scores: list[list[Score]]) -> list[list[Score]]:
        for group_scores in scores:
            for score in group_scores:
                if not _finite(score.value):
                    score.info["error"] = f"{self.name}: reward was {score.value!r}, not finite"
                    score.info["code"] = "non_finite_reward"
                    score.value, score.status = self.fallback, Status.ERROR
                if not self.children() and score.info:
                    score.info = {self.name: score.info}
                score.components[self.name] = score.value
        return scores


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


class SampleComponent(Component):
    """A component that judges each sample on its own; lifted to groups here."""

    @abstractmethod
    def score_sample(self, sample: Sample) -> Score:
        """Score one sample. Raise InvalidSample for input it cannot use."""

    def score_batch(self, groups: list[Group]) -> list[list[Score]]:
        return [[self._timed(sample) for sample in group.samples] for group in groups]

    def _timed(self, sample: Sample) -> Score:
        """The sample's Score, with the seconds its check took."""
        started = time.perf_counter()
        score = guarded(self.fallback, self.score_sample, sample)
        score.seconds = time.perf_counter() - started
        return score


def guarded(fallback: float, check: Callable[..., T], *args: Any) -> T | Score:
    """`check(*args)`, or the Score of its failure with the `fallback` reward: `invalid`
    for InvalidSample (input the check cannot use), `error` for any other exception."""
    try:
        return check(*args)
    except InvalidSample as exc:
        return Score.failed(Status.INVALID, fallback, str(exc), exc.code)
    except Exception as exc:
        return Score.failed(Status.ERROR, fallback, reason_of(exc), "exception")


def require_reference(sample: Sample, expected: str) -> Any:
    """The sample's `reference`, or InvalidSample naming the field and what was expected."""
    if sample.reference is None or sample.reference == "":
        raise InvalidSample(f"reference: missing; expected {expected}", "missing_reference")
    return sample.reference
