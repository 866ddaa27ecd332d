"""Group advantages: hand-computed values, zero-variance groups, and invariances."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardsmith.advantage.estimators import METHODS, compute_advantages

reward = st.floats(min_value=-10, max_value=10, allow_nan=False).map(lambda x: round(x, 3))
group = st.lists(reward, min_size=2, max_size=12)
batch = st.lists(group, min_size=1, max_size=6)


def test_grpo_by_hand():
    # mean 0.5, unbiased std sqrt(1/3)
    [values] = compute_advantages([[1, 0, 0, 1]], "grpo", eps=0).values
    expected = 0.5 / math.sqrt(1 / 3)
    assert values == pytest.approx([expected, -expected, -expected, expected])


def test_dr_grpo_and_rloo_by_hand():
    assert compute_advantages([[1, 0, 0]], "dr_grpo").values == [
        pytest.approx([2 / 3, -1 / 3, -1 / 3])
    ]
    # rloo: r_i minus the mean of the other two
    assert compute_advantages([[1, 0, 0]], "rloo").values == [pytest.approx([1, -0.5, -0.5])]


def test_reinforce_pp_whitens_over_the_batch():
    result = compute_advantages([[1, 0], [1, 1, 0, 0]], "reinforce_pp", eps=0)
    flat = np.array([1, 0, 1, 1, 0, 0], dtype=float)
    expected = (flat - flat.mean()) / flat.std()
    assert list(itertools.chain.from_iterable(result.values)) == pytest.approx(expected.tolist())


def test_reinforce_pp_baseline_centres_groups_first():
    result = compute_advantages([[2, 0], [5, 5, 3, 3]], "reinforce_pp_baseline", eps=0)
    centred = np.array([1, -1, 1, 1, -1, -1], dtype=float)
    assert list(itertools.chain.from_iterable(result.values)) == pytest.approx(
        (centred / centred.std()).tolist()
    )


@pytest.mark.parametrize("method", METHODS)
def test_zero_variance_groups_get_exactly_zero(method):
    result = compute_advantages([[1, 1, 1], [0.5], [1, 0, 1]], method)
    assert result.values[0] == [0.0, 0.0, 0.0]
    assert result.values[1] == [0.0]
    assert result.zero_variance == [True, True, False]
    assert any(v != 0 for v in result.values[2])


@pytest.mark.parametrize("method", METHODS)
def test_all_equal_batch_is_all_zero(method):
    result = compute_advantages([[2, 2], [2, 2, 2]], method)
    assert result.values == [[0, 0], [0, 0, 0]] and all(result.zero_variance)


@pytest.mark.parametrize(
    ("rewards", "method", "message"),
    [
        ([[1, 0]], "ppo", "method: unknown 'ppo'; allowed: grpo"),
        ([[1, 0], []], "grpo", r"rewards\[1\]: empty group"),
        ([[1, float("nan")]], "grpo", r"rewards\[0\]\[1\]: nan is not a finite number"),
        ([[1, 0], [0, float("inf")]], "rloo", r"rewards\[1\]\[1\]: inf"),
    ],
)
def test_bad_input_is_named(rewards, method, message):
    with pytest.raises(ValueError, match=message):
        compute_advantages(rewards, method)


def test_empty_batch():
    assert compute_advantages([], "grpo").values == []


@given(batch, st.sampled_from(["grpo", "dr_grpo", "rloo"]))
def test_group_relative_advantages_sum_to_zero(rewards, method):
    for values in compute_advantages(rewards, method).values:
        assert sum(values) == pytest.approx(0, abs=1e-6)


@given(batch, st.sampled_from(METHODS), st.randoms())
def test_invariant_to_sample_and_group_order(rewards, method, rnd):
    base = compute_advantages(rewards, method).values
    order = list(range(len(rewards)))
    rnd.shuffle(order)
    perms = [rnd.sample(range(len(g)), len(g)) for g in rewards]
    shuffled = [[rewards[g][i] for i in perms[g]] for g in order]
    result = compute_advantages(shuffled, method).values
    for new_index, g in enumerate(order):
        expected = [base[g][i] for i in perms[g]]
        assert result[new_index] == pytest.approx(expected, abs=1e-9)


@given(group, st.floats(min_value=0.1, max_value=10), st.floats(min_value=-5, max_value=5))
def test_grpo_is_invariant_to_positive_affine_maps(rewards, scale, shift):
    base = compute_advantages([rewards], "grpo", eps=0).values[0]
    moved = compute_advantages([[scale * r + shift for r in rewards]], "grpo", eps=0).values[0]
    assert moved == pytest.approx(base, abs=1e-6)


@given(group)
def test_rloo_is_a_rescaled_dr_grpo(rewards):
    size = len(rewards)
    rloo = compute_advantages([rewards], "rloo").values[0]
    dr = compute_advantages([rewards], "dr_grpo").values[0]
    assert rloo == pytest.approx([size / (size - 1) * d for d in dr], abs=1e-9)


@given(batch, st.sampled_from(METHODS))
def test_higher_reward_never_gets_lower_advantage(rewards, method):
    for rs, values in zip(rewards, compute_advantages(rewards, method).values, strict=True):
        for i in range(len(rs)):
            for j in range(len(rs)):
                if rs[i] > rs[j]:
                    assert values[i] >= values[j] - 1e-12


@given(st.lists(group.filter(lambda g: len(set(g)) > 1), min_size=1, max_size=5))
def test_reinforce_pp_has_zero_batch_mean(rewards):
    values = list(itertools.chain.from_iterable(compute_advantages(rewards, "reinforce_pp").values))
    assert np.mean(values) == pytest.approx(0, abs=1e-6)
