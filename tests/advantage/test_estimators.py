"""Group advantages: hand-computed values, zero-variance groups, validation, invariances."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardsmith.advantage.estimators import METHODS, Advantages, compute_advantages

GROUP_RELATIVE = ("grpo", "dr_grpo", "rloo")

# Binary-ish rewards make ties and zero-variance groups common; rounded floats keep any
# two distinct rewards at least 0.001 apart, so tolerances below stay meaningful.
reward = st.one_of(
    st.sampled_from([0.0, 0.5, 1.0]),
    st.floats(min_value=-10, max_value=10).map(lambda x: round(x, 3)),
)
group = st.lists(reward, min_size=1, max_size=12)
batch = st.lists(group, min_size=1, max_size=6)
varied_group = st.lists(reward, min_size=2, max_size=12).filter(lambda g: len(set(g)) > 1)


def test_grpo_by_hand():
    # mean 0.5, unbiased std sqrt(1/3) (the population std, 0.5, would give ±1)
    [values] = compute_advantages([[1, 0, 0, 1]], "grpo", eps=0).values
    a = 0.5 / math.sqrt(1 / 3)
    assert values == pytest.approx([a, -a, -a, a])
    # eps is added to the std: std of [1, 0] is sqrt(1/2)
    [values] = compute_advantages([[1, 0]], "grpo", eps=1).values
    assert values == pytest.approx([0.5 / (math.sqrt(0.5) + 1), -0.5 / (math.sqrt(0.5) + 1)])


def test_dr_grpo_by_hand():
    result = compute_advantages([[1, 0, 0], [4, 2]], "dr_grpo")
    assert result.values == [pytest.approx([2 / 3, -1 / 3, -1 / 3]), pytest.approx([1, -1])]


def test_rloo_by_hand():
    # each reward minus the mean of the other samples of its group
    result = compute_advantages([[1, 0, 0], [4, 2]], "rloo")
    assert result.values == [pytest.approx([1, -0.5, -0.5]), pytest.approx([2, -2])]


def test_reinforce_pp_whitens_over_the_batch():
    # batch [1, 0, 1, 1, 0, 0]: mean 0.5, population std 0.5
    result = compute_advantages([[1, 0], [1, 1, 0, 0]], "reinforce_pp", eps=0)
    assert result.values == [pytest.approx([1, -1]), pytest.approx([1, 1, -1, -1])]


def test_reinforce_pp_counts_a_zero_variance_group_in_the_stats_but_zeroes_it():
    # batch [1, 0, 1, 1]: mean 0.75, population std sqrt(3)/4
    result = compute_advantages([[1, 0], [1, 1]], "reinforce_pp", eps=0)
    assert result.values == [pytest.approx([1 / math.sqrt(3), -math.sqrt(3)]), [0.0, 0.0]]
    assert result.zero_variance == [False, True]


def test_reinforce_pp_baseline_centres_groups_then_divides_by_the_batch_std():
    # centred: [1.5, -1.5], [0.5, 0.5, -0.5, -0.5], [0, 0]; population std sqrt(5.5 / 8)
    result = compute_advantages([[3, 0], [1, 1, 0, 0], [2, 2]], "reinforce_pp_baseline", eps=0)
    s = math.sqrt(5.5 / 8)
    assert result.values == [
        pytest.approx([1.5 / s, -1.5 / s]),
        pytest.approx([0.5 / s, 0.5 / s, -0.5 / s, -0.5 / s]),
        [0.0, 0.0],
    ]


@pytest.mark.parametrize("method", METHODS)
def test_zero_variance_groups_get_exactly_zero(method):
    result = compute_advantages([[1, 1, 1], [0.5], [1, 0, 1]], method)
    assert result.values[:2] == [[0.0, 0.0, 0.0], [0.0]]
    assert result.zero_variance == [True, True, False]
    assert all(v != 0 for v in result.values[2])


@pytest.mark.parametrize("method", METHODS)
def test_batch_of_only_zero_variance_groups_is_all_zero(method):
    # the groups differ from each other, so reinforce_pp's batch std alone is not 0
    result = compute_advantages([[2, 2], [5], [-1, -1, -1]], method, eps=0)
    assert result == Advantages([[0.0, 0.0], [0.0], [0.0, 0.0, 0.0]], [True, True, True])
    assert all(type(v) is float for values in result.values for v in values)


@pytest.mark.parametrize("method", METHODS)
def test_zero_variance_is_exact_equality_after_float_conversion(method):
    # 2**53 + 1 is not a float: it converts to 2**53
    assert compute_advantages([[2**53, 2**53 + 1]], method).zero_variance == [True]
    # 0.1 + 0.2 != 0.3: no tolerance, the group has (a tiny) signal
    result = compute_advantages([[0.1 + 0.2, 0.3]], method)
    assert result.zero_variance == [False]
    assert result.values[0][0] > result.values[0][1]


@pytest.mark.parametrize("method", METHODS)
def test_empty_batch(method):
    assert compute_advantages([], method) == Advantages([], [])


@pytest.mark.parametrize(
    ("rewards", "method", "eps", "message"),
    [
        ([[1, 0]], "ppo", 1e-6, f"method: unknown 'ppo'; allowed: {', '.join(METHODS)}"),
        ([[1, 0], []], "grpo", 1e-6, "rewards[1]: empty group"),
        ([[1, float("nan")]], "grpo", 1e-6, "rewards[0][1]: nan is not a finite number"),
        ([[1, 0], [0, 1, float("inf")]], "rloo", 1e-6, "rewards[1][2]: inf is not"),
        ([[-float("inf")]], "reinforce_pp", 1e-6, "rewards[0][0]: -inf is not"),
        ([[1, 0]], "grpo", -1e-6, "eps: -1e-06 is not a finite number >= 0"),
        ([[1, 0]], "grpo", float("nan"), "eps: nan is not"),
    ],
)
def test_bad_input_is_named(rewards, method, eps, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        compute_advantages(rewards, method, eps)


@given(batch, st.sampled_from([*GROUP_RELATIVE, "reinforce_pp_baseline"]))
def test_centred_methods_sum_to_zero_in_each_group(rewards, method):
    for values in compute_advantages(rewards, method).values:
        assert sum(values) == pytest.approx(0, abs=1e-6)


@given(batch, st.sampled_from(METHODS), st.randoms())
def test_invariant_to_sample_and_group_order(rewards, method, rnd):
    base = compute_advantages(rewards, method)
    order = rnd.sample(range(len(rewards)), len(rewards))
    perms = [rnd.sample(range(len(g)), len(g)) for g in rewards]
    shuffled = compute_advantages([[rewards[g][i] for i in perms[g]] for g in order], method)
    assert shuffled.zero_variance == [base.zero_variance[g] for g in order]
    for new_index, g in enumerate(order):
        expected = [base.values[g][i] for i in perms[g]]
        assert shuffled.values[new_index] == pytest.approx(expected, abs=1e-9)


@given(varied_group, st.floats(min_value=0.1, max_value=10), st.floats(min_value=-5, max_value=5))
def test_grpo_is_invariant_to_positive_affine_maps(rewards, scale, shift):
    base = compute_advantages([rewards], "grpo", eps=0).values[0]
    moved = compute_advantages([[scale * r + shift for r in rewards]], "grpo", eps=0).values[0]
    assert moved == pytest.approx(base, abs=1e-6)


@given(varied_group)
def test_grpo_advantages_have_unit_sample_std(rewards):
    values = compute_advantages([rewards], "grpo", eps=0).values[0]
    assert np.std(values, ddof=1) == pytest.approx(1)


@given(st.lists(reward, min_size=2, max_size=12))
def test_rloo_is_leave_one_out_and_a_rescaled_dr_grpo(rewards):
    size = len(rewards)
    rloo = compute_advantages([rewards], "rloo").values[0]
    dr = compute_advantages([rewards], "dr_grpo").values[0]
    assert rloo == pytest.approx([size / (size - 1) * d for d in dr], abs=1e-9)
    if len(set(rewards)) > 1:
        others = [(sum(rewards) - r) / (size - 1) for r in rewards]
        assert rloo == pytest.approx([r - o for r, o in zip(rewards, others, strict=True)])


@given(batch, st.sampled_from(METHODS))
def test_higher_reward_gets_higher_advantage_and_ties_get_equal(rewards, method):
    result = compute_advantages(rewards, method)
    for rs, values, flat in zip(rewards, result.values, result.zero_variance, strict=True):
        for i in range(len(rs)):
            for j in range(len(rs)):
                if rs[i] == rs[j]:
                    assert values[i] == values[j]
                elif rs[i] > rs[j]:
                    assert not flat and values[i] > values[j]


@given(st.lists(varied_group, min_size=1, max_size=5))
def test_reinforce_pp_is_whitened_without_zero_variance_groups(rewards):
    values = np.concatenate(compute_advantages(rewards, "reinforce_pp", eps=0).values)
    assert values.mean() == pytest.approx(0, abs=1e-9)
    assert values.std() == pytest.approx(1)


@given(batch.filter(lambda b: any(len(set(g)) > 1 for g in b)))
def test_reinforce_pp_baseline_has_unit_batch_std(rewards):
    # zero-variance groups are 0 after centring anyway, so they never change this
    values = np.concatenate(compute_advantages(rewards, "reinforce_pp_baseline", eps=0).values)
    assert values.std() == pytest.approx(1)
