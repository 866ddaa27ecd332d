"""Credit assignment: hand-computed values, min-form, hacking resistance, gates, invariances."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from rewardsmith.process.credit import (
    Credit,
    atomic_curriculum,
    clip,
    clip_delta,
    delta,
    discounted_returns,
    gated,
    implicit_prm_token_rewards,
    min_form,
    plain_sum,
    prime_advantages,
    progress,
)

# PRM-like rewards in [-1, 1], rounded so that distinct rewards are at least 0.001 apart.
reward = st.one_of(
    st.sampled_from([-1.0, 0.0, 0.5, 1.0]),
    st.floats(min_value=-1, max_value=1).map(lambda x: round(x, 3)),
)
correct_reward = st.floats(min_value=0, max_value=1).map(lambda x: round(x, 3))
steps = st.lists(reward, min_size=1, max_size=12)
any_steps = st.lists(reward, max_size=12)

# Each aggregator with its scalar parameter (outcome or eta) drawn by the test.
AGGREGATORS = {
    "plain_sum": lambda r, x: plain_sum(r),
    "min_form": lambda r, x: min_form(r),
    "min_form_soft": lambda r, x: min_form(r, temperature=0.1),
    "clip": lambda r, x: clip(r, eta=x),
    "delta": lambda r, x: delta(r),
    "clip_delta": lambda r, x: clip_delta(r, eta=x),
    "progress": lambda r, x: progress(r, x, alpha=0.5, initial=0.2),
    "gated": lambda r, x: gated(r, x, threshold=0.0),
    "atomic_curriculum": lambda r, x: atomic_curriculum(r, x, step=300),
}


@st.composite
def with_correct_step(draw):
    """A sample holding a step with reward >= 0, and that step's reward."""
    rewards = draw(any_steps)
    correct = draw(correct_reward)
    rewards.insert(draw(st.integers(0, len(rewards))), correct)
    return rewards, correct


def repeat_step(rewards, step, position, copies):
    return [*rewards[:position], *[step] * copies, *rewards[position:]]


# --- hand-computed examples -------------------------------------------------------------


def test_plain_sum_by_hand():
    assert plain_sum([0.5, -0.25, 1.0]) == Credit([0.5, -0.25, 1.0], 1.25)


def test_strict_min_form_by_hand():
    # returns from each step: min of the suffix = [0.2, 0.2, 0.8]
    result = min_form([0.5, 0.2, 0.8])
    assert result.step_rewards == pytest.approx([0.0, -0.6, 0.8])
    assert result.value == 0.2


def test_soft_min_form_by_hand():
    # T = 1: weights e^0.5 : e^-0.5, i.e. 1 / (1 + e^-1) and e^-1 / (1 + e^-1)
    w = 1 / (1 + math.exp(-1))
    result = min_form([-0.5, 0.5], temperature=1.0)
    assert result.step_rewards == pytest.approx([-0.5 * w, 0.5 * (1 - w)])
    assert result.value == pytest.approx(0.5 - w)
    # equal rewards get equal weights: the value is the reward, not the sum
    result = min_form([0.3, 0.3, 0.3], temperature=0.1)
    assert result.step_rewards == pytest.approx([0.1, 0.1, 0.1])
    assert result.value == pytest.approx(0.3)


def test_clip_by_hand():
    assert clip([0.5, -0.25, 1.0]) == Credit([0.0, -0.25, 0.0], -0.25)
    result = clip([0.5, -0.25, 1.0], eta=0.6)
    assert result.step_rewards == pytest.approx([-0.1, -0.85, 0.0])
    assert result.value == pytest.approx(-0.95)


def test_delta_by_hand():
    result = delta([0.5, 0.2, 0.8])
    assert result.step_rewards == pytest.approx([0.3, -0.6, 0.8])
    assert result.value == 0.5


def test_clip_delta_by_hand():
    # clipped with eta 0.6: [-0.1, -0.4, 0.0]
    result = clip_delta([0.5, 0.2, 0.8], eta=0.6)
    assert result.step_rewards == pytest.approx([0.3, -0.4, 0.0])
    assert result.value == pytest.approx(-0.1)


def test_progress_by_hand():
    # progress from V_0 = 0: [0.2, 0.3, -0.1]; alpha 2; outcome 1 on the last step
    result = progress([0.2, 0.5, 0.4], 1.0, alpha=2.0)
    assert result.step_rewards == pytest.approx([0.4, 0.6, 0.8])
    assert result.value == pytest.approx(1.8)
    # from V_0 = 0.3: [-0.1, 0.3, -0.1]
    result = progress([0.2, 0.5, 0.4], 1.0, alpha=2.0, initial=0.3)
    assert result.step_rewards == pytest.approx([-0.2, 0.6, 0.8])
    assert result.value == pytest.approx(1.2)


def test_gated_by_hand():
    assert gated([0.5, 0.25], 1.0) == Credit([0.5, 1.25], 1.75)
    assert gated([0.5, 0.25], 0.5) == Credit([0.0, 0.5], 0.5)
    assert gated([0.5, 0.25], 0.5, threshold=0.5) == Credit([0.5, 0.75], 1.25)


@pytest.mark.parametrize(("step", "alpha"), [(0, 0.5), (500, 0.25), (1000, 0.0), (5000, 0.0)])
def test_atomic_curriculum_by_hand(step, alpha):
    # mean step reward 0.5; outcome 0.8
    result = atomic_curriculum([1.0, 0.5, 0.0], 0.8, step=step)
    expected = [alpha / 3, alpha * 0.5 / 3, (1 - alpha) * 0.8]
    assert result.step_rewards == pytest.approx(expected)
    assert result.value == pytest.approx(alpha * 0.5 + (1 - alpha) * 0.8)


def test_atomic_curriculum_custom_schedule():
    # alpha from 1.0 to 0.2 over 10 steps: 0.6 at step 5
    result = atomic_curriculum(
        [0.4, 0.2], 1.0, step=5, alpha_start=1.0, alpha_end=0.2, decay_steps=10
    )
    assert result.step_rewards == pytest.approx([0.12, 0.06 + 0.4])
    assert result.value == pytest.approx(0.6 * 0.3 + 0.4)


# --- invariants shared by the aggregators -----------------------------------------------


@pytest.mark.parametrize("name", AGGREGATORS)
@given(rewards=steps, x=reward)
def test_step_credit_sums_to_the_value(name, rewards, x):
    result = AGGREGATORS[name](rewards, x)
    assert len(result.step_rewards) == len(rewards)
    assert sum(result.step_rewards) == pytest.approx(result.value, abs=1e-9)


@pytest.mark.parametrize(
    ("call", "value"),
    [
        (lambda: plain_sum([]), 0.0),
        (lambda: min_form([]), 0.0),
        (lambda: min_form([], temperature=0.1), 0.0),
        (lambda: clip([], eta=0.5), 0.0),
        (lambda: delta([]), 0.0),
        (lambda: clip_delta([], eta=0.5), 0.0),
        (lambda: progress([], 0.7, alpha=2.0, initial=0.4), 0.7),
        (lambda: gated([], 0.7, threshold=0.5), 0.7),
        (lambda: gated([], 0.3, threshold=0.5), 0.3),
        (lambda: atomic_curriculum([], 0.8, step=0), 0.4),
    ],
)
def test_no_steps_keeps_only_the_outcome_part(call, value):
    result = call()
    assert result.step_rewards == []
    assert result.value == pytest.approx(value)


@pytest.mark.parametrize("name", AGGREGATORS)
@given(
    batch=st.lists(steps, min_size=1, max_size=5),
    order=st.randoms(use_true_random=False),
    x=reward,
)
def test_results_do_not_depend_on_the_rest_of_the_batch(name, batch, order, x):
    function = AGGREGATORS[name]
    alone = [function(rewards, x) for rewards in batch]
    shuffled = list(range(len(batch)))
    order.shuffle(shuffled)
    together = {i: function(batch[i], x) for i in shuffled}
    assert [together[i] for i in range(len(batch))] == alone


@pytest.mark.parametrize(
    ("call", "name"),
    [
        (lambda: plain_sum([1.0, math.nan]), "rewards[1]"),
        (lambda: min_form([math.inf]), "rewards[0]"),
        (lambda: min_form([1.0], temperature=math.inf), "temperature"),
        (lambda: min_form([1.0], temperature=0.0), "temperature"),
        (lambda: clip([0.0], eta=math.nan), "eta"),
        (lambda: delta([0.0, -math.inf]), "rewards[1]"),
        (lambda: clip_delta([0.0], eta=math.inf), "eta"),
        (lambda: progress([0.1, math.nan], 1.0), "values[1]"),
        (lambda: progress([0.1], math.nan), "outcome"),
        (lambda: progress([0.1], 1.0, alpha=math.inf), "alpha"),
        (lambda: progress([0.1], 1.0, initial=math.nan), "initial"),
        (lambda: gated([math.nan], 1.0), "rewards[0]"),
        (lambda: gated([0.0], math.inf), "outcome"),
        (lambda: gated([0.0], 1.0, threshold=math.nan), "threshold"),
        (lambda: atomic_curriculum([math.nan], 1.0, step=0), "rewards[0]"),
        (lambda: atomic_curriculum([0.0], math.nan, step=0), "outcome"),
        (lambda: atomic_curriculum([0.0], 1.0, step=-1), "step"),
        (lambda: atomic_curriculum([0.0], 1.0, step=0, decay_steps=0), "decay_steps"),
        (lambda: atomic_curriculum([0.0], 1.0, step=0, alpha_start=1.5), "alpha_start"),
        (lambda: atomic_curriculum([0.0], 1.0, step=0, alpha_end=math.nan), "alpha_end"),
        (lambda: discounted_returns([0.0], gamma=math.nan), "gamma"),
        (lambda: discounted_returns([0.0], gamma=1.5), "gamma"),
        (lambda: discounted_returns([math.inf]), "step_rewards[0]"),
        (lambda: implicit_prm_token_rewards([0.0, math.nan], [0.0, 0.0]), "logprobs[1]"),
        (lambda: implicit_prm_token_rewards([0.0], [-math.inf]), "ref_logprobs[0]"),
        (lambda: implicit_prm_token_rewards([0.0], [0.0], beta=math.inf), "beta"),
        (
            lambda: prime_advantages([[0.0], [math.nan]], [1.0, 0.0]),
            "token_rewards_per_sample[1][0]",
        ),
        (lambda: prime_advantages([[0.0], []], [1.0, 0.0]), "token_rewards_per_sample[1]"),
        (lambda: prime_advantages([[0.0]], [math.inf]), "outcomes[0]"),
        (lambda: prime_advantages([[0.0]], [1.0], gamma=math.nan), "gamma"),
    ],
)
def test_bad_inputs_raise_naming_the_argument(call, name):
    with pytest.raises(ValueError, match=rf"^{re.escape(name)}:"):
        call()


# --- min-form ---------------------------------------------------------------------------


@given(rewards=steps)
def test_strict_min_form_is_worth_the_worst_step(rewards):
    result = min_form(rewards)
    assert result.value == min(rewards)
    assert all(result.value <= r for r in rewards)
    suffix_minima = [min(rewards[t:]) for t in range(len(rewards))]
    assert discounted_returns(result.step_rewards) == pytest.approx(suffix_minima, abs=1e-12)


@given(rewards=steps, temperature=st.floats(min_value=0.01, max_value=10))
def test_soft_min_form_lies_between_the_minimum_and_the_mean(rewards, temperature):
    value = min_form(rewards, temperature=temperature).value
    assert min(rewards) - 1e-12 <= value <= sum(rewards) / len(rewards) + 1e-12


# Distinct multiples of 0.05: the minimum beats every other step by at least 0.05 / T.
separated = st.lists(st.integers(-20, 20), min_size=1, max_size=12, unique=True).map(
    lambda xs: [x / 20 for x in xs]
)


@given(rewards=separated)
def test_soft_min_form_tends_to_the_strict_form_as_temperature_falls(rewards):
    soft = min_form(rewards, temperature=1e-3)
    assert soft.value == pytest.approx(min_form(rewards).value, abs=1e-12)
    lowest = rewards.index(min(rewards))
    returns = discounted_returns(soft.step_rewards)
    assert returns[: lowest + 1] == pytest.approx([min(rewards)] * (lowest + 1), abs=1e-12)
    # with T = 1 the soft value is visibly above the minimum unless there is one step
    if len(rewards) > 1:
        assert min_form(rewards, temperature=1.0).value > min(rewards) + 1e-3


# --- repeating a correct step: clip and delta resist, plain sum is hacked ----------------


@given(sample=with_correct_step(), data=st.data())
def test_repeating_a_correct_step_never_raises_clip(sample, data):
    rewards, correct = sample
    eta = data.draw(st.sampled_from([0.0, 0.3, 1.0]))
    position = data.draw(st.integers(0, len(rewards)))
    copies = data.draw(st.integers(1, 4))
    longer = repeat_step(rewards, correct, position, copies)
    assert clip(longer, eta=eta).value <= clip(rewards, eta=eta).value


@given(sample=with_correct_step(), data=st.data())
def test_repeating_a_correct_step_after_the_first_leaves_delta_unchanged(sample, data):
    # The return telescopes to the first step's reward, so steps inserted after it cannot
    # move it. (Putting a better step first would change the first step itself.)
    rewards, correct = sample
    position = data.draw(st.integers(1, len(rewards)))
    copies = data.draw(st.integers(1, 4))
    longer = repeat_step(rewards, correct, position, copies)
    assert delta(longer).value == delta(rewards).value == rewards[0]
    assert clip_delta(longer, eta=0.3).value == clip_delta(rewards, eta=0.3).value


@given(sample=with_correct_step(), data=st.data())
def test_repeating_a_correct_step_raises_plain_sum(sample, data):
    # The contrast: under plain summation every extra copy of a positive step pays.
    rewards, correct = sample
    assume(correct > 0)
    position = data.draw(st.integers(0, len(rewards)))
    copies = data.draw(st.integers(1, 4))
    longer = repeat_step(rewards, correct, position, copies)
    assert plain_sum(longer).value == pytest.approx(plain_sum(rewards).value + copies * correct)
    assert plain_sum(longer).value > plain_sum(rewards).value


def test_padding_with_correct_steps_by_hand():
    honest, padded = [0.9, 0.6], [0.9, 0.9, 0.9, 0.9, 0.6]
    assert plain_sum(padded).value > plain_sum(honest).value  # 4.2 > 1.5: hacked
    assert clip(padded, eta=1.0).value == pytest.approx(-0.8)  # below -0.5
    assert clip(honest, eta=1.0).value == pytest.approx(-0.5)
    assert delta(padded).value == delta(honest).value == 0.9
    assert min_form(padded).value == min_form(honest).value == 0.6


@given(rewards=steps)
def test_delta_return_from_each_step_is_its_reward(rewards):
    assert discounted_returns(delta(rewards).step_rewards) == pytest.approx(rewards, abs=1e-12)


@given(rewards=steps, eta=st.floats(min_value=-1, max_value=1))
def test_clip_credit_is_never_positive(rewards, eta):
    assert all(r <= 0 for r in clip(rewards, eta=eta).step_rewards)


# --- progress, gated, curriculum --------------------------------------------------------


@given(values=steps, outcome=reward, alpha=st.floats(0, 2), initial=reward)
def test_progress_return_from_each_step(values, outcome, alpha, initial):
    result = progress(values, outcome, alpha=alpha, initial=initial)
    before = [initial, *values[:-1]]
    expected = [outcome + alpha * (values[-1] - v) for v in before]
    assert discounted_returns(result.step_rewards) == pytest.approx(expected, abs=1e-9)


@given(rewards=steps, outcome=st.floats(min_value=-1, max_value=0.999))
def test_gated_gives_no_step_credit_below_the_threshold(rewards, outcome):
    result = gated(rewards, outcome, threshold=1.0)
    assert result.step_rewards == [0.0] * (len(rewards) - 1) + [outcome]
    assert result.value == outcome


@given(rewards=steps, outcome=st.floats(min_value=1, max_value=2))
def test_gated_counts_every_step_at_or_above_the_threshold(rewards, outcome):
    result = gated(rewards, outcome, threshold=1.0)
    assert result.step_rewards[:-1] == rewards[:-1]
    assert result.step_rewards[-1] == pytest.approx(rewards[-1] + outcome)
    assert result.value == pytest.approx(outcome + sum(rewards))


@given(step=st.integers(0, 3000))
def test_curriculum_weight_falls_linearly_then_stays(step):
    # one step with reward 1 and outcome 0: the value is alpha itself
    alpha = atomic_curriculum([1.0], 0.0, step=step).value
    assert alpha == pytest.approx(max(0.5 - 0.5 * step / 1000, 0.0))


# --- token-level helpers ----------------------------------------------------------------


@given(rewards=any_steps)
def test_undiscounted_returns_are_suffix_sums(rewards):
    expected = [sum(rewards[t:]) for t in range(len(rewards))]
    assert discounted_returns(rewards) == pytest.approx(expected, abs=1e-9)


def test_discounted_returns_by_hand():
    assert discounted_returns([1.0, 2.0, 3.0], gamma=0.5) == [2.75, 3.5, 3.0]
    assert discounted_returns([1.0, 2.0, 3.0], gamma=0.0) == [1.0, 2.0, 3.0]
    assert discounted_returns([]) == []


def test_implicit_prm_by_hand():
    rewards = implicit_prm_token_rewards([-0.5, -1.0, -2.0], [-1.0, -1.0, -1.5])
    assert rewards == pytest.approx([0.025, 0.0, -0.025])
    rewards = implicit_prm_token_rewards([-0.5, -1.0], [-1.0, -3.0], beta=0.5)
    assert rewards == pytest.approx([0.25, 1.0])


def test_implicit_prm_lengths_must_match():
    with pytest.raises(ValueError, match=r"logprobs, ref_logprobs: lengths 3 and 2 differ"):
        implicit_prm_token_rewards([-0.5, -1.0, -2.0], [-1.0, -1.0])


def test_prime_advantages_two_samples_by_hand():
    # token means 1.5 and 1.0; each sample's process baseline is the other's mean
    # A: [1 - 1, 2 - 1] = [0, 1] -> returns [1, 1]; outcome term 1 - 0 = 1
    # B: [0 - 1.5, -1 - 1.5, 4 - 1.5] -> returns [-1.5, 0, 2.5]; outcome term 0 - 1 = -1
    result = prime_advantages([[1.0, 2.0], [0.0, -1.0, 4.0]], [1.0, 0.0])
    assert result == [pytest.approx([2.0, 2.0]), pytest.approx([-2.5, -1.0, 1.5])]


def test_prime_advantages_three_samples_by_hand():
    # token means 0.5, 2, 1; process baselines 1.5, 0.75, 1.25; outcome terms 0.5, -1, 0.5
    # A: [-0.5, -1.5], gamma 0.5 -> [-1.25, -1.5]
    # B: [1.25] -> [1.25]
    # C: [-1.25, -1.25, 1.75] -> [-1.4375, -0.375, 1.75]
    result = prime_advantages([[1.0, 0.0], [2.0], [0.0, 0.0, 3.0]], [1.0, 0.0, 1.0], gamma=0.5)
    assert result == [
        pytest.approx([-0.75, -1.0]),
        pytest.approx([0.25]),
        pytest.approx([-0.9375, 0.125, 2.25]),
    ]


def test_prime_advantages_single_sample_has_no_baseline():
    assert prime_advantages([[1.0, 2.0]], [1.0]) == [[4.0, 3.0]]
    assert prime_advantages([], []) == []


def test_prime_advantages_need_one_outcome_per_sample():
    with pytest.raises(ValueError, match=r"2 samples and 1 outcomes"):
        prime_advantages([[0.0], [1.0]], [1.0])


@given(
    group=st.lists(st.tuples(steps, reward), min_size=1, max_size=6),
    order=st.randoms(use_true_random=False),
    gamma=st.sampled_from([1.0, 0.9, 0.5]),
)
def test_prime_advantages_follow_a_permutation_of_the_group(group, order, gamma):
    tokens, outcomes = [list(x) for x in zip(*group, strict=True)]
    result = prime_advantages(tokens, outcomes, gamma=gamma)
    permutation = list(range(len(group)))
    order.shuffle(permutation)
    permuted = prime_advantages(
        [tokens[i] for i in permutation], [outcomes[i] for i in permutation], gamma=gamma
    )
    assert permuted == [result[i] for i in permutation]
