"""`noise`: rewards from verifiers that make mistakes.

A 0/1 verifier with false-positive rate rho0 = P(observed 1 | truly 0) and
false-negative rate rho1 = P(observed 0 | truly 1) gives a biased reward. `rates`
estimates the two rates (from an audit set with ground truth, or rho1 online from
appeals); `correction` removes the bias (backward) or reweights the policy-gradient
terms (forward), after arXiv 2510.00915; `components` offers both as reward components
(`noise_corrected`, `appeal`). Import `rewardsmith.noise.components` to register them.
"""

from __future__ import annotations

from rewardsmith.noise.correction import (
    DEFAULT_EPSILON,
    backward_correct,
    expected_backward,
    forward_weight,
)
from rewardsmith.noise.rates import (
    Interval,
    NoiseRates,
    RateEstimate,
    estimate_from_appeals,
    estimate_rates,
    wilson_interval,
)

__all__ = [
    "DEFAULT_EPSILON",
    "Interval",
    "NoiseRates",
    "RateEstimate",
    "backward_correct",
    "estimate_from_appeals",
    "estimate_rates",
    "expected_backward",
    "forward_weight",
    "wilson_interval",
]
