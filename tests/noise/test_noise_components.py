"""`noise_corrected` and `appeal` through Reward.from_spec with an in-memory store."""

from __future__ import annotations

import pytest

import rewardsmith.noise.components  # noqa: F401  (registers the components)
from rewardsmith.core.component import SampleComponent
from rewardsmith.core.config import REGISTRY, ConfigError, register
from rewardsmith.core.pipeline import Reward
from rewardsmith.core.types import Sample, Score, Status
from rewardsmith.noise.components import APPEALS_NAMESPACE, appeal_draw
from rewardsmith.noise.rates import wilson_interval
from rewardsmith.state import Update

SEEN: list[str] = []

if "noise_test_recorder" not in REGISTRY:

    @register("noise_test_recorder")
    class Recorder(SampleComponent):
        """Test re-checker: remembers which completions it saw; value = meta.second."""

        def score_sample(self, sample: Sample) -> Score:
            SEEN.append(sample.completion)
            if sample.meta.get("second_crash"):
                raise RuntimeError("re-checker crashed")
            return Score(float(sample.meta.get("second", 0.0)))


def qa(completion: str, reference: str = "Paris") -> dict:
    return {"prompt": "capital of France?", "completion": completion, "reference": reference}


def corrected(**params) -> Reward:
    spec = {"type": "noise_corrected", "of": {"type": "qa"}, **params}
    return Reward.from_spec(spec, state="memory://")


# --- noise_corrected ----------------------------------------------------------------


def test_backward_on_qa_gives_hand_computed_values():
    reward = corrected(false_positive=0.1, false_negative=0.3)
    right, wrong = reward.score([qa("Paris"), qa("Rome")])
    assert right.value == pytest.approx(0.9 / 0.6)
    assert wrong.value == pytest.approx(-0.1 / 0.6)
    assert right.components["qa"] == 1.0 and wrong.components["qa"] == 0.0
    assert right.components["noise_corrected"] == pytest.approx(1.5)
    assert right.info["noise_corrected"]["method"] == "backward"
    assert right.ok and wrong.ok


def test_backward_clamp_and_zero_rates():
    right, wrong = corrected(false_positive=0.5, false_negative=0.48).score(
        [qa("Paris"), qa("Rome")]
    )
    assert right.value == pytest.approx(0.5 / 0.05)
    assert wrong.value == pytest.approx(-0.5 / 0.05)
    right, wrong = corrected().score([qa("Paris"), qa("Rome")])
    assert (right.value, wrong.value) == (1.0, 0.0)


def test_forward_keeps_the_value_and_gives_the_weight():
    reward = corrected(method="forward", false_positive=0.1, false_negative=0.3)
    right, wrong = reward.score([qa("Paris"), qa("Rome")])
    assert (right.value, wrong.value) == (1.0, 0.0)
    assert right.info["noise_corrected"]["weight"] == pytest.approx(0.3)
    assert wrong.info["noise_corrected"]["weight"] == pytest.approx(-0.7)


def test_forward_needs_a_binary_child():
    reward = Reward.from_spec(
        {"type": "noise_corrected", "method": "forward", "of": {"type": "qa", "metric": "f1"}},
        state="memory://",
    )
    (score,) = reward.score([qa("Paris France")])
    assert score.status is Status.INVALID
    assert "0/1" in score.info["noise_corrected"]["error"]


def test_from_state_reads_the_appeal_estimate():
    reward = corrected(from_state=True, false_positive=0.1, false_negative=0.05)
    (before,) = reward.score([qa("Paris")])  # no appeals yet: the parameters
    assert before.value == pytest.approx(0.9 / 0.85)
    assert before.info["noise_corrected"]["source"] == "params"
    store = reward.context.store()
    store.apply([Update(APPEALS_NAMESPACE, "default", add={"rechecked": 10, "overturned": 2})])
    (after,) = reward.score([qa("Paris")])
    assert after.value == pytest.approx(0.9 / 0.7)  # rho1 = 2 / 10
    assert after.info["noise_corrected"]["source"] == "state"
    assert after.info["noise_corrected"]["false_negative"] == pytest.approx(0.2)


def test_invalid_rates_are_config_errors_naming_the_field():
    with pytest.raises(ConfigError, match=r"false_positive \+ false_negative"):
        corrected(false_positive=0.6, false_negative=0.5)
    with pytest.raises(ConfigError, match="false_negative"):
        corrected(false_negative=1.5)
    with pytest.raises(ConfigError, match="method"):
        corrected(method="sideways")


def test_failing_child_keeps_the_batch(meta_samples):
    reward = Reward.from_spec(
        {"type": "noise_corrected", "of": {"type": "meta_value"}, "false_positive": 0.2},
        state="memory://",
    )
    ok, crashed, invalid = reward.score(
        meta_samples({"value": 1}, {"value": 1, "crash": True}, {"other": 1})
    )
    assert ok.ok and ok.value == pytest.approx(0.8 / 0.8)
    assert crashed.status is Status.ERROR and crashed.value == 0.0
    assert "verifier crashed" in crashed.info["meta_value"]["error"]
    assert invalid.status is Status.INVALID and invalid.value == 0.0


# --- appeal -------------------------------------------------------------------------


def appeal_reward(fraction: float = 0.5, **extra) -> Reward:
    spec = {
        "type": "appeal",
        "first": {"type": "meta_value", "key": "first"},
        "second": {"type": "noise_test_recorder"},
        "fraction": fraction,
        **extra,
    }
    return Reward.from_spec(spec, state="memory://")


def batch(n: int = 40) -> list[dict]:
    """Half accepted by the first verifier; of the rejected, every other one is right."""
    return [
        {
            "prompt": f"p{i % 4}",
            "completion": f"answer {i}",
            "reference": "42",
            "meta": {"first": float(i % 2), "second": float(i % 4 == 0)},
        }
        for i in range(n)
    ]


def test_appeal_rechecks_only_the_sampled_rejections():
    SEEN.clear()
    samples = batch()
    reward = appeal_reward(fraction=0.5)
    scores = reward.score(samples)
    expected = [
        s["completion"]
        for s in samples
        if s["meta"]["first"] == 0 and appeal_draw(Sample(**s)) < 0.5
    ]
    assert 0 < len(expected) < 20  # the fraction actually selects a strict subset
    assert sorted(SEEN) == sorted(expected)
    for sample, score in zip(samples, scores, strict=True):
        meta = sample["meta"]
        chosen = sample["completion"] in expected
        info = score.info["appeal"]
        assert info["rechecked"] is chosen
        assert info["overturned"] is (chosen and meta["second"] == 1.0)
        assert score.value == (1.0 if meta["first"] == 1 or info["overturned"] else 0.0)
        assert score.components["meta_value"] == meta["first"]
        assert ("noise_test_recorder" in score.components) is chosen


def test_appeal_counts_add_up_across_batches():
    SEEN.clear()
    samples = batch()
    reward = appeal_reward(fraction=0.5)
    reward.score(samples)
    rechecked = len(SEEN)
    overturned = sum(1 for s in samples if s["completion"] in SEEN and s["meta"]["second"] == 1.0)
    reward.score(samples)  # same samples: the same ones are re-checked again
    record = reward.context.store().scan(APPEALS_NAMESPACE)["default"]
    assert record == {"rechecked": 2.0 * rechecked, "overturned": 2.0 * overturned}
    (last,) = reward.score(samples[1:2])  # accepted by the first: nothing added
    info = last.info["appeal"]
    assert info["rechecked_total"] == 2 * rechecked
    assert info["false_negative"] == pytest.approx(overturned / rechecked)
    interval = wilson_interval(2 * overturned, 2 * rechecked)
    assert info["false_negative_interval"] == pytest.approx([interval.low, interval.high])


def test_appeal_selection_is_reproducible_and_respects_fraction():
    samples = batch(200)
    none = appeal_reward(fraction=0.0).score(samples)
    assert not any(s.info["appeal"]["rechecked"] for s in none)
    everything = appeal_reward(fraction=1.0).score(samples)
    assert all(
        s.info["appeal"]["rechecked"]
        for s, x in zip(everything, samples, strict=True)
        if x["meta"]["first"] == 0
    )
    again = [appeal_draw(Sample(**s)) for s in samples]
    assert again == [appeal_draw(Sample(**s)) for s in samples]


def test_appeal_with_a_crashing_rechecker_keeps_the_first_verdict():
    samples = batch(8)
    for s in samples:
        s["meta"]["second_crash"] = True
    reward = appeal_reward(fraction=1.0, key="crashy")
    scores = reward.score(samples)
    for sample, score in zip(samples, scores, strict=True):
        assert score.value == sample["meta"]["first"]
        rejected = sample["meta"]["first"] == 0
        assert score.status is (Status.ERROR if rejected else Status.OK)
        assert score.info["appeal"]["rechecked"] is False
    assert reward.context.store().scan(APPEALS_NAMESPACE) == {}


def test_appeal_with_a_failing_first_verifier(meta_samples):
    reward = appeal_reward(fraction=1.0)
    crashed, good = reward.score(
        [
            {"prompt": "p", "completion": "x", "meta": {"first": 0, "crash": True}},
            {"prompt": "p", "completion": "y", "meta": {"first": 0, "second": 1}},
        ]
    )
    assert crashed.status is Status.ERROR
    assert crashed.info["appeal"]["rechecked"] is False
    assert good.ok and good.value == 1.0 and good.info["appeal"]["overturned"]
