"""Length shaping: hand-computed cases, bounds, monotonicity, order, state in the store."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rewardsmith.api  # noqa: F401  (registers the built-in components)
from rewardsmith import Status
from rewardsmith.core.config import ConfigError
from rewardsmith.core.pipeline import Reward
from rewardsmith.core.types import Sample
from rewardsmith.shaping import length as L
from rewardsmith.shaping import length_rules as R
from rewardsmith.state import open_store

# --------------------------------------------------------------------------- helpers

lengths_st = st.lists(st.integers(min_value=1, max_value=30000), min_size=1, max_size=10)


@st.composite
def groups(draw, min_size: int = 1):
    n = draw(st.integers(min_value=min_size, max_value=10))
    lengths = draw(st.lists(st.integers(1, 30000), min_size=n, max_size=n))
    correct = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return [float(x) for x in lengths], correct


MECHANISMS = {
    "kimi": lambda ls, cs: R.kimi_rewards(ls, cs),
    "dapo": lambda ls, cs: R.dapo_rewards(ls, cs),
    "grpo_lambda": lambda ls, cs: R.grpo_lambda_rewards(ls, cs, selected=True),
    "ceeh": lambda ls, cs: R.ceeh_rewards(ls, cs, shortest=None),
    "ceeh_known": lambda ls, cs: R.ceeh_rewards(ls, cs, shortest=500.0),
    "drpo": lambda ls, cs: R.drpo_rewards(ls, cs),
    "laser": lambda ls, cs: R.laser_rewards(ls, cs, target=4096),
    "budget": lambda ls, cs: R.budget_rewards(ls, cs, budget=4096),
}
CORRECT_ALWAYS_WINS = ("kimi", "grpo_lambda", "ceeh", "ceeh_known", "drpo", "laser", "budget")


def rows(group_id: str, *items: tuple[int, float], step: int = 0) -> list[dict]:
    """Samples of one group: (length in token ids, verifier value) each."""
    return [
        {
            "prompt": f"prompt {group_id}",
            "completion": "c",
            "completion_ids": [0] * n,
            "group_id": group_id,
            "meta": {"value": value, "step": step},
        }
        for n, value in items
    ]


def spec(kind: str, **params) -> dict:
    return {"type": kind, "correct": {"type": "meta_value"}, **params}


def values(kind_spec: dict, samples: list[dict], state=None) -> list[float]:
    with Reward.from_spec(kind_spec, state=state or open_store("memory://")) as reward:
        return [s.value for s in reward.score(samples)]


# --------------------------------------------------------------------------- lengths


def test_length_is_token_ids_when_given_else_characters_over_four():
    assert R.token_length(Sample(completion="abcdefghi", completion_ids=[1, 2])) == (2, "ids")
    assert R.token_length(Sample(completion="abcdefghi")) == (3, "chars/4")
    assert R.token_length(Sample(completion="")) == (0, "chars/4")


# --------------------------------------------------------------------------- hand-computed


def test_kimi_by_hand():
    assert R.kimi_lambdas([10, 20, 30]) == [0.5, 0.0, -0.5]
    assert R.kimi_rewards([10, 20, 30], [True, True, False]) == [1.5, 1.0, -0.5]
    assert R.kimi_rewards([10, 20, 30], [False, True, True], weight=2) == [0.0, 1.0, 0.0]
    # a short wrong answer is not rewarded for being short
    assert R.kimi_rewards([10, 30], [False, True]) == [0.0, 0.5]


def test_kimi_lambda_is_zero_when_all_lengths_are_equal():
    assert R.kimi_lambdas([7, 7, 7]) == [0.0, 0.0, 0.0]
    assert R.kimi_rewards([7, 7], [True, False]) == [1.0, 0.0]
    assert R.kimi_lambdas([]) == []


def test_dapo_by_hand():
    assert R.dapo_overlong_penalty(16384) == 0.0
    assert R.dapo_overlong_penalty(18432) == -0.5
    assert R.dapo_overlong_penalty(20480) == -1.0
    assert R.dapo_overlong_penalty(30000) == -1.0
    assert R.dapo_overlong_penalty(90, max_length=100, cache=20) == -0.5
    assert R.dapo_rewards([100, 18432, 25000], [True, True, False]) == [1.0, 0.5, -1.0]


def test_grpo_lambda_selects_the_top_fraction_of_groups_by_correctness_ratio():
    ratios = [1.0, 0.5, 0.25, 0.75, 0.0]
    assert R.grpo_lambda_selection(ratios, 0.2) == [True, False, False, False, False]
    assert R.grpo_lambda_selection(ratios, 0.4) == [True, False, False, True, False]
    # groups without a correct answer are never length-penalised
    assert R.grpo_lambda_selection(ratios, 1.0) == [True, True, True, True, False]
    assert R.grpo_lambda_selection([0.5, 0.5], 0.5) == [True, False]  # ties: batch order
    assert R.grpo_lambda_rewards([10, 30], [True, True], selected=False) == [1.0, 1.0]
    assert R.grpo_lambda_rewards([10, 30], [True, True], selected=True) == [1.5, 0.5]


def test_ceeh_by_hand():
    # no history: the group's own shortest correct (100) is L*
    assert R.ceeh_rewards([100, 150, 300], [True, True, False], None) == [1.0, 0.75, 0.0]
    # history 50: 100 is 100% longer (clipped at 1), so 1 - 0.5
    assert R.ceeh_rewards([100, 150, 300], [True, True, False], 50.0) == [0.5, 0.5, 0.0]
    assert R.ceeh_rewards([60, 300], [True, True], 50.0, alpha=0.2) == pytest.approx([0.96, 0.8])
    # nothing correct ever: no length term, wrong answers 0
    assert R.ceeh_rewards([10, 20], [False, False], None) == [0.0, 0.0]


def test_drpo_by_hand():
    # r_L = 0.9, 0.8; logits 9, 8; weights e/(e+1), 1/(e+1); times 2 correct
    e = math.e
    got = R.drpo_rewards([100, 200, 50], [True, True, False], max_length=1000, lam=0.1)
    assert got == pytest.approx([2 * e / (e + 1), 2 / (e + 1), 0.0])
    assert R.drpo_weights([100, 200, 50], [True, True, False], 1000, 0.1) == pytest.approx(
        [e / (e + 1), 1 / (e + 1), 0.0]
    )
    assert R.drpo_rewards([100, 200], [False, False]) == [0.0, 0.0]
    assert R.drpo_rewards([100, 100], [True, True]) == [1.0, 1.0]


def test_laser_by_hand():
    got = R.laser_rewards([50, 150, 50, 10], [True, True, False, False], 100, malformed=None)
    assert got == [1.5, 1.0, -0.5, -0.5]
    bad = R.laser_rewards([50, 50], [False, False], 100, malformed=[True, False])
    assert bad == [-1.0, -0.5]
    assert R.laser_rewards([100], [True], 100) == [1.5]  # the target itself counts


def test_laser_d_buckets_and_targets():
    assert [R.difficulty_bucket(a) for a in (1.0, 2 / 3, 0.5, 1 / 3, 0.25, 0.0)] == [
        "easy",
        "easy",
        "medium",
        "medium",
        "hard",
        "hard",
    ]
    candidates = [1024 * i for i in range(1, 21)]
    lengths = [500, 1500, 3000, 5000]
    assert R.laser_d_target(lengths, 5, candidates) == 1024  # coverage 1/4 >= 1/5
    assert R.laser_d_target(lengths, 2, candidates) == 2048  # coverage 1/2 >= 1/2
    assert R.laser_d_target(lengths, 1, candidates) == 5120  # everything covered
    assert R.laser_d_target([99999], 1, candidates) == 20480  # none qualifies: the largest
    assert R.laser_d_target([], 1, candidates) == 20480


def test_budget_by_hand():
    assert R.linear_budget(0, 8192, 2048, 1000) == 8192
    assert R.linear_budget(500, 8192, 2048, 1000) == 5120
    assert R.linear_budget(5000, 8192, 2048, 1000) == 2048
    got = R.budget_rewards([50, 100, 150, 300, 10], [True, True, True, True, False], 100)
    assert got == [1.0, 1.0, 0.75, 0.5, 0.0]
    assert R.budget_rewards([150], [True], 100, penalty=1.0) == [0.5]


# --------------------------------------------------------------------------- properties


@pytest.mark.parametrize("name", sorted(MECHANISMS))
@settings(max_examples=60, deadline=None)
@given(group=groups(), data=st.data())
def test_order_within_a_group_does_not_matter(name, group, data):
    lengths, correct = group
    order = data.draw(st.permutations(range(len(lengths))))
    shaped = MECHANISMS[name]
    base = shaped(lengths, correct)
    permuted = shaped([lengths[i] for i in order], [correct[i] for i in order])
    assert permuted == pytest.approx([base[i] for i in order])


@pytest.mark.parametrize("name", sorted(MECHANISMS))
@settings(max_examples=60, deadline=None)
@given(group=groups(min_size=2))
def test_a_shorter_correct_answer_never_gets_less_in_the_same_group(name, group):
    lengths, correct = group
    rewards = MECHANISMS[name](lengths, correct)
    for i in range(len(lengths)):
        for j in range(len(lengths)):
            if correct[i] and correct[j] and lengths[i] < lengths[j]:
                assert rewards[i] >= rewards[j] - 1e-12


@pytest.mark.parametrize("name", sorted(MECHANISMS))
@settings(max_examples=60, deadline=None)
@given(group=groups(), index=st.integers(0, 9), cut=st.integers(1, 30000))
def test_shortening_a_correct_answer_never_lowers_its_reward(name, group, index, cut):
    lengths, correct = group
    i = index % len(lengths)
    if not correct[i]:
        return
    shorter = list(lengths)
    shorter[i] = max(1.0, lengths[i] - cut)
    shaped = MECHANISMS[name]
    if name == "drpo":  # DRPO rescales by the group: compare the softmax weights instead
        before, after = R.drpo_weights(lengths, correct), R.drpo_weights(shorter, correct)
    else:
        before, after = shaped(lengths, correct), shaped(shorter, correct)
    assert after[i] >= before[i] - 1e-12


@pytest.mark.parametrize("name", CORRECT_ALWAYS_WINS)
@settings(max_examples=60, deadline=None)
@given(group=groups(min_size=2))
def test_a_wrong_answer_never_beats_a_correct_one(name, group):
    lengths, correct = group
    rewards = MECHANISMS[name](lengths, correct)
    right = [r for r, ok in zip(rewards, correct, strict=True) if ok]
    wrong = [r for r, ok in zip(rewards, correct, strict=True) if not ok]
    if right and wrong:
        assert min(right) >= max(wrong)


@settings(max_examples=100, deadline=None)
@given(group=groups(), weight=st.floats(0, 2), alpha=st.floats(0, 1))
def test_bounds(group, weight, alpha):
    lengths, correct = group
    n_correct = sum(correct)
    for r, ok in zip(R.kimi_rewards(lengths, correct, weight), correct, strict=True):
        lo, hi = (1 - weight / 2, 1 + weight / 2) if ok else (-weight / 2, 0.0)
        assert lo - 1e-9 <= r <= hi + 1e-9
    assert all(-1.0 <= r <= 1.0 for r in R.dapo_rewards(lengths, correct))
    for r, ok in zip(R.ceeh_rewards(lengths, correct, 300.0, alpha), correct, strict=True):
        assert (1 - alpha - 1e-9 <= r <= 1.0) if ok else r == 0.0
    drpo = R.drpo_rewards(lengths, correct)
    for r, ok in zip(drpo, correct, strict=True):
        assert (0.0 < r <= n_correct + 1e-9) if ok else r == 0.0
    if n_correct:
        assert sum(drpo) / n_correct == pytest.approx(1.0)
    assert set(R.laser_rewards(lengths, correct, 4096)) <= {1.5, 1.0, -0.5}
    for r, ok in zip(R.budget_rewards(lengths, correct, 2048), correct, strict=True):
        assert (0.5 <= r <= 1.0) if ok else r == 0.0


@settings(max_examples=50, deadline=None)
@given(lengths=lengths_st)
def test_kimi_lambda_is_zero_exactly_when_lengths_are_equal(lengths):
    lambdas = R.kimi_lambdas(lengths)
    if len(set(lengths)) == 1:
        assert lambdas == [0.0] * len(lengths)
    else:
        assert max(lambdas) == 0.5 and min(lambdas) == -0.5


@settings(max_examples=50, deadline=None)
@given(step=st.integers(0, 5000), later=st.integers(0, 5000))
def test_the_budget_only_shrinks(step, later):
    a, b = sorted((step, later))
    assert R.linear_budget(a, 8192, 2048, 1000) >= R.linear_budget(b, 8192, 2048, 1000)
    assert 2048 <= R.linear_budget(a, 8192, 2048, 1000) <= 8192


# --------------------------------------------------------------------------- components


def test_component_keeps_the_verifier_visible_and_explains_the_term():
    samples = [
        {"prompt": "Capital of France?", "completion": "Paris", "reference": "paris"},
        {
            "prompt": "Capital of France?",
            "completion": "<answer>Paris</answer>",
            "reference": "paris",
        },
        {"prompt": "Capital of France?", "completion": "London, surely", "reference": "paris"},
    ]
    with Reward.from_spec({"type": "length_kimi", "correct": {"type": "qa"}}) as reward:
        scores = reward.score(samples)
    # lengths ceil(5/4)=2, ceil(22/4)=6, ceil(14/4)=4: lambdas 0.5, -0.5, 0
    assert [s.value for s in scores] == [1.5, 0.5, 0.0]
    assert [s.components["qa"] for s in scores] == [1.0, 1.0, 0.0]
    assert [s.components["length_kimi"] for s in scores] == [1.5, 0.5, 0.0]
    info = scores[1].info["length_kimi"]
    assert info == {"length": 6.0, "length_source": "chars/4", "correct": True, "term": -0.5}
    assert "qa" in scores[1].info


DRPO_W = 1 / (1 + math.exp(-0.5))  # r_L 0.9 and 0.85 over lambda 0.1: logits 9 and 8.5


@pytest.mark.parametrize(
    ("kind", "params", "expected"),
    [
        ("length_kimi", {}, [1.5, 1.25, -0.5, 0.0]),
        ("overlong_dapo", {"max_length": 40, "cache": 20}, [1.0, 1.0, -0.5, 0.0]),
        ("length_ceeh", {}, [1.0, 0.75, 0.0, 0.0]),
        ("length_drpo", {"max_length": 100}, [2 * DRPO_W, 2 * (1 - DRPO_W), 0.0, 0.0]),
        ("length_laser", {"target_length": 12}, [1.5, 1.0, -0.5, -0.5]),
        ("length_budget", {"start_budget": 12, "end_budget": 12}, [1.0, 0.875, 0.0, 0.0]),
    ],
)
def test_each_component_by_hand(kind, params, expected):
    # lengths 10 and 15 correct (0.9 passes the 0.5 threshold), 30 and 20 wrong (0.4, 0)
    samples = rows("g", (10, 1.0), (15, 0.9), (30, 0.4), (20, 0.0))
    assert values(spec(kind, **params), samples) == pytest.approx(expected)


@pytest.mark.parametrize(
    "kind",
    [
        "length_kimi",
        "overlong_dapo",
        "length_grpo_lambda",
        "length_ceeh",
        "length_drpo",
        "length_laser",
        "length_budget",
    ],
)
def test_each_component_gives_permuted_rewards_for_a_permuted_group(kind):
    samples = rows("g", (10, 1.0), (15, 0.9), (30, 0.4), (20, 0.0), (25, 1.0))
    small = {"max_length": 28, "cache": 10} if kind == "overlong_dapo" else {}
    forward = values(spec(kind, **small), samples)
    backward = values(spec(kind, **small), samples[::-1])
    assert backward == pytest.approx(forward[::-1])
    assert len(set(forward)) > 1


def test_grpo_lambda_component_penalises_only_the_best_groups():
    batch = (
        rows("a", (10, 1.0), (30, 1.0))
        + rows("b", (10, 1.0), (30, 0.0))
        + rows("c", (10, 0.0), (30, 0.0))
    )
    with Reward.from_spec(spec("length_grpo_lambda", fraction=0.3)) as reward:
        scores = reward.score(batch)
    assert [s.value for s in scores] == [1.5, 0.5, 1.0, 0.0, 0.0, 0.0]
    assert [s.info["length_grpo_lambda"]["selected"] for s in scores] == [True] * 2 + [False] * 4


def test_a_failed_verifier_is_not_correct_and_its_status_is_kept():
    samples = rows("g", (10, 1.0), (30, 1.0))
    del samples[0]["meta"]["value"]  # meta_value: invalid sample
    with Reward.from_spec(spec("length_laser", target_length=100)) as reward:
        scores = reward.score(samples)
    assert scores[0].status is Status.INVALID
    assert scores[0].value == -1.0  # LASER: malformed
    assert scores[1].status is Status.OK and scores[1].value == 1.5
    assert scores[1].info["length_laser"]["term"] == 0.5
    assert scores[0].info["length_laser"]["term"] == 0.0


def test_a_missing_correct_child_is_a_config_error():
    with pytest.raises(ConfigError, match="correct"):
        Reward.from_spec({"type": "length_kimi"})
    with pytest.raises(ConfigError, match="cache"):
        Reward.from_spec(spec("overlong_dapo", max_length=10, cache=20))


# --------------------------------------------------------------------------- state


def test_ceeh_remembers_the_shortest_correct_length_across_batches():
    store = open_store("memory://")
    first = rows("q", (100, 1.0), (150, 1.0), (40, 0.0))
    assert values(spec("length_ceeh"), first, store) == [1.0, 0.75, 0.0]
    [record] = store.scan(L.SHORTEST_NAMESPACE).values()
    assert record == {"length": 100.0}
    # a new Reward on the same store: 150 is now 50% over the remembered 100
    second = rows("q", (150, 1.0), (300, 1.0))
    assert values(spec("length_ceeh"), second, store) == [0.75, 0.5]
    assert list(store.scan(L.SHORTEST_NAMESPACE).values()) == [{"length": 100.0}]
    # a shorter correct answer lowers L*
    third = rows("q", (50, 1.0), (100, 1.0))
    assert values(spec("length_ceeh"), third, store) == [1.0, 0.5]
    assert list(store.scan(L.SHORTEST_NAMESPACE).values()) == [{"length": 50.0}]


def test_ceeh_writes_nothing_without_a_correct_answer():
    store = open_store("memory://")
    assert values(spec("length_ceeh"), rows("q", (10, 0.0), (20, 0.0)), store) == [0.0, 0.0]
    assert store.scan(L.SHORTEST_NAMESPACE) == {}


def test_ceeh_keys_by_prompt_text_by_default_and_group_id_on_request():
    store = open_store("memory://")
    batch = rows("x", (100, 1.0))
    values(spec("length_ceeh"), batch, store)
    renamed = rows("y", (200, 1.0))
    renamed[0]["prompt"] = batch[0]["prompt"]  # same prompt, new group id
    assert values(spec("length_ceeh"), renamed, store) == [0.5]
    assert values(spec("length_ceeh", key="group_id"), renamed, store) == [1.0]


def test_laser_d_adapts_targets_per_bucket_every_update_every_steps():
    store = open_store("memory://")
    kind = spec("length_laser", adaptive=True, update_every=20)
    easy = rows("e", (500, 1.0), (1500, 1.0), (3000, 1.0), step=0)
    hard = rows("h", (500, 0.0), (1500, 0.0), (2000, 0.0), (5000, 1.0), step=0)
    got = values(kind, easy + hard, store)
    # easy (k 5): coverage(1024) = 1/3 >= 1/5 -> 1024; hard (k 1): all covered at 5120
    assert got == [1.5, 1.0, 1.0, -0.5, -0.5, -0.5, 1.5]
    [record] = store.scan(L.LASER_NAMESPACE).values()
    assert record == {"easy": 1024.0, "medium": 4096.0, "hard": 5120.0, "step": 0.0}
    # step 10 < 20: targets kept although this batch would give other ones
    later = rows("e", (900, 1.0), (2000, 1.0), (2000, 1.0), step=10)
    assert values(kind, later, store) == [1.5, 1.0, 1.0]
    # step 20: recomputed from this batch: coverage(1024) = 0, coverage(2048) = 1
    again = rows("e", (1500, 1.0), (1800, 1.0), (1900, 1.0), step=20)
    assert values(kind, again, store) == [1.5, 1.5, 1.5]
    [record] = store.scan(L.LASER_NAMESPACE).values()
    assert record == {"easy": 2048.0, "medium": 4096.0, "hard": 5120.0, "step": 20.0}
