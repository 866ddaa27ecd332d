"""`constrained`: reward components kept below their usefulness thresholds by Lagrange
multipliers (Constrained RLHF, arXiv 2310.04373).

A learned reward helps only up to a point; past it, optimising it further hurts. Each
constrained component i has a threshold theta_i, and the reward is

    r = objective + sum_i (1 - lambda_i) * r_i,    lambda_i >= 0,

so while a component stays below its threshold it counts in full, and once the policy
pushes it past, its multiplier grows and its weight shrinks (turning negative when
lambda_i > 1, which pulls the component back). After each batch the multipliers take one
projected dual-ascent step from the batch mean:
lambda_i <- max(0, lambda_i + lr * (mean_batch(r_i) - theta_i)).
The rewards of a batch use the multipliers from before it. The multipliers live in the
training-state store, so they survive restarts; concurrent workers each take their own
step and the last write wins (a dual step is not an addition).
"""

from __future__ import annotations

import statistics
import threading
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from rewardsmith.core.combinators import Combinator
from rewardsmith.core.component import Params
from rewardsmith.core.config import register
from rewardsmith.core.types import Group, Sample, Score
from rewardsmith.state import Update

NAMESPACE = "shaping.constrained"


class Constraint(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    of: Any
    threshold: float


class ConstrainedParams(Params):
    objective: Any = None
    constraints: list[Constraint] = Field(min_length=1)
    lr: float = Field(default=0.1, gt=0)
    key: str = "default"


def dual_step(
    multipliers: list[float], means: list[float], thresholds: list[float], lr: float
) -> list[float]:
    """One projected dual-ascent step: lambda_i <- max(0, lambda_i + lr * (mean_i - theta_i))."""
    return [
        max(0.0, lam + lr * (mean - theta))
        for lam, mean, theta in zip(multipliers, means, thresholds, strict=True)
    ]


@register("constrained")
class ConstrainedReward(Combinator):
    """objective + sum_i (1 - lambda_i) r_i with multipliers from the state store."""

    Params = ConstrainedParams
    params: ConstrainedParams
    lock = threading.Lock()
    multipliers: list[float]

    def batch_wide(self) -> bool:
        return True  # each batch's mean moves the multipliers that later batches use

    def part_specs(self) -> list[tuple[str, Any]]:
        parts = [(f"constraints[{i}].of", c.of) for i, c in enumerate(self.params.constraints)]
        if self.params.objective is not None:
            parts.append(("objective", self.params.objective))
        return parts

    def _merge(self, groups: list[Group], by_part: list[list[list[Score]]]) -> list[list[Score]]:
        store, record = self.ctx.store(), f"{self.params.key}:{self.name}"
        count = len(self.params.constraints)
        with self.lock:  # `combine` reads this batch's multipliers
            stored = store.read(NAMESPACE, [record]).get(record, {})
            self.multipliers = [stored.get(f"lambda{i}", 0.0) for i in range(count)]
            merged = super()._merge(groups, by_part)
            means = [_batch_mean(scores) for scores in by_part[:count]]
            thresholds = [c.threshold for c in self.params.constraints]
            updated = dual_step(self.multipliers, means, thresholds, self.params.lr)
        fields = {f"lambda{i}": value for i, value in enumerate(updated)}
        store.apply([Update(NAMESPACE, record, assign=fields)])
        return merged

    def combine(self, parts: list[Score], sample: Sample) -> tuple[float, dict[str, Any]]:
        count = len(self.params.constraints)
        weights = [1.0 - lam for lam in self.multipliers]
        value = sum(w * p.value for w, p in zip(weights, parts[:count], strict=True))
        if self.params.objective is not None:
            value += parts[-1].value
        return value, {"multipliers": list(self.multipliers)}


def _batch_mean(scores: list[list[Score]]) -> float:
    values = [s.value for row in scores for s in row if s.ok]
    return statistics.fmean(values) if values else 0.0
