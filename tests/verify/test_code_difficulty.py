"""VeRPO difficulty-weighted partial credit: the weight math, the store, the code reward."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardsmith.core.pipeline import Reward
from rewardsmith.sandbox.runner import available
from rewardsmith.state import open_store
from rewardsmith.verify.code_difficulty import (
    NAMESPACE,
    SuiteRun,
    difficulty_weights,
    pass_rates,
    suite_key,
    suite_weights,
    weighted_reward,
)

rates = st.lists(st.floats(0.01, 0.99), min_size=1, max_size=12)
rows = st.integers(1, 6).flatmap(
    lambda tests: st.lists(st.lists(st.booleans(), min_size=tests, max_size=tests), min_size=1)
)


@given(rates)
def test_weights_are_a_distribution_that_favours_hard_tests(values):
    weights = difficulty_weights(values)
    assert sum(weights) == pytest.approx(1.0)
    assert all(w >= 0 for w in weights)
    for i, j in zip(range(len(values)), range(1, len(values)), strict=False):
        if values[i] < values[j]:
            assert weights[i] > weights[j]


@given(rows, st.randoms())
def test_weights_do_not_depend_on_rollout_order(passed, rnd):
    total = len(passed[0])
    shuffled = list(passed)
    rnd.shuffle(shuffled)
    runs = [SuiteRun("k", total, passed)], [SuiteRun("k", total, shuffled)]
    first, second = (suite_weights(r, open_store("memory://"), 16.0)["k"] for r in runs)
    assert first == pytest.approx(second)


@given(rows, st.floats(0.05, 0.95))
def test_partial_credit_is_monotone_and_below_a_full_pass(passed, scale):
    total = len(passed[0])
    weights = suite_weights([SuiteRun("k", total, passed)], open_store("memory://"), 16.0)["k"]
    for row in passed:
        reward = weighted_reward(row, weights, scale)
        if all(row):
            assert reward == 1.0
            continue
        assert 0.0 <= reward < scale + 1e-12
        for j, ok in enumerate(row):
            if not ok:  # passing one more test never lowers the reward
                assert weighted_reward([*row[:j], True, *row[j + 1 :]], weights, scale) >= reward


def test_rates_without_history_are_laplace_smoothed_group_pass_rates():
    assert pass_rates([8, 0, 4], [8, 8, 8], {}, 16.0) == pytest.approx([0.9, 0.1, 0.5])


def test_history_is_a_capped_prior():
    # 1000 stored rollouts that always passed test 0: the prior counts as 16 (+2), not 1000
    history = {"p0": 1000.0, "n0": 1000.0}
    [rate] = pass_rates([0], [8], history, 16.0)
    prior = 1001 / 1002
    assert rate == pytest.approx(18 * prior / (8 + 18))
    [fresh] = pass_rates([0], [8], history, 0.0)
    assert fresh == pytest.approx((0 + 2 * prior) / (8 + 2))


def test_counts_are_stored_and_shared_by_later_batches():
    store = open_store("memory://")
    run = SuiteRun("suite", 2, [[True, False], [True, False], [True, True], [True, False]])
    first = suite_weights([run], store, 16.0)["suite"]
    assert store.read(NAMESPACE, ["suite"])["suite"] == {"p0": 4, "n0": 4, "p1": 1, "n1": 4}
    second = suite_weights([run], store, 16.0)["suite"]
    assert store.read(NAMESPACE, ["suite"])["suite"]["n1"] == 8
    assert second[1] > first[1]  # history confirms test 1 is hard: its weight grows


def test_suite_key_is_stable_and_distinguishes_suites():
    a = {"tests": [{"input": "1", "output": "1"}], "float_tolerance": 0.1}
    b = {"float_tolerance": 0.1, "tests": [{"input": "1", "output": "1"}]}
    assert suite_key(a) == suite_key(b)
    assert suite_key(a) != suite_key({"tests": [{"input": "1", "output": "2"}]})


needs_sandbox = pytest.mark.skipif(bool(available()), reason=available() or "sandbox available")

# Echo the number, except that the program variants below get some inputs wrong.
SUITE = {
    "tests": [
        {"input": "1\n", "output": "1\n"},  # easy: every variant passes
        {"input": "-7\n", "output": "-7\n"},  # medium
        {"input": "1e3\n", "output": "1e3\n"},  # hard: only the full solution passes
    ]
}
FULL = "print(input())"
NO_FLOATS = "s = input()\nprint(int(s))"  # passes 1 and -7, crashes on 1e3
POSITIVE_ONLY = "s = input()\nprint(s if not s.startswith('-') and 'e' not in s else 0)"
CHEAT = "import sys\nprint('1')\nsys.exit(0)"


@needs_sandbox
def test_code_reward_weights_hard_tests_more_and_keeps_state(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    group = [FULL, NO_FLOATS, NO_FLOATS, POSITIVE_ONLY, POSITIVE_ONLY, POSITIVE_ONLY, CHEAT]
    random.Random(0).shuffle(group)
    samples = [{"completion": c, "reference": SUITE, "group_id": "g"} for c in group]
    with Reward.from_spec({"type": "code", "mode": "difficulty"}, state=url) as reward:
        scores = dict(zip(group, reward.score(samples), strict=True))
    assert scores[FULL].value == 1.0
    assert 0 < scores[POSITIVE_ONLY].value < scores[NO_FLOATS].value < 0.5
    weights = scores[FULL].info["code"]["weights"]
    assert weights[0] < weights[1] < weights[2]
    # rates 8/9, 4/9, 2/9 (Laplace) -> weights 1/13, 5/13, 7/13; the cheat passes test 0 only
    assert scores[CHEAT].value == pytest.approx(0.5 / 13)
    assert scores[NO_FLOATS].value == pytest.approx(0.5 * 6 / 13)
    with open_store(url) as store:  # persisted: 7 rollouts ran every test
        [record] = store.read(NAMESPACE, [suite_key(SUITE)]).values()
    assert record == {"p0": 7, "n0": 7, "p1": 3, "n1": 7, "p2": 1, "n2": 7}


@needs_sandbox
def test_difficulty_mode_runs_every_test_and_ignores_invalid_samples():
    samples = [
        {"completion": NO_FLOATS, "reference": SUITE},
        {"completion": FULL, "reference": {"tests": []}},
    ]
    with Reward.from_spec({"type": "code", "mode": "difficulty"}, state="memory://") as reward:
        ok, invalid = reward.score(samples)
    assert [t["ok"] for t in ok.info["code"]["tests"]] == [True, True, False]
    assert invalid.status.value == "invalid" and invalid.value == 0.0
