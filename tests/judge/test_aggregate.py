"""Pairwise rubric aggregation: hand-computed pair scores, the two-order truth tables,
schedules, win rates and the Bradley-Terry fit (exact properties and a simulation)."""

from __future__ import annotations

import math
from itertools import pairwise, product

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardsmith.judge.aggregate import (
    CRITERION_TYPES,
    DEFAULT_TYPE_WEIGHTS,
    CriterionJudgement,
    OrderRule,
    PairOutcome,
    Schedule,
    bradley_terry,
    bt_rewards,
    combine_orders,
    flip,
    pair_schedule,
    pair_score,
    win_rates,
)

SWAP = {"A": "B", "B": "A", "same": "same"}


def crit(type_: str, preferred: str, margin: int, name: str = "c") -> CriterionJudgement:
    return CriterionJudgement(name, type_, preferred, margin)


criteria_lists = st.lists(
    st.builds(
        CriterionJudgement,
        name=st.just("c"),
        type=st.sampled_from(CRITERION_TYPES),
        preferred=st.sampled_from(("A", "B", "same")),
        margin=st.integers(0, 10),
    ),
    max_size=12,
)


@st.composite
def round_robins(draw, min_n: int = 0, max_n: int = 8):
    """(n, outcomes): every pair of n responses compared once, outcomes in {0, 0.5, 1}."""
    n = draw(st.integers(min_n, max_n))
    results = st.sampled_from((0.0, 0.5, 1.0))
    return n, [PairOutcome(i, j, draw(results)) for i, j in pair_schedule(n)]


def points(n: int, outcomes: list[PairOutcome]) -> list[float]:
    """Wins plus half the ties, per response."""
    total = [0.0] * n
    for o in outcomes:
        total[o.i] += o.outcome
        total[o.j] += 1.0 - o.outcome
    return total


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# --- criteria and pair_score --------------------------------------------------------


def test_signed_margin():
    assert crit("core", "A", 3).signed() == 3.0
    assert crit("core", "B", 3).signed() == -3.0
    assert crit("core", "same", 0).signed() == 0.0


@pytest.mark.parametrize(
    ("fields", "name"),
    [
        (("c", "minor", "A", 1), "type"),
        (("c", "core", "a", 1), "preferred"),
        (("c", "core", "tie", 1), "preferred"),
        (("c", "core", "A", -1), "margin"),
    ],
)
def test_criterion_validation(fields, name):
    with pytest.raises(ValueError, match=name):
        CriterionJudgement(*fields)


def test_fatal_overrides_many_core_criteria():
    criteria = [crit("core", "A", 3)] * 6 + [crit("important", "A", 2), crit("fatal", "B", 1)]
    assert pair_score(criteria) == -1.0


def test_fatal_margins_are_summed():
    criteria = [crit("fatal", "A", 2), crit("fatal", "B", 1), crit("core", "B", 4)]
    assert pair_score(criteria) == 1.0


def test_opposed_fatal_criteria_decide_a_tie_alone():
    criteria = [crit("fatal", "A", 2), crit("fatal", "B", 2), crit("core", "A", 4)]
    assert pair_score(criteria) == 0.0


def test_fatal_without_a_preference_leaves_the_weighted_mean():
    criteria = [crit("fatal", "same", 0), crit("fatal", "A", 0), crit("core", "B", 2)]
    assert pair_score(criteria) == -2.0


def test_weighted_mean_by_hand():
    # (5 * 2 - 2 * 1 + 1 * 3) / (5 + 2 + 1) = 11 / 8
    criteria = [crit("core", "A", 2), crit("important", "B", 1), crit("highlight", "A", 3)]
    assert pair_score(criteria) == 11 / 8


def test_same_counts_in_the_denominator():
    assert pair_score([crit("core", "A", 2)]) == 2.0
    assert pair_score([crit("core", "A", 2), crit("core", "same", 0)]) == 1.0  # 10 / 10
    # 5 * 2 / (5 + 2)
    assert pair_score([crit("core", "A", 2), crit("important", "same", 0)]) == 10 / 7


def test_custom_weights():
    weights = {"core": 1.0, "important": 3.0, "highlight": 0.0}
    criteria = [crit("core", "A", 2), crit("important", "B", 1), crit("highlight", "A", 9)]
    assert pair_score(criteria, weights) == (2 - 3) / 4


def test_no_criteria_or_zero_weights_give_zero():
    assert pair_score([]) == 0.0
    assert pair_score([crit("fatal", "same", 0)]) == 0.0
    zero = {"core": 0.0, "important": 0.0, "highlight": 0.0}
    assert pair_score([crit("core", "A", 3), crit("highlight", "B", 1)], zero) == 0.0


def test_weight_validation():
    with pytest.raises(ValueError, match="important"):
        pair_score([crit("important", "A", 1)], {"core": 1.0})
    with pytest.raises(ValueError, match="core"):
        pair_score([crit("core", "A", 1)], {"core": -1.0})
    assert DEFAULT_TYPE_WEIGHTS == {"core": 5.0, "important": 2.0, "highlight": 1.0}


@settings(max_examples=200, deadline=None)
@given(
    criteria_lists,
    st.fixed_dictionaries({t: st.floats(0.0, 10.0) for t in ("core", "important", "highlight")}),
)
def test_swapping_sides_negates_the_score(criteria, weights):
    swapped = [CriterionJudgement(c.name, c.type, SWAP[c.preferred], c.margin) for c in criteria]
    for w in (None, weights):
        assert pair_score(swapped, w) == flip(pair_score(criteria, w))


def test_flip():
    assert flip(2.5) == -2.5
    assert flip(-1.0) == 1.0
    assert math.copysign(1.0, flip(0.0)) == 1.0


# --- combining the two presentation orders -------------------------------------------

SIGNS = (1.0, 0.0, -1.0)
# (ab, ba) -> outcome for i; rows ab = +, 0, -; columns ba = +, 0, -
AGREE_TABLE = [[1.0, 0.5, 0.5], [0.5, 0.5, 0.5], [0.5, 0.5, 0.0]]
MEAN_TABLE = [[1.0, 1.0, 0.5], [1.0, 0.5, 0.0], [0.5, 0.0, 0.0]]


@pytest.mark.parametrize(("rule", "table"), [("agree", AGREE_TABLE), ("mean", MEAN_TABLE)])
@pytest.mark.parametrize(("row", "col"), list(product(range(3), range(3))))
def test_combine_orders_truth_table(rule, table, row, col):
    outcome, consistent = combine_orders(SIGNS[row], SIGNS[col], OrderRule(rule))
    assert outcome == table[row][col]
    assert consistent == (row == col)


def test_mean_rule_weighs_magnitudes():
    assert combine_orders(3.0, -1.0, OrderRule.MEAN) == (1.0, False)
    assert combine_orders(-0.5, 2.0, OrderRule.MEAN) == (1.0, False)
    assert combine_orders(1.5, -1.5, OrderRule.MEAN) == (0.5, False)
    assert combine_orders(3.0, -1.0, OrderRule.AGREE) == (0.5, False)
    assert combine_orders(5e-324, 0.0, OrderRule.MEAN) == (1.0, False)


def test_single_order():
    for rule in OrderRule:
        assert combine_orders(2.0, None, rule) == (1.0, True)
        assert combine_orders(-0.1, None, rule) == (0.0, True)
        assert combine_orders(0.0, None, rule) == (0.5, True)


def test_nan_score_is_rejected():
    with pytest.raises(ValueError):
        combine_orders(float("nan"), 1.0)
    with pytest.raises(ValueError):
        combine_orders(1.0, float("nan"))


@settings(max_examples=100, deadline=None)
@given(criteria_lists, st.sampled_from(list(OrderRule)))
def test_position_biased_judge_gives_an_inconsistent_tie(criteria, rule):
    # the judge sees "A" as whatever is shown first, so both orders get the same raw score
    raw = pair_score(criteria)
    outcome, consistent = combine_orders(raw, flip(raw), rule)
    assert outcome == 0.5
    assert consistent == (raw == 0.0)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(-10, 10, allow_nan=False),
    st.one_of(st.none(), st.floats(-10, 10, allow_nan=False)),
    st.sampled_from(list(OrderRule)),
)
def test_combine_orders_is_symmetric_in_the_two_responses(ab, ba, rule):
    outcome, consistent = combine_orders(ab, ba, rule)
    if ba is None:
        assert combine_orders(flip(ab), None, rule) == (1.0 - outcome, True)
    else:  # j's view: j first is the raw second order, flip(ba); i first is flip(ab)
        assert combine_orders(flip(ba), flip(ab), rule) == (1.0 - outcome, consistent)


# --- schedules -------------------------------------------------------------------


@given(st.integers(0, 30))
def test_all_pairs(n):
    pairs = pair_schedule(n)
    assert len(pairs) == n * (n - 1) // 2
    assert len(set(pairs)) == len(pairs)
    assert pairs == sorted(pairs)
    assert all(0 <= i < j < n for i, j in pairs)


def test_cyclic_by_hand():
    assert pair_schedule(5, Schedule.CYCLIC) == [(0, 1), (0, 4), (1, 2), (2, 3), (3, 4)]
    assert pair_schedule(6, "cyclic", neighbours=2) == [
        (0, 1), (0, 2), (0, 4), (0, 5), (1, 2), (1, 3),
        (1, 5), (2, 3), (2, 4), (3, 4), (3, 5), (4, 5),
    ]  # fmt: skip


@given(st.integers(3, 40), st.integers(1, 20))
def test_cyclic_compares_everyone_equally_often(n, neighbours):
    if 2 * neighbours >= n:
        neighbours = (n - 1) // 2
    pairs = pair_schedule(n, Schedule.CYCLIC, neighbours)
    assert len(set(pairs)) == len(pairs) == n * neighbours
    assert pairs == sorted(pairs)
    assert all(0 <= i < j < n for i, j in pairs)
    counts = np.bincount(np.ravel(pairs), minlength=n)
    assert counts.tolist() == [2 * neighbours] * n


@given(st.integers(0, 20), st.integers(0, 30))
def test_cyclic_with_many_neighbours_is_all_pairs(n, extra):
    neighbours = max(1, math.ceil((n - 1) / 2)) + extra
    assert pair_schedule(n, Schedule.CYCLIC, neighbours) == pair_schedule(n)


def test_small_groups_and_invalid_neighbours():
    for schedule in Schedule:
        assert pair_schedule(0, schedule) == []
        assert pair_schedule(1, schedule) == []
        for bad in (0, -2):
            with pytest.raises(ValueError, match="neighbours"):
                pair_schedule(4, schedule, bad)


# --- win rates ----------------------------------------------------------------


def test_win_rates_by_hand():
    outcomes = [PairOutcome(0, 1, 1.0), PairOutcome(0, 2, 0.5), PairOutcome(1, 2, 0.0)]
    assert win_rates(3, outcomes) == [0.75, 0.0, 0.75]
    assert win_rates(4, outcomes)[3] is None
    assert win_rates(2, []) == [None, None]


def test_outcome_validation():
    with pytest.raises(ValueError):
        PairOutcome(1, 1, 0.5)
    with pytest.raises(ValueError):
        PairOutcome(-1, 1, 0.5)
    with pytest.raises(ValueError):
        PairOutcome(0, 1, 1.5)
    with pytest.raises(ValueError, match="out of range"):
        win_rates(2, [PairOutcome(0, 2, 1.0)])


@settings(max_examples=200, deadline=None)
@given(round_robins(min_n=2))
def test_round_robin_win_rates_average_one_half(case):
    n, outcomes = case
    rates = win_rates(n, outcomes)
    assert all(r is not None and 0.0 <= r <= 1.0 for r in rates)
    assert sum(rates) / n == pytest.approx(0.5, abs=1e-12)
    assert [r * (n - 1) for r in rates] == pytest.approx(points(n, outcomes))


@st.composite
def partial_outcomes(draw):
    """(n, outcomes, permutation of the outcomes, relabelling of the responses)."""
    n = draw(st.integers(2, 8))
    pairs = st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)).filter(lambda p: p[0] != p[1])
    outcomes = draw(
        st.lists(st.builds(lambda p, r: PairOutcome(*p, r), pairs, st.floats(0, 1)), max_size=20)
    )
    return n, outcomes, draw(st.permutations(outcomes)), draw(st.permutations(range(n)))


@settings(max_examples=200, deadline=None)
@given(partial_outcomes())
def test_win_rates_ignore_list_order_and_follow_relabelling(case):
    n, outcomes, shuffled, perm = case
    rates = win_rates(n, outcomes)
    assert win_rates(n, shuffled) == pytest.approx(rates, abs=1e-12)
    relabelled = [PairOutcome(perm[o.i], perm[o.j], o.outcome) for o in outcomes]
    new = win_rates(n, relabelled)
    for k in range(n):
        assert new[perm[k]] == pytest.approx(rates[k], abs=1e-12)  # None == approx(None)
        assert (new[perm[k]] is None) == (rates[k] is None)
    assert all(r is None or 0.0 <= r <= 1.0 for r in rates)


# --- Bradley-Terry -----------------------------------------------------------


def test_perfect_winner_is_finite_and_first():
    outcomes = [PairOutcome(0, j, 1.0) for j in range(1, 4)]
    outcomes += [PairOutcome(1, 2, 1.0), PairOutcome(1, 3, 1.0), PairOutcome(2, 3, 1.0)]
    theta = bradley_terry(4, outcomes)
    assert np.all(np.isfinite(theta))
    assert theta.tolist() == sorted(theta.tolist(), reverse=True)
    assert theta.mean() == pytest.approx(0.0, abs=1e-12)
    # a stronger prior pulls the strengths together
    assert np.ptp(bradley_terry(4, outcomes, prior=10.0)) < np.ptp(theta)


def test_one_game_by_hand():
    # by symmetry the raw strengths are x and 1/x; the likelihood equation of response 0,
    # 1 + prior/2 = x/(x + 1/x) + prior * x/(x + 1), with prior = 1 reads
    # 1.5 = x^2/(x^2 + 1) + x/(x + 1)
    theta = bradley_terry(2, [PairOutcome(0, 1, 1.0)])
    x = math.exp(theta[0])
    assert theta[1] == pytest.approx(-theta[0])
    assert x**2 / (x**2 + 1) + x / (x + 1) == pytest.approx(1.5, abs=1e-9)
    assert bradley_terry(2, [PairOutcome(0, 1, 0.5)]) == pytest.approx([0.0, 0.0], abs=1e-12)


def test_uncompared_response_sits_at_the_reference():
    theta = bradley_terry(3, [PairOutcome(1, 0, 0.0)])
    assert theta[0] > 0 > theta[1]
    assert theta[0] == pytest.approx(-theta[1])
    assert theta[2] == pytest.approx(0.0, abs=1e-9)


def test_degenerate_groups():
    assert bradley_terry(0, []).shape == (0,)
    assert bradley_terry(1, []).tolist() == [0.0]
    assert bradley_terry(3, []).tolist() == [0.0, 0.0, 0.0]


@pytest.mark.parametrize("prior", [0.0, -1.0, float("nan"), float("inf")])
def test_prior_validation(prior):
    with pytest.raises(ValueError, match="prior"):
        bradley_terry(2, [PairOutcome(0, 1, 1.0)], prior=prior)


def test_out_of_range_index():
    with pytest.raises(ValueError, match="out of range"):
        bradley_terry(2, [PairOutcome(0, 2, 1.0)])


@settings(max_examples=150, deadline=None)
@given(round_robins(min_n=1), st.sampled_from((0.1, 1.0, 4.0)))
def test_round_robin_strengths_follow_points(case, prior):
    n, outcomes = case
    theta = bradley_terry(n, outcomes, prior=prior)
    score = points(n, outcomes)
    assert np.all(np.isfinite(theta))
    assert theta.mean() == pytest.approx(0.0, abs=1e-9)
    for a, b in product(range(n), repeat=2):
        if score[a] > score[b]:
            assert theta[a] > theta[b]
        elif score[a] == score[b]:
            assert theta[a] == pytest.approx(theta[b], abs=1e-6)


@pytest.mark.parametrize(
    ("n", "schedule", "neighbours", "repeats"),
    [(8, Schedule.ALL, 1, 30), (12, Schedule.CYCLIC, 3, 40)],
)
def test_recovers_true_strengths(n, schedule, neighbours, repeats):
    rng = np.random.default_rng(20240214)
    true = rng.permutation(np.linspace(-2.0, 2.0, n))
    outcomes = []
    for i, j in pair_schedule(n, schedule, neighbours):
        wins = rng.random(repeats) < sigmoid(true[i] - true[j])
        outcomes += [PairOutcome(i, j, float(w)) for w in wins]
    theta = bradley_terry(n, outcomes)
    pearson = np.corrcoef(true, theta)[0, 1]
    spearman = np.corrcoef(np.argsort(np.argsort(true)), np.argsort(np.argsort(theta)))[0, 1]
    assert pearson > 0.95
    assert spearman > 0.95
    assert np.argmax(theta) == np.argmax(true)
    assert np.argmin(theta) == np.argmin(true)


# --- rewards from strengths ----------------------------------------------------


def test_bt_rewards_by_hand():
    assert bt_rewards(np.array([])) == []
    assert bt_rewards(np.array([1.7])) == [0.5]
    assert bt_rewards(np.zeros(3)) == [0.5, 0.5, 0.5]
    assert bt_rewards(np.log([3.0, 1.0])) == pytest.approx([0.75, 0.25])
    # 0 beats 1 and 2 with probability 1/4 each; 1 beats 0 with 3/4 and 2 with 1/2
    assert bt_rewards(np.log([1.0, 3.0, 3.0])) == pytest.approx(
        [0.25, (0.5 + 0.75) / 2, (0.5 + 0.75) / 2]
    )
    with np.errstate(all="raise"):
        assert bt_rewards(np.array([1000.0, -1000.0])) == [1.0, 0.0]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(-30, 30), min_size=1, max_size=10))
def test_bt_rewards_bounds_sum_and_monotonicity(theta):
    rewards = bt_rewards(np.array(theta))
    n = len(theta)
    assert all(0.0 <= r <= 1.0 for r in rewards)
    assert sum(rewards) == pytest.approx(n / 2, abs=1e-9)
    for a, b in product(range(n), repeat=2):
        if theta[a] > theta[b]:
            assert rewards[a] >= rewards[b]
            if theta[a] - theta[b] > 1e-6 and abs(theta[a]) < 15 and abs(theta[b]) < 15:
                assert rewards[a] > rewards[b]


def test_strictly_monotone():
    rewards = bt_rewards(np.linspace(-3.0, 3.0, 7))
    assert all(a < b for a, b in pairwise(rewards))


@settings(max_examples=50, deadline=None)
@given(round_robins(min_n=2))
def test_round_robin_rewards_follow_points_and_sum_to_half_n(case):
    n, outcomes = case
    rewards = bt_rewards(bradley_terry(n, outcomes))
    score = points(n, outcomes)
    assert sum(rewards) == pytest.approx(n / 2, abs=1e-9)
    for a, b in product(range(n), repeat=2):
        if score[a] > score[b]:
            assert rewards[a] > rewards[b]
