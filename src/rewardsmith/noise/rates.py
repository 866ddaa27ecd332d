"""Verifier noise rates and their estimation.

rho0 (false positive) = P(verifier says 1 | truly 0); rho1 (false negative) =
P(verifier says 0 | truly 1). The corrections need rho0 + rho1 < 1: a verifier at or
beyond that line carries no (or inverted) information about the truth.

Rates are estimated as binomial proportions with Wilson score intervals (E. B. Wilson,
"Probable inference, the law of succession, and statistical inference", JASA 22, 1927):
for k successes in n trials, p = k / n, z the two-sided normal quantile,

    centre = (p + z^2 / (2n)) / (1 + z^2 / n)
    half   = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / (4 n^2)).

Unlike the normal (Wald) interval it stays inside [0, 1] and is not degenerate at
k = 0 or k = n. With n = 0 the interval is the whole of [0, 1] and the point estimate 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import NormalDist


@dataclass(frozen=True)
class NoiseRates:
    """A verifier's error rates; ValueError naming the field when they are unusable."""

    false_positive: float = 0.0  # rho0 = P(observed 1 | truly 0)
    false_negative: float = 0.0  # rho1 = P(observed 0 | truly 1)

    def __post_init__(self) -> None:
        for name in ("false_positive", "false_negative"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{name}: expected a number in [0, 1), got {value!r}")
            if not (0.0 <= value < 1.0):
                raise ValueError(f"{name}: must be in [0, 1), got {value!r}")
            object.__setattr__(self, name, float(value))
        if self.false_positive + self.false_negative >= 1.0:
            raise ValueError(
                "false_positive + false_negative: must be < 1 (a verifier at or past 1 "
                f"carries no information), got {self.false_positive} + {self.false_negative}"
            )

    @property
    def rho0(self) -> float:
        return self.false_positive

    @property
    def rho1(self) -> float:
        return self.false_negative

    @property
    def margin(self) -> float:
        """1 - rho0 - rho1: how much signal about the truth the verifier keeps."""
        return 1.0 - self.false_positive - self.false_negative


@dataclass(frozen=True)
class Interval:
    low: float
    high: float

    def __contains__(self, value: object) -> bool:
        return isinstance(value, int | float) and self.low <= value <= self.high

    @property
    def width(self) -> float:
        return self.high - self.low


def _z(confidence: float) -> float:
    if not (0.0 < confidence < 1.0):
        raise ValueError(f"confidence: must be in (0, 1), got {confidence!r}")
    return NormalDist().inv_cdf(0.5 + confidence / 2.0)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> Interval:
    """Wilson score interval (Wilson 1927) for `successes` out of `trials`."""
    if trials < 0 or successes < 0 or successes > trials:
        raise ValueError(
            f"successes, trials: need 0 <= successes <= trials, got {successes}, {trials}"
        )
    z = _z(confidence)
    if trials == 0:
        return Interval(0.0, 1.0)
    p = successes / trials
    z2 = z * z
    denom = 1.0 + z2 / trials
    centre = (p + z2 / (2 * trials)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / trials + z2 / (4 * trials * trials))
    # keep the point estimate inside despite rounding at k = 0 or k = n
    return Interval(max(0.0, min(centre - half, p)), min(1.0, max(centre + half, p)))


@dataclass(frozen=True)
class Proportion:
    """k out of n with its point estimate and Wilson interval."""

    count: int
    trials: int
    estimate: float
    interval: Interval

    @classmethod
    def of(cls, count: int, trials: int, confidence: float = 0.95) -> Proportion:
        estimate = count / trials if trials else 0.0
        return cls(count, trials, estimate, wilson_interval(count, trials, confidence))


@dataclass(frozen=True)
class RateEstimate:
    """Estimated rates: `false_positive` out of the truly-0 items, `false_negative` out
    of the truly-1 items (either may be None when it was not estimated)."""

    false_positive: Proportion | None
    false_negative: Proportion | None
    confidence: float = 0.95

    def rates(self) -> NoiseRates:
        """The point estimates as NoiseRates (0 for a rate not estimated); ValueError
        when they sum to 1 or more."""
        rho0 = self.false_positive.estimate if self.false_positive else 0.0
        rho1 = self.false_negative.estimate if self.false_negative else 0.0
        return NoiseRates(rho0, rho1)


def estimate_rates(
    observed: Sequence[bool], truth: Sequence[bool], confidence: float = 0.95
) -> RateEstimate:
    """Both rates from an audit set: the verifier's verdicts and the ground truth."""
    if len(observed) != len(truth):
        raise ValueError(f"observed, truth: lengths differ ({len(observed)} and {len(truth)})")
    negatives = sum(1 for t in truth if not t)
    positives = len(truth) - negatives
    false_pos = sum(1 for o, t in zip(observed, truth, strict=True) if o and not t)
    false_neg = sum(1 for o, t in zip(observed, truth, strict=True) if t and not o)
    return RateEstimate(
        Proportion.of(false_pos, negatives, confidence),
        Proportion.of(false_neg, positives, confidence),
        confidence,
    )


def estimate_from_appeals(overturned: int, rechecked: int, confidence: float = 0.95) -> Proportion:
    """rho1 estimated online as overturned / rejected-and-rechecked (REWARDS.md,
    after arXiv 2510.00915), with its Wilson interval.

    This treats the second verifier as the truth. Strictly, overturned / rechecked is
    P(truly 1 | observed 0); it approximates rho1 = P(observed 0 | truly 1) and is
    what the appeals scheme uses.
    """
    return Proportion.of(int(overturned), int(rechecked), confidence)
