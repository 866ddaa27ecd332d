"""The `process` component: sources, credit rules, outcome, dense spans, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardsmith import Status
from rewardsmith.core.config import ConfigError
from rewardsmith.core.pipeline import Reward

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = [json.loads(line) for line in (ROOT / "examples/process/group.jsonl").open()]
AGGREGATORS = ["pure", "gated", "sum", "min_form", "min_form_soft", "clip", "clip_delta"]


@pytest.fixture(scope="module")
def example_scores():
    with Reward.load(ROOT / "examples/process/pipeline.yaml", workers=1) as reward:
        return {
            row["kind"][0]: score for row, score in zip(EXAMPLE, reward.score(EXAMPLE), strict=True)
        }


def test_every_sample_gets_dense_spans_and_a_component_per_aggregator(example_scores):
    for row, score in zip(EXAMPLE, example_scores.values(), strict=True):
        assert score.status is Status.OK
        assert {*AGGREGATORS, "progress", "atomic", "outcome"} <= set(score.components)
        assert len(score.dense) == len(row["step_scores"])
        for span in score.dense:
            assert row["completion"][span.start : span.end].startswith("Step ")


def test_gated_credit_counts_steps_only_for_correct_outcomes(example_scores):
    a, c, d = example_scores["A"], example_scores["C"], example_scores["D"]
    assert a.components["outcome"] == 1.0
    assert a.components["gated"] == pytest.approx(1.0 + 0.92 + 0.95 + 0.97)
    # D's steps were scored high, but its answer is wrong: no step credit at all
    assert d.components["gated"] == 0.0 and c.components["gated"] == 0.0


def test_the_example_reward_is_pure_min_form_plus_outcome(example_scores):
    values = {key: score.value for key, score in example_scores.items()}
    assert values == pytest.approx({"A": 1.92, "B": 1.90, "C": 0.15, "D": 0.80})
    # dense: G_t - G_{t+1} with G_t = min of the scores from step t on (0.92, 0.95, 0.97),
    # and the outcome on the last step; the return from step 0 is the value
    assert [s.reward for s in example_scores["A"].dense] == pytest.approx([-0.03, -0.02, 1.97])
    assert example_scores["A"].info["pure"]["returns"] == pytest.approx([1.92, 1.95, 1.97])


def test_returns_are_discounted_by_gamma():
    spec = {"type": "process", "split": "blank_line", "gamma": 0.5}
    with Reward.from_spec(spec) as reward:
        [score] = reward.score([{"completion": "a\n\nb\n\nc", "step_scores": [1, 2, 4]}])
    assert score.info["process"]["returns"] == pytest.approx([1 + 0.5 * 2 + 0.25 * 4, 4.0, 4.0])


def test_padding_with_sound_steps_pays_under_sum_but_not_min_form_or_clip(example_scores):
    a, b = example_scores["A"], example_scores["B"]
    assert b.components["sum"] > a.components["sum"]  # the hack plain sums invite
    assert b.components["gated"] > a.components["gated"]  # gating a sum does not stop it
    assert b.components["min_form"] <= a.components["min_form"]
    assert b.components["clip"] <= a.components["clip"]
    assert b.components["clip_delta"] <= a.components["clip_delta"]


def test_min_form_value_is_the_weakest_step(example_scores):
    for key, score in example_scores.items():
        scores = next(r for r in EXAMPLE if r["kind"].startswith(key))["step_scores"]
        assert score.components["min_form"] == pytest.approx(min(scores))


def test_implicit_prm_from_given_logprobs_matches_a_hand_computation():
    sample = {
        "completion": "ab\n\ncd",
        "token_offsets": [[0, 2], [2, 4], [4, 6]],  # "ab", "\n\n", "cd"
        "logprobs": [-1.0, -2.0, -0.5],
        "ref_logprobs": [-1.5, -1.0, -0.25],
    }
    spec = {"type": "process", "source": "implicit_prm", "beta": 0.05}
    with Reward.from_spec(spec) as reward:
        [score] = reward.score([sample])
    # token rewards 0.05 * (lp - ref) = 0.025, -0.05, -0.0125; "\n\n" belongs to step 1
    assert [s.reward for s in score.dense] == pytest.approx([-0.025, -0.0125])
    assert [(s.token_start, s.token_end) for s in score.dense] == [(0, 2), (2, 3)]
    assert score.value == pytest.approx(-0.0375)


def test_bad_samples_are_invalid_with_the_field_named_and_the_batch_survives():
    spec = {"type": "process", "split": "blank_line"}
    samples = [
        {"completion": "a\n\nb", "step_scores": [0.5]},
        {"completion": "a\n\nb"},
        {"completion": "a\n\nb", "step_scores": [0.5, 0.25]},
        {"completion": "x", "step_scores": ["high"]},
    ]
    with Reward.from_spec(spec) as reward:
        short, missing, good, typed = reward.score(samples)
    assert short.status is Status.INVALID and "step_scores: 1 scores for 2 steps" in str(short.info)
    assert missing.status is Status.INVALID and "step_scores: missing" in str(missing.info)
    assert good.status is Status.OK and good.value == pytest.approx(0.75)
    assert typed.status is Status.INVALID and "step_scores" in str(typed.info)


def test_rules_that_need_an_outcome_refuse_to_build_without_one():
    with pytest.raises(ConfigError, match="outcome: required by credit 'gated'"):
        Reward.from_spec({"type": "process", "credit": "gated"})
    with pytest.raises(ConfigError, match="pattern"):
        Reward.from_spec({"type": "process", "split": "regex"})


def test_values_do_not_depend_on_what_else_is_in_the_batch():
    spec = {"type": "process", "split": "step_marker", "credit": "min_form", "temperature": 0.1}
    with Reward.from_spec(spec) as reward:
        together = [s.value for s in reward.score(EXAMPLE)]
        alone = [reward.score([row])[0].value for row in EXAMPLE]
        reverse = [s.value for s in reward.score(EXAMPLE[::-1])][::-1]
    assert together == alone == reverse


def test_model_paths_are_checked_before_any_work(tmp_path):
    spec = {"type": "process", "source": "implicit_prm", "model": str(tmp_path), "ref_model": "x"}
    with pytest.raises(ConfigError, match=r"reward\.model: no model saved at"):
        Reward.from_spec(spec)
    with pytest.raises(ConfigError, match=r"reward\.model: no model saved at"):
        Reward.from_spec({"type": "likelihood", "model": str(tmp_path)})
