"""What the adapters share: the per-process reward and the per-component values."""

from __future__ import annotations

import pytest

from rewardsmith.adapters import LazyReward, Unscorable, extra_values, score_items
from rewardsmith.core.config import ConfigError
from tests.adapters.conftest import PIPELINE, PIPELINE_COMPONENTS


def test_the_reward_comes_from_the_environment_when_not_given(monkeypatch):
    monkeypatch.delenv("REWARDSMITH_REWARD", raising=False)
    with pytest.raises(ConfigError, match=r"\$REWARDSMITH_REWARD is not set"):
        LazyReward().get()
    monkeypatch.setenv("REWARDSMITH_REWARD", "math")
    monkeypatch.setenv("REWARDSMITH_WORKERS", "many")
    with pytest.raises(ConfigError, match=r"\$REWARDSMITH_WORKERS: expected a positive integer"):
        LazyReward().get()
    monkeypatch.setenv("REWARDSMITH_WORKERS", "1")
    lazy = LazyReward()
    assert lazy.name == "math" and lazy.get() is lazy.get()
    lazy.close()


def test_names_for_logs():
    assert LazyReward(PIPELINE).name == "math_pipeline"
    assert LazyReward({"type": "qa"}).name == "qa"
    assert LazyReward({"type": "qa", "name": "exact"}).name == "exact"


def test_extra_values_have_the_same_keys_for_every_sample():
    lazy = LazyReward(PIPELINE, workers=1)
    reward = lazy.get()
    scores = score_items(
        reward,
        [{"completion": "\\boxed{1}", "reference": "1"}, Unscorable("completions[1]: no text")],
    )
    assert (
        scores[1].info == {"error": "completions[1]: no text", "code": "invalid"}
        and not scores[1].ok
    )
    values = extra_values(reward, scores)
    assert list(values) == [*PIPELINE_COMPONENTS, "status_ok"]
    assert values["correct"] == [1.0, 0.0]  # the unscorable one: the component's fallback
    assert values["status_ok"] == [1.0, 0.0]
    lazy.close()
