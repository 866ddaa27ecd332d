"""`self_certainty` (Intuitor, arXiv 2505.19590): mean KL(U || p) over the tokens, checked
against the formula on whole distributions; the top-k readings (uniform tail, exact when
the tail is uniform; renormalised); bounds, monotonicity and order invariance; bad
input named."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardsmith import Reward
from rewardsmith.core.config import ConfigError


def scored(rows_per_sample: list, **params: object) -> list:
    spec = {"type": "self_certainty", **params}
    with Reward.from_spec(spec) as reward:
        return reward.score([{"completion": "x", "top_logprobs": rows} for rows in rows_per_sample])


def kl_uniform(probabilities: np.ndarray) -> float:
    vocab = len(probabilities)
    return float(np.sum((1 / vocab) * np.log((1 / vocab) / probabilities)))


DISTRIBUTIONS = st.lists(st.floats(0.01, 1.0), min_size=2, max_size=12).map(
    lambda weights: np.asarray(weights) / sum(weights)
)


@settings(max_examples=100, deadline=None)
@given(distributions=st.lists(DISTRIBUTIONS, min_size=1, max_size=5), data=st.data())
def test_whole_distributions_give_the_mean_kl_from_uniform(distributions, data):
    vocab = max(len(d) for d in distributions)
    padded = [np.concatenate([d, np.full(vocab - len(d), 0.0)]) for d in distributions]
    padded = [np.where(d == 0, 1e-9, d) / np.where(d == 0, 1e-9, d).sum() for d in padded]
    rows = [list(np.log(d)) for d in padded]
    shuffled = [data.draw(st.permutations(row)) for row in rows]
    [score] = scored([shuffled], vocab_size=vocab)
    expected = float(np.mean([kl_uniform(d) for d in padded]))
    assert score.value == pytest.approx(expected, rel=1e-6, abs=1e-9)
    assert score.value >= -1e-12


def test_a_uniform_tail_is_exact_from_the_top_k():
    probabilities = np.array([0.6, 0.2, 0.05, 0.05, 0.05, 0.05])
    full = [list(np.log(probabilities))]
    top2 = [list(np.log(probabilities[:2]))]
    [whole, from_top] = scored([full, top2], vocab_size=6)
    assert from_top.value == pytest.approx(whole.value) == pytest.approx(kl_uniform(probabilities))


def test_surer_distributions_score_higher():
    vocab = 50
    values = []
    for top in (0.1, 0.5, 0.9, 0.999):
        rest = (1 - top) / (vocab - 1)
        values.append([[math.log(top), *[math.log(rest)] * 4]])
    scores = [score.value for score in scored(values, vocab_size=vocab)]
    assert scores == sorted(scores) and scores[0] < scores[-1]


def test_renormalize_needs_no_vocabulary_and_mappings_are_read():
    rows = [{"a": math.log(0.5), "b": math.log(0.25)}, {"c": math.log(0.5), "d": math.log(0.5)}]
    [score] = scored([rows], tail="renormalize")
    # renormalised: (2/3, 1/3) and (1/2, 1/2): KL from uniform over the two
    expected = (kl_uniform(np.array([2 / 3, 1 / 3])) + 0.0) / 2
    assert score.value == pytest.approx(expected)


def test_tail_uniform_without_a_vocabulary_is_a_config_error():
    with pytest.raises(ConfigError, match="vocab_size"):
        Reward.from_spec({"type": "self_certainty"})


@pytest.mark.parametrize(
    "rows, field",
    [
        (None, "top_logprobs: missing"),
        ([], "top_logprobs: missing"),
        ([[0.5]], "top_logprobs[0]: expected finite log-probabilities <= 0"),
        ([[-0.1], [float("nan")]], "top_logprobs[1]"),
        ([[-0.1, -0.1]], "top_logprobs[0]: the probabilities sum past 1"),
        ([["a"]], "top_logprobs[0]: expected numbers"),
        ([[[-1.0]]], "top_logprobs[0]: expected 1 to"),
        ([[-10.0] * 60], "more than vocab_size"),
    ],
)
def test_bad_input_is_invalid_with_the_field_named(rows, field):
    with Reward.from_spec({"type": "self_certainty", "vocab_size": 50}) as reward:
        good, bad = reward.score(
            [
                {"completion": "x", "top_logprobs": [[math.log(0.5)]]},
                {"completion": "x", "top_logprobs": rows},
            ]
        )
    assert good.ok and good.value > 0
    assert bad.status.value == "invalid" and field in bad.info["self_certainty"]["error"]


def test_the_worked_example_orders_sure_hesitant_guessing():
    import json
    from pathlib import Path

    from rewardsmith.core.pipeline import Reward as Pipeline

    root = Path(__file__).resolve().parents[2] / "examples" / "self_certainty"
    samples = [json.loads(line) for line in (root / "group.jsonl").open()]
    with Pipeline.load(root / "pipeline.yaml") as reward:
        scores = reward.score(samples)
    assert [s["kind"] for s in samples] == ["sure", "hesitant", "guessing"]
    values = [score.value for score in scores]
    assert values == sorted(values, reverse=True) and values[-1] > 0
