"""Combinators: components built from other components.

Each combinator scores its parts on the whole batch, then combines their values sample
by sample. Every part's value stays visible in `Score.components`, every part's
explanation in `Score.info`, and the worst status of any part becomes the status of the
whole (a part that failed contributes its fallback reward). Dense (per-step) rewards
combine like the values where that is linear: `weighted_sum` adds its parts' dense
rewards span by span with the same weights, `schedule` scales them, `gate` keeps the
reward's only when the condition passes, `min`/`max` keep the chosen part's; `product`
and `clip` have none.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from abc import abstractmethod
from typing import Any, Literal

from pydantic import Field, model_validator

from rewardsmith.core.component import Component, InvalidSample, Params
from rewardsmith.core.config import BuildContext, register
from rewardsmith.core.containment import reason_of
from rewardsmith.core.types import DenseReward, Group, Sample, Score, Status


class Combinator(Component):
    """A component whose value is a function of its parts' values."""

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        self.parts = [ctx.build(spec, f"{self.path}.{key}") for key, spec in self.part_specs()]

    @abstractmethod
    def part_specs(self) -> list[tuple[str, Any]]:
        """(config key, node spec) of each part, in the order `combine` receives them."""

    @abstractmethod
    def combine(self, parts: list[Score], sample: Sample) -> tuple[float, dict[str, Any]]:
        """The combined value for one sample, and what to say about it in `info`."""

    def dense_weights(self, parts: list[Score], sample: Sample) -> list[float] | None:
        """How much each part's dense rewards count in the whole's (None: no dense)."""
        return None

    def children(self) -> list[Component]:
        return self.parts

    def score_batch(self, groups: list[Group]) -> list[list[Score]]:
        return self._merge(groups, [part.run(groups) for part in self.parts])

    async def ascore_batch(self, groups: list[Group]) -> list[list[Score]]:
        results = await asyncio.gather(*(part.arun(groups) for part in self.parts))
        return self._merge(groups, list(results))

    def _merge(self, groups: list[Group], by_part: list[list[list[Score]]]) -> list[list[Score]]:
        return [
            [
                self._merged([part[g][s] for part in by_part], sample)
                for s, sample in enumerate(group.samples)
            ]
            for g, group in enumerate(groups)
        ]

    def _merged(self, scores: list[Score], sample: Sample) -> Score:
        """One sample's combined Score; a failure to combine fails this sample alone."""
        try:
            value, note = self.combine(scores, sample)
            combined = Score(value=float(value))
            weights = self.dense_weights(scores, sample)
            if weights is not None:
                combined.dense = merge_dense([x.dense for x in scores], weights)
        except InvalidSample as exc:  # this sample lacks what combining needs
            combined = Score(self.fallback, Status.INVALID)
            note = {"error": str(exc), "code": exc.code}
        except Exception as exc:  # e.g. overflow
            combined = Score(self.fallback, Status.ERROR)
            note = {"error": reason_of(exc), "code": "combine_failed"}
        for score in scores:
            combined.absorb(score)
        if note:
            combined.info[self.name] = note
        return combined


class PartsParams(Params):
    of: list[Any] = Field(min_length=1)


class ListCombinator(Combinator):
    params: PartsParams

    def part_specs(self) -> list[tuple[str, Any]]:
        return [(f"of[{i}]", spec) for i, spec in enumerate(self.params.of)]


class WeightedSumParams(PartsParams):
    weights: list[float] | None = None

    @model_validator(mode="after")
    def _one_weight_per_part(self) -> WeightedSumParams:
        if self.weights is not None and len(self.weights) != len(self.of):
            raise ValueError(
                f"weights: expected {len(self.of)} numbers (one per entry of 'of'), "
                f"got {len(self.weights)}"
            )
        return self


@register("weighted_sum")
class WeightedSum(ListCombinator):
    """sum_i w_i * r_i over the parts (weights default to 1)."""

    Params = WeightedSumParams
    params: WeightedSumParams

    def combine(self, parts: list[Score], sample: Sample) -> tuple[float, dict[str, Any]]:
        weights = self.params.weights or [1.0] * len(parts)
        return sum(w * p.value for w, p in zip(weights, parts, strict=True)), {}

    def dense_weights(self, parts: list[Score], sample: Sample) -> list[float] | None:
        return self.params.weights or [1.0] * len(parts)


@register("product")
class Product(ListCombinator):
    """The product of the parts' values (e.g. correctness x a format multiplier)."""

    Params = PartsParams

    def combine(self, parts: list[Score], sample: Sample) -> tuple[float, dict[str, Any]]:
        return math.prod(p.value for p in parts), {}


@register("min")
class Minimum(ListCombinator):
    """The smallest part: the reward is only as good as its weakest property."""

    Params = PartsParams

    def combine(self, parts: list[Score], sample: Sample) -> tuple[float, dict[str, Any]]:
        return min(p.value for p in parts), {}

    def dense_weights(self, parts: list[Score], sample: Sample) -> list[float] | None:
        return _one_hot(parts, min(range(len(parts)), key=lambda i: parts[i].value))


@register("max")
class Maximum(ListCombinator):
    """The largest part (e.g. any of several acceptable verifiers)."""

    Params = PartsParams

    def combine(self, parts: list[Score], sample: Sample) -> tuple[float, dict[str, Any]]:
        return max(p.value for p in parts), {}

    def dense_weights(self, parts: list[Score], sample: Sample) -> list[float] | None:
        return _one_hot(parts, max(range(len(parts)), key=lambda i: parts[i].value))


class OnePartParams(Params):
    of: Any


class OnePartCombinator(Combinator):
    """A combinator over a single part, `of`."""

    params: OnePartParams

    def part_specs(self) -> list[tuple[str, Any]]:
        return [("of", self.params.of)]


class ClipParams(OnePartParams):
    low: float | None = None
    high: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ClipParams:
        if self.low is not None and self.high is not None and self.low > self.high:
            raise ValueError(f"low: must not exceed high ({self.low} > {self.high})")
        return self


@register("clip")
class Clip(OnePartCombinator):
    """The part's value clipped to [low, high] (either bound optional)."""

    Params = ClipParams
    params: ClipParams

    def combine(self, parts: list[Score], sample: Sample) -> tuple[float, dict[str, Any]]:
        value = parts[0].value
        if self.params.low is not None:
            value = max(value, self.params.low)
        if self.params.high is not None:
            value = min(value, self.params.high)
        return value, {}


class GateParams(Params):
    condition: Any
    reward: Any
    threshold: float = 1.0
    penalty: float = 0.0


@register("gate")
class Gate(Combinator):
    """`reward` counts only when `condition` reaches `threshold`; otherwise `penalty`.

    A condition that could not be checked (status not ok) does not pass.
    """

    Params = GateParams
    params: GateParams

    def part_specs(self) -> list[tuple[str, Any]]:
        return [("condition", self.params.condition), ("reward", self.params.reward)]

    def combine(self, parts: list[Score], sample: Sample) -> tuple[float, dict[str, Any]]:
        condition, reward = parts
        passed = condition.ok and condition.value >= self.params.threshold
        if passed:
            return reward.value, {"passed": True}
        return self.params.penalty, {"passed": False, "code": "gate_closed"}

    def dense_weights(self, parts: list[Score], sample: Sample) -> list[float] | None:
        condition = parts[0]
        return [0.0, float(condition.ok and condition.value >= self.params.threshold)]


class ScheduleParams(OnePartParams):
    kind: Literal["constant", "linear", "cosine", "piecewise"] = "linear"
    start: float = 1.0
    end: float = 1.0
    steps: int = Field(default=1, ge=1)
    points: list[tuple[int, float]] | None = None

    @model_validator(mode="after")
    def _points_for_piecewise(self) -> ScheduleParams:
        if self.kind == "piecewise":
            if not self.points:
                raise ValueError("points: required for kind 'piecewise', as [[step, weight], ...]")
            if [p[0] for p in self.points] != sorted(p[0] for p in self.points):
                raise ValueError("points: steps must be in increasing order")
        return self


@register("schedule")
class Schedule(OnePartCombinator):
    """The part's value times a weight that depends on the training step (`meta.step`).

    linear: start -> end over `steps`, then constant; cosine: the same with a half-cosine
    ramp; piecewise: linear interpolation between `points`; constant: `start`.
    """

    Params = ScheduleParams
    params: ScheduleParams

    def weight(self, step: int) -> float:
        p = self.params
        if p.kind == "constant":
            return p.start
        if p.kind == "piecewise":
            assert p.points is not None
            return _interpolate(p.points, step)
        progress = min(max(step, 0) / p.steps, 1.0)
        if p.kind == "cosine":
            progress = (1.0 - math.cos(math.pi * progress)) / 2.0
        return p.start + (p.end - p.start) * progress

    def combine(self, parts: list[Score], sample: Sample) -> tuple[float, dict[str, Any]]:
        weight = self.weight(sample.step)
        return weight * parts[0].value, {"step": sample.step, "weight": weight}

    def dense_weights(self, parts: list[Score], sample: Sample) -> list[float] | None:
        return [self.weight(sample.step)]


def _one_hot(parts: list[Score], chosen: int) -> list[float]:
    return [float(i == chosen) for i in range(len(parts))]


def merge_dense(
    parts: list[list[DenseReward] | None], weights: list[float]
) -> list[DenseReward] | None:
    """The weighted sum of the parts' dense rewards, span by span (None if none has any)."""
    if all(dense is None for dense in parts):
        return None
    total: dict[tuple[int, int, int | None, int | None], float] = {}
    for dense, weight in zip(parts, weights, strict=True):
        for span in dense or []:
            key = (span.start, span.end, span.token_start, span.token_end)
            total[key] = total.get(key, 0.0) + weight * span.reward
    ordered = sorted(total.items(), key=lambda item: item[0][:2])
    return [DenseReward(a, b, reward, ts, te) for (a, b, ts, te), reward in ordered]


def _interpolate(points: list[tuple[int, float]], step: int) -> float:
    if step <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if step <= x1:
            return y0 + (y1 - y0) * (step - x0) / (x1 - x0)
    return points[-1][1]
