"""Corrections for a noisy 0/1 verifier with rates rho0 (false positive) and rho1
(false negative), after "RL with Verifiable yet Noisy Rewards under Imperfect
Verifiers" (arXiv 2510.00915).

Backward correction. R_hat = (R_obs - rho0) / (1 - rho0 - rho1). Since
E[R_obs | y] = rho0 + (1 - rho0 - rho1) R*(y), E[R_hat | y] = R*(y): unbiased for the
clean reward, at the price of a variance that grows like 1 / (1 - rho0 - rho1)^2. The
denominator is clamped at `epsilon` (default 0.05) so rates near the breakdown line
1 - rho0 - rho1 = 0 cannot blow the reward up (the clamp gives up unbiasedness there).

Forward correction. Instead of a corrected reward, each score-function term
grad log pi(y | x) is weighted by w1 = rho1 when R_obs = 1 and w0 = rho1 - 1 when
R_obs = 0. Then E[w | y] = (1 - rho0 - rho1) R*(y) - (1 - rho0 - rho1): the clean
reward scaled, plus a constant that sum_y grad pi(y | x) = 0 removes. So the expected
update is (1 - rho0 - rho1) times the clean policy gradient, and only rho1 is needed
(rho0 only sets the step size). A trainer uses w where it would use the reward in
REINFORCE / GRPO's sum of w * grad log pi(y | x) (a group baseline may still be
subtracted, since the constant does not change the expectation), and may divide its
learning rate by 1 - rho0 - rho1 when rho0 is known.
"""

from __future__ import annotations

from rewardsmith.noise.rates import NoiseRates

DEFAULT_EPSILON = 0.05


def _check_epsilon(epsilon: float) -> float:
    if not (0.0 < epsilon <= 1.0):
        raise ValueError(f"epsilon: must be in (0, 1], got {epsilon!r}")
    return float(epsilon)


def denominator(rates: NoiseRates, epsilon: float = DEFAULT_EPSILON) -> float:
    """1 - rho0 - rho1, clamped below at `epsilon`."""
    return max(rates.margin, _check_epsilon(epsilon))


def backward_correct(observed: float, rates: NoiseRates, epsilon: float = DEFAULT_EPSILON) -> float:
    """(R_obs - rho0) / max(1 - rho0 - rho1, epsilon)."""
    return (float(observed) - rates.false_positive) / denominator(rates, epsilon)


def expected_backward(clean: float, rates: NoiseRates, epsilon: float = DEFAULT_EPSILON) -> float:
    """E[R_hat] for a sample whose clean 0/1 reward is `clean`, by enumerating the
    verifier's two outcomes (equals `clean` when the clamp is not active)."""
    p_one = 1.0 - rates.false_negative if clean else rates.false_positive
    return p_one * backward_correct(1.0, rates, epsilon) + (1.0 - p_one) * backward_correct(
        0.0, rates, epsilon
    )


def forward_weight(observed: bool | float, false_negative: float) -> float:
    """w1 = rho1 for an observed 1, w0 = rho1 - 1 for an observed 0."""
    if not (0.0 <= false_negative < 1.0):
        raise ValueError(f"false_negative: must be in [0, 1), got {false_negative!r}")
    return false_negative if observed else false_negative - 1.0
