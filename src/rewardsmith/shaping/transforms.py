"""Reward transforms, ensembles and calibration: components built on other components.

- `par`: Preference As Reward (arXiv 2502.18770): mean_m sigmoid(k * (r - r_ref_m)) over
  the rewards of M reference responses to the same prompt (`meta.reference_rewards`);
  bounded in (0, 1) and 0.5 at the reference, so a policy gains little by pushing a
  reward model far past what good responses get.
- `log_sigmoid`: u = log sigmoid(r - r_ref) (arXiv 2402.00742), r_ref a high quantile of
  the reference policy's rewards (`meta.reference_reward`, or `reference`). Summing u
  over properties (a `weighted_sum` of several) acts as a logical AND: one property far
  below its reference drags the sum down whatever the others do.
- `ensemble`: members on a common scale (`normalize: batch_z`, each member z-scored over
  the batch), then `mean`, `worst` (min, WCO) or `uncertainty` (mean - lam * variance
  across members, UWO), from "Reward Model Ensembles Help Mitigate Overoptimization"
  (arXiv 2310.02743).
- `calibration`: RLCR (arXiv 2507.16806): correct - (q - correct)^2 with q the confidence
  the completion states (`<confidence>0.8</confidence>` or "Confidence: 80%"); a missing
  or out-of-range confidence is a format failure and is scored as q = 1 - correct, the
  worst Brier term.
"""

from __future__ import annotations

import math
import re
import statistics
from dataclasses import replace
from typing import Any, Literal

from pydantic import Field

from rewardsmith.core.combinators import (
    ListCombinator,
    OnePartCombinator,
    OnePartParams,
    PartsParams,
)
from rewardsmith.core.component import InvalidSample
from rewardsmith.core.config import register
from rewardsmith.core.types import Group, Sample, Score

_CONFIDENCE = re.compile(  # possessive: `\s*%?\s*` would retry every split of a space run
    r"<confidence>\s*+(?P<tag>[0-9.]++)\s*+(?P<tag_pct>%?+)\s*+</confidence>"
    r"|confidence\s*+[:=]\s*+(?P<text>[0-9.]++)\s*+(?P<text_pct>%?+)",
    re.IGNORECASE,
)


def sigmoid(x: float) -> float:
    """1 / (1 + e^-x), without overflow for large |x|."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def log_sigmoid(x: float) -> float:
    """log sigmoid(x), accurate for large |x| (log(1 + e^-x) computed stably)."""
    return -math.log1p(math.exp(-x)) if x >= 0 else x - math.log1p(math.exp(x))


def par(reward: float, reference_rewards: list[float], k: float = 1.0) -> float:
    """PAR: mean over the references of sigmoid(k * (reward - reference))."""
    return math.fsum(sigmoid(k * (reward - ref)) for ref in reference_rewards) / len(
        reference_rewards
    )


def calibration_reward(correct: float, confidence: float | None) -> float:
    """RLCR: correct - (q - correct)^2; no usable q scores the worst Brier term."""
    q = 1.0 - correct if confidence is None else confidence
    return correct - (q - correct) ** 2


def stated_confidence(completion: str) -> float | None:
    """The last confidence the completion states, in [0, 1]; None if none is usable."""
    found = list(_CONFIDENCE.finditer(completion))
    if not found:
        return None
    match = found[-1]
    number = match.group("tag") or match.group("text")
    percent = match.group("tag_pct") or match.group("text_pct")
    try:
        value = float(number) / (100.0 if percent else 1.0)
    except ValueError:
        return None
    return value if 0.0 <= value <= 1.0 else None


class ParParams(OnePartParams):
    k: float = Field(default=1.0, gt=0)


@register("par")
class PreferenceAsReward(OnePartCombinator):
    """PAR over `meta.reference_rewards` (see the module docstring)."""

    Params = ParParams
    params: ParParams

    def combine(self, parts: list[Score], sample: Sample) -> tuple[float, dict[str, Any]]:
        references = sample.meta.get("reference_rewards")
        if not isinstance(references, list) or not references:
            raise InvalidSample("meta.reference_rewards: expected a non-empty list of numbers")
        return par(parts[0].value, [float(r) for r in references], self.params.k), {}


class LogSigmoidParams(OnePartParams):
    reference: float | None = None


@register("log_sigmoid")
class LogSigmoid(OnePartCombinator):
    """log sigmoid(r - r_ref), r_ref from `meta.reference_reward` or `reference`."""

    Params = LogSigmoidParams
    params: LogSigmoidParams

    def combine(self, parts: list[Score], sample: Sample) -> tuple[float, dict[str, Any]]:
        reference = sample.meta.get("reference_reward", self.params.reference)
        if isinstance(reference, bool) or not isinstance(reference, int | float):
            raise InvalidSample(
                "meta.reference_reward: expected a number (or set `reference` in the config)"
            )
        return log_sigmoid(parts[0].value - float(reference)), {"reference": reference}


class EnsembleParams(PartsParams):
    method: Literal["mean", "worst", "uncertainty"] = "mean"
    lam: float = Field(default=0.5, ge=0)
    normalize: Literal["none", "batch_z"] = "none"


@register("ensemble")
class Ensemble(ListCombinator):
    """Mean, worst case or uncertainty-weighted mean of the members (arXiv 2310.02743)."""

    Params = EnsembleParams
    params: EnsembleParams

    def batch_wide(self) -> bool:
        return self.params.normalize == "batch_z" or super().batch_wide()

    def _merge(self, groups: list[Group], by_part: list[list[list[Score]]]) -> list[list[Score]]:
        if self.params.normalize == "batch_z":  # members' own values stay in `components`
            by_part = [_z_scored(scores) for scores in by_part]
        return super()._merge(groups, by_part)

    def combine(self, parts: list[Score], sample: Sample) -> tuple[float, dict[str, Any]]:
        values = [p.value for p in parts]
        if self.params.method == "worst":
            return min(values), {}
        average = statistics.fmean(values)
        if self.params.method == "mean":
            return average, {}
        spread = statistics.pvariance(values)
        return average - self.params.lam * spread, {"variance": spread}


def _z_scored(scores: list[list[Score]]) -> list[list[Score]]:
    """A member's scores z-scored over the batch's ok values (centred only if they are flat)."""
    values = [s.value for row in scores for s in row if s.ok]
    mean = statistics.fmean(values) if values else 0.0
    std = statistics.pstdev(values) if len(values) > 1 else 0.0
    scale = std if std > 0 else 1.0
    return [[replace(s, value=(s.value - mean) / scale) for s in row] for row in scores]


@register("calibration")
class Calibration(OnePartCombinator):
    """RLCR: the correctness of `of` minus the Brier score of the stated confidence."""

    Params = OnePartParams
    params: OnePartParams

    def combine(self, parts: list[Score], sample: Sample) -> tuple[float, dict[str, Any]]:
        correct = 1.0 if parts[0].ok and parts[0].value >= 0.5 else 0.0
        confidence = stated_confidence(sample.completion)
        note = {"confidence": confidence, "format_ok": confidence is not None}
        return calibration_reward(correct, confidence), note
