"""Bad reward definitions are refused before any work, with one message naming the key."""

from __future__ import annotations

import pytest

from rewardsmith import ConfigError, load_reward
from rewardsmith.core.pipeline import Reward


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "mth"}, "reward.type: unknown component 'mth'; allowed: "),
        ({"name": "x"}, "reward.type: missing; allowed:"),
        ([1, 2], "reward: expected a mapping with a 'type' key, got list"),
        (
            {"type": "weighted_sum", "of": [{"type": "math"}, {"type": "nope"}]},
            "reward.of[1].type: unknown component 'nope'",
        ),
        (
            {"type": "weighted_sum", "of": ["math"], "weights": [1, 2]},
            "reward: weights: expected 1 numbers (one per entry of 'of'), got 2",
        ),
        ({"type": "gate", "condition": "format"}, "reward.reward: missing; required by"),
        (
            {"type": "clip", "of": "math", "lo": 0},
            "reward.lo: unknown key for component 'clip'; allowed: fallback, high, low, name, of",
        ),
        ({"type": "clip", "of": "math", "low": 2, "high": 1}, "low: must not exceed high"),
        ({"type": "math", "timeout": "soon"}, "reward.timeout: Input should be a valid number"),
        ({"type": "math", "timeout": -1}, "reward.timeout: Input should be greater than 0"),
        ({"type": "math", "on_conflict": "first"}, "reward.on_conflict: Input should be"),
        ({"type": "math", "fallback": "zero"}, "reward.fallback: expected a number"),
        ({"type": "schedule", "of": "math", "kind": "piecewise"}, "points: required"),
        ({"type": "schedule", "of": "math", "kind": "exp"}, "reward.kind: Input should be"),
        (
            {
                "type": "weighted_sum",
                "of": [{"type": "math", "name": "a"}, {"type": "qa", "name": "a"}],
            },
            "reward.of[1].name: duplicate component name 'a'",
        ),
        ({"type": "weighted_sum", "of": []}, "reward.of: List should have at least 1 item"),
    ],
)
def test_bad_spec_names_the_key(spec, message):
    with pytest.raises(ConfigError) as caught:
        Reward.from_spec(spec)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_default_names_are_made_unique():
    reward = Reward.from_spec({"type": "max", "of": ["math", "math"]})
    assert [part.name for part in reward.root.children()] == ["math", "math_2"]


def test_yaml_file_errors(tmp_path):
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("reward: [unclosed")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_reward(bad_yaml)
    extra = tmp_path / "extra.yaml"
    extra.write_text("reward: {type: math}\nworkerz: 3\n")
    with pytest.raises(ConfigError, match="workerz: unknown key for reward file; allowed"):
        load_reward(extra)
    nested = tmp_path / "nested.yaml"
    nested.write_text(
        "reward:\n  type: gate\n  condition: {type: format, templat: x}\n  reward: math\n"
    )
    with pytest.raises(ConfigError, match=r"reward.condition.templat: unknown key"):
        load_reward(nested)


def test_unknown_name_or_missing_file():
    with pytest.raises(ConfigError, match="neither a built-in reward"):
        load_reward("no/such/file.yaml")


def test_yaml_pipeline_builds(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(
        "description: demo\nworkers: 1\nreward:\n  type: weighted_sum\n"
        "  of: [qa, {type: qa, name: qa_f1, metric: f1}]\n  weights: [1, 0.5]\n"
    )
    with load_reward(path) as reward:
        [score] = reward.score([{"completion": "Paris", "reference": "paris"}])
    assert score.value == 1.5
    assert reward.description == "demo"
