"""PAR, log-sigmoid, ensembles and RLCR calibration: formulas, properties, components."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rewardsmith.api  # noqa: F401  (registers the built-in components)
from rewardsmith import Status
from rewardsmith.core.pipeline import Reward
from rewardsmith.shaping.transforms import (
    calibration_reward,
    log_sigmoid,
    par,
    sigmoid,
    stated_confidence,
)
from tests.linear_time import ADVERSARIAL_SIZE, assert_linear

finite = st.floats(-50, 50)
F1 = {"type": "qa", "metric": "f1"}


def test_hand_computed_values():
    assert sigmoid(0.0) == 0.5 and log_sigmoid(0.0) == pytest.approx(math.log(0.5))
    assert par(1.0, [1.0, 0.0], k=2.0) == pytest.approx((0.5 + 1 / (1 + math.exp(-2))) / 2)
    assert calibration_reward(1.0, 0.8) == pytest.approx(1 - 0.04)
    assert calibration_reward(0.0, 0.8) == pytest.approx(-0.64)
    assert calibration_reward(1.0, None) == 0.0 and calibration_reward(0.0, None) == -1.0


@given(finite, st.lists(finite, min_size=1, max_size=10), st.floats(0.1, 5))
def test_par_is_bounded_monotone_and_one_half_at_the_reference(reward, refs, k):
    value = par(reward, refs, k)
    assert 0.0 <= value <= 1.0
    assert par(reward + 1.0, refs, k) >= value
    assert par(refs[0], [refs[0]], k) == 0.5


@given(st.floats(-700, 700))
def test_log_sigmoid_is_stable_negative_and_increasing(x):
    assert log_sigmoid(x) <= 0.0 and math.isfinite(log_sigmoid(x))
    assert log_sigmoid(x + 1.0) >= log_sigmoid(x)


@given(st.floats(0, 1), st.sampled_from([0.0, 1.0]))
def test_honest_confidence_maximises_the_calibration_reward(q, correct):
    assert calibration_reward(correct, correct) >= calibration_reward(correct, q)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("... <confidence>0.7</confidence>", 0.7),
        ("Answer: 3. Confidence: 85%", 0.85),
        ("Confidence: 0.2 ... <confidence>0.9</confidence>", 0.9),
        ("Confidence: 1.7", None),
        ("no confidence given", None),
    ],
)
def test_stated_confidence(text, expected):
    assert stated_confidence(text) == expected


def test_components_on_a_batch():
    samples = [
        {
            "completion": "big black cat",
            "reference": "big black cat",
            "meta": {"reference_rewards": [0.5, 1.0], "reference_reward": 0.5},
        },
        {
            "completion": "a dog",
            "reference": "big black cat",
            "meta": {"reference_rewards": [0.5, 1.0], "reference_reward": 0.5},
        },
        {"completion": "big cat", "reference": "big black cat"},  # no meta: PAR cannot score it
    ]
    with Reward.from_spec({"type": "par", "of": F1}) as reward:
        first, second, third = reward.score(samples)
    assert first.value == pytest.approx((sigmoid(0.5) + 0.5) / 2)
    assert second.value == pytest.approx((sigmoid(-0.5) + sigmoid(-1.0)) / 2)
    assert third.status is Status.INVALID and "meta.reference_rewards" in str(third.info)
    with Reward.from_spec({"type": "log_sigmoid", "of": F1}) as reward:
        assert reward.score(samples[:1])[0].value == pytest.approx(log_sigmoid(0.5))
    stated = "<answer>big black cat</answer> <confidence>0.9</confidence>"
    with Reward.from_spec({"type": "calibration", "of": {"type": "qa"}}) as reward:
        confident, silent = reward.score([{**samples[0], "completion": stated}, samples[1]])
    assert confident.value == pytest.approx(1 - 0.01)
    assert silent.value == -1.0 and silent.info["calibration"]["format_ok"] is False


def test_ensembles_mean_worst_and_uncertainty():
    members = [F1, {"type": "qa", "name": "exact"}]
    sample = {"completion": "big cat", "reference": "big black cat"}  # F1 0.8, EM 0
    for method, expected in [("mean", 0.4), ("worst", 0.0), ("uncertainty", 0.4 - 0.5 * 0.16)]:
        with Reward.from_spec({"type": "ensemble", "of": members, "method": method}) as reward:
            [score] = reward.score([sample])
        assert score.value == pytest.approx(expected)
        assert score.components["qa"] == pytest.approx(0.8) and score.components["exact"] == 0.0


def test_batch_z_puts_members_on_a_common_scale():
    members = [F1, {"type": "qa", "name": "exact"}]
    samples = [
        {"completion": "big black cat", "reference": "big black cat"},
        {"completion": "big cat", "reference": "big black cat"},
        {"completion": "dog", "reference": "big black cat"},
    ]
    spec = {"type": "ensemble", "of": members, "method": "mean", "normalize": "batch_z"}
    with Reward.from_spec(spec) as reward:
        values = [s.value for s in reward.score(samples)]
    assert sum(values) == pytest.approx(0.0)  # each member centred over the batch
    assert values[0] > values[1] > values[2]


def repeat(unit: str, head: str = "", tail: str = "") -> str:
    """`head`, then `unit` repeated to about 100 KB, then `tail`."""
    return head + unit * (ADVERSARIAL_SIZE // len(unit)) + tail


@pytest.mark.parametrize(
    "text",
    [
        repeat(" ", head="<confidence>0.5"),  # `\s*%?\s*` tried every split of the spaces
        repeat("\n", head="<confidence>0.5%", tail="x"),
        repeat("<confidence>0.5 "),
        repeat("confidence: "),
        repeat("9", head="confidence = 0."),
        repeat(" ", head="confidence:", tail="x"),
    ],
    ids=["tag-spaces", "tag-newlines", "tags", "phrases", "digits", "phrase-spaces"],
)
def test_stated_confidence_is_linear(text):
    assert_linear(stated_confidence, text)
