"""`majority_vote` (TTRL, arXiv 2504.16084): answers clustered by `math` equivalence,
the majority paid, no signal below `min_share` or on a tie, no vote without one final
answer; per-group, invariant to sample order; and in simulation the majority is the
right answer where right answers are the plurality."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from rewardsmith import Reward


def scored(groups: list[list[str]], **params: object) -> list[list[tuple[float, dict]]]:
    samples = [
        {"completion": text, "group_id": f"g{index}"}
        for index, group in enumerate(groups)
        for text in group
    ]
    with Reward.from_spec({"type": "majority_vote", **params}) as reward:
        scores = reward.score(samples)
    out, position = [], 0
    for group in groups:
        row = scores[position : position + len(group)]
        out.append([(score.value, score.info["majority_vote"]) for score in row])
        position += len(group)
    return out


def test_equivalent_answers_vote_together_and_the_majority_is_paid():
    group = [
        "\\boxed{12}",
        "The answer is 12.0.",
        "\\boxed{\\frac{24}{2}}",
        "\\boxed{13}",
        "\\boxed{13}",
    ]
    [row] = scored([group])
    assert [value for value, _ in row] == [1.0, 1.0, 1.0, 0.0, 0.0]
    info = row[0][1]
    assert info["share"] == 0.6 and info["clusters"] == 2
    assert row[3][1]["code"] == "minority"


def test_no_answer_no_vote_but_it_counts_in_the_share():
    group = ["\\boxed{5}", "\\boxed{5}", "5 or 6", "", "Thought process:"]
    [row] = scored([group], min_share=0.4)
    assert [value for value, _ in row] == [1.0, 1.0, 0.0, 0.0, 0.0]
    assert row[0][1]["share"] == 0.4
    assert all(info["code"] == "no_answer" for _, info in row[2:])


def test_below_the_threshold_or_on_a_tie_the_group_gets_no_signal():
    weak = ["\\boxed{1}", "\\boxed{1}", "\\boxed{2}", "\\boxed{3}", "\\boxed{4}"]
    tie = ["\\boxed{1}", "\\boxed{1}", "\\boxed{2}", "\\boxed{2}"]
    weak_row, tie_row = scored([weak, tie])
    for row in (weak_row, tie_row):
        assert all(value == 0.0 for value, _ in row)
        assert {info["code"] for _, info in row} == {"no_majority"}
        assert all(info["majority"] is None for _, info in row)
    [ttrl] = scored([weak], min_share=0.0)  # TTRL's own rule: the plurality
    assert [value for value, _ in ttrl] == [1.0, 1.0, 0.0, 0.0, 0.0]


def test_groups_are_voted_separately():
    first, second = scored(
        [["\\boxed{7}"] * 3 + ["\\boxed{8}"], ["\\boxed{8}"] * 3 + ["\\boxed{7}"]]
    )
    assert [v for v, _ in first] == [1.0, 1.0, 1.0, 0.0]
    assert [v for v, _ in second] == [1.0, 1.0, 1.0, 0.0]


def test_a_hostile_completion_costs_only_its_own_vote():
    group = ["\\boxed{9}"] * 3 + [
        "\\boxed{" + "9" * 5000 + "}",
        "\\boxed{" + "{" * 20000 + "}",
        "<answer>" * 30000,
    ]
    [row] = scored([group])
    assert [value for value, _ in row[:3]] == [1.0, 1.0, 1.0]
    assert all(value == 0.0 for value, _ in row[3:])


FORMS = ["\\boxed{1}", "\\boxed{1.0}", "\\boxed{2}", "\\boxed{3}", "none"]
ANSWERS = st.lists(st.sampled_from(FORMS), min_size=1, max_size=8)


@settings(max_examples=25, deadline=None)
@given(group=ANSWERS, data=st.data())
def test_each_sample_is_scored_the_same_in_any_order(group, data):
    order = data.draw(st.permutations(range(len(group))))
    [row] = scored([group])
    [shuffled] = scored([[group[i] for i in order]])
    assert [shuffled[k][0] for k in range(len(group))] == [row[i][0] for i in order]
    assert all(0.0 <= value <= 1.0 for value, _ in row)


def test_in_simulation_the_majority_is_the_right_answer_when_right_answers_lead():
    """Groups of 16 where each rollout is right with probability 0.45 (in three forms)
    and otherwise one of 4 wrong answers: in every group where the right answers lead,
    only they are paid; over all groups, a paid rollout is right far more often than a
    rollout is (label-free, the reward still pays a wrong plurality: TTRL's limit)."""
    rng = random.Random(7)
    forms = ["\\boxed{42}", "The answer is 42.", "\\boxed{42.0}"]
    groups, truth = [], []
    for _ in range(40):
        right = [rng.random() < 0.45 for _ in range(16)]
        groups.append(
            [rng.choice(forms) if ok else f"\\boxed{{{rng.randint(1, 4)}}}" for ok in right]
        )
        truth.append(right)
    rows = scored(groups, min_share=0.3)
    paid = paid_right = 0
    for group, row, right in zip(groups, rows, truth, strict=True):
        wrong_counts = [group.count(f"\\boxed{{{k}}}") for k in range(1, 5)]
        leads = sum(right) > max(wrong_counts)
        for (value, _), is_right in zip(row, right, strict=True):
            paid += value == 1.0
            paid_right += value == 1.0 and is_right
            assert not (leads and value == 1.0 and not is_right)
    base_rate = sum(map(sum, truth)) / (16 * 40)
    assert paid_right / paid > base_rate + 0.3


def test_the_worked_example_pays_the_equivalent_majority_and_no_weak_plurality():
    import json
    from pathlib import Path

    from rewardsmith.core.pipeline import Reward as Pipeline

    root = Path(__file__).resolve().parents[2] / "examples" / "majority_vote"
    samples = [json.loads(line) for line in (root / "groups.jsonl").open()]
    with Pipeline.load(root / "pipeline.yaml") as reward:
        scores = reward.score(samples)
    by_group: dict[str, list[float]] = {}
    for sample, score in zip(samples, scores, strict=True):
        by_group.setdefault(sample["group_id"], []).append(score.value)
    assert by_group["q-frac"] == [1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 1.0]
    assert by_group["q-split"] == [0.0] * 8
