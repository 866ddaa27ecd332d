"""Noise rates, Wilson intervals and the two corrections: hand-computed values and
exact (enumerated) properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardsmith.noise import (
    NoiseRates,
    backward_correct,
    estimate_from_appeals,
    estimate_rates,
    expected_backward,
    forward_weight,
    wilson_interval,
)
from rewardsmith.noise.correction import denominator

EPS = 0.05


@st.composite
def usable_rates(draw, margin: float = EPS):
    """Rates with 1 - rho0 - rho1 >= margin (the clamp is not active)."""
    rho0 = draw(st.floats(0.0, 1.0 - margin))
    rho1 = draw(st.floats(0.0, 1.0 - margin - rho0))
    return NoiseRates(rho0, rho1)


# --- hand-computed examples -------------------------------------------------------


def test_backward_hand_values():
    rates = NoiseRates(0.1, 0.3)
    assert backward_correct(1, rates) == pytest.approx(0.9 / 0.6)  # 1.5
    assert backward_correct(0, rates) == pytest.approx(-0.1 / 0.6)  # -1/6


def test_backward_clamps_the_denominator():
    rates = NoiseRates(0.5, 0.48)  # 1 - rho0 - rho1 = 0.02 < epsilon
    assert denominator(rates) == 0.05
    assert backward_correct(1, rates) == pytest.approx(0.5 / 0.05)
    assert backward_correct(1, rates, epsilon=0.25) == pytest.approx(0.5 / 0.25)
    with pytest.raises(ValueError, match="epsilon"):
        backward_correct(1, rates, epsilon=0.0)


def test_forward_hand_values():
    assert forward_weight(True, 0.3) == pytest.approx(0.3)
    assert forward_weight(False, 0.3) == pytest.approx(-0.7)
    assert forward_weight(1.0, 0.0) == 0.0
    assert forward_weight(0.0, 0.0) == -1.0
    with pytest.raises(ValueError, match="false_negative"):
        forward_weight(True, 1.0)


def test_wilson_hand_values():
    half = wilson_interval(5, 10)
    assert (half.low, half.high) == pytest.approx((0.23659, 0.76341), abs=1e-5)
    none = wilson_interval(0, 10)
    assert none.low == 0.0
    assert none.high == pytest.approx(0.27753, abs=1e-5)  # = 2 * centre at k = 0
    assert (wilson_interval(0, 0).low, wilson_interval(0, 0).high) == (0.0, 1.0)
    with pytest.raises(ValueError, match="successes, trials"):
        wilson_interval(3, 2)
    with pytest.raises(ValueError, match="confidence"):
        wilson_interval(1, 2, confidence=1.0)


def test_estimate_rates_from_an_audit():
    observed = [True, True, False, False, True, False]
    truth = [True, True, True, False, False, False]
    est = estimate_rates(observed, truth)
    assert est.false_negative is not None and est.false_positive is not None
    assert (est.false_negative.count, est.false_negative.trials) == (1, 3)
    assert (est.false_positive.count, est.false_positive.trials) == (1, 3)
    assert est.false_negative.estimate == pytest.approx(1 / 3)
    assert est.false_positive.estimate == pytest.approx(1 / 3)
    assert est.rates() == NoiseRates(1 / 3, 1 / 3)
    with pytest.raises(ValueError, match="observed, truth"):
        estimate_rates([True], [True, False])


def test_estimate_rates_without_one_class():
    est = estimate_rates([True, False], [True, True])
    assert est.false_positive is not None
    assert est.false_positive.trials == 0
    assert (est.false_positive.interval.low, est.false_positive.interval.high) == (0.0, 1.0)
    assert est.rates() == NoiseRates(0.0, 0.5)


def test_estimate_from_appeals():
    est = estimate_from_appeals(overturned=3, rechecked=12)
    assert est.estimate == pytest.approx(0.25)
    assert est.interval.low < 0.25 < est.interval.high
    assert est.interval == wilson_interval(3, 12)


@pytest.mark.parametrize(
    ("rho0", "rho1", "field"),
    [
        (-0.1, 0.0, "false_positive"),
        (1.0, 0.0, "false_positive"),
        (0.0, 1.2, "false_negative"),
        (0.0, math.nan, "false_negative"),
        ("0.1", 0.0, "false_positive"),
        (0.5, 0.5, r"false_positive \+ false_negative"),
    ],
)
def test_invalid_rates_name_the_field(rho0, rho1, field):
    with pytest.raises(ValueError, match=field):
        NoiseRates(rho0, rho1)


# --- properties -------------------------------------------------------------------


@given(usable_rates(), st.sampled_from([0, 1]))
def test_backward_is_unbiased_by_enumeration(rates, clean):
    # the verifier's two outcomes and their probabilities given the clean reward
    p_one = 1 - rates.rho1 if clean else rates.rho0
    expected = p_one * backward_correct(1, rates) + (1 - p_one) * backward_correct(0, rates)
    assert expected == pytest.approx(clean, abs=1e-9)
    assert expected_backward(clean, rates) == pytest.approx(clean, abs=1e-9)


@given(usable_rates(margin=0.0 + 1e-6), st.floats(0, 1), st.floats(0, 1))
def test_backward_is_monotone(rates, a, b):
    low, high = sorted((a, b))
    assert backward_correct(low, rates) <= backward_correct(high, rates)
    if high - low > 1e-9:  # strictly, beyond floating-point resolution
        assert backward_correct(low, rates) < backward_correct(high, rates)


@given(st.floats(0, 1))
def test_backward_without_noise_is_the_identity(observed):
    assert backward_correct(observed, NoiseRates(0.0, 0.0)) == observed


@settings(deadline=None)  # the first call pays numpy's warm-up
@given(
    usable_rates(margin=1e-3),
    st.lists(st.floats(-3, 3), min_size=2, max_size=6),
    st.data(),
)
def test_forward_expected_update_is_scaled_clean_update(rates, logits, data):
    # a softmax policy over K responses: grad_theta log pi(y) = e_y - pi
    k = len(logits)
    clean = np.array(data.draw(st.lists(st.sampled_from([0, 1]), min_size=k, max_size=k)))
    pi = np.exp(logits - np.max(logits))
    pi /= pi.sum()
    scores = np.eye(k) - pi  # row y: grad log pi(y)
    clean_update = (pi * clean) @ scores
    # enumerate the verifier's outcome for each response
    expected_w = np.array(
        [
            (1 - rates.rho1) * forward_weight(True, rates.rho1)
            + rates.rho1 * forward_weight(False, rates.rho1)
            if r
            else rates.rho0 * forward_weight(True, rates.rho1)
            + (1 - rates.rho0) * forward_weight(False, rates.rho1)
            for r in clean
        ]
    )
    forward_update = (pi * expected_w) @ scores
    np.testing.assert_allclose(forward_update, rates.margin * clean_update, atol=1e-9)


proportions = st.integers(1, 50).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n)))


@given(proportions, st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_wilson_contains_the_point_estimate(kn, confidence):
    k, n = kn
    interval = wilson_interval(k, n, confidence)
    assert 0.0 <= interval.low <= k / n <= interval.high <= 1.0


@given(proportions, st.integers(2, 20))
def test_wilson_narrows_with_n(kn, factor):
    k, n = kn
    assert wilson_interval(k * factor, n * factor).width < wilson_interval(k, n).width
