"""Which rewards depend on the rest of their batch (the Ray backend keeps those whole)."""

from __future__ import annotations

import pytest

from rewardsmith.core.pipeline import Reward

MATH = {"type": "math"}


@pytest.mark.parametrize(
    ("spec", "wide"),
    [
        (MATH, False),
        ({"type": "length_kimi", "correct": MATH}, False),
        ({"type": "length_ceeh", "correct": MATH}, False),
        ({"type": "length_grpo_lambda", "correct": MATH}, True),
        ({"type": "length_laser", "correct": MATH}, False),
        ({"type": "length_laser", "adaptive": True, "correct": MATH}, True),
        ({"type": "ensemble", "of": [MATH, {"type": "qa"}]}, False),
        ({"type": "ensemble", "normalize": "batch_z", "of": [MATH, {"type": "qa"}]}, True),
        ({"type": "appeal", "first": MATH, "second": {"type": "qa"}}, True),
        ({"type": "noise_corrected", "of": MATH, "false_positive": 0.1}, False),
        ({"type": "noise_corrected", "of": MATH, "from_state": True}, True),
        (
            {
                "type": "constrained",
                "objective": MATH,
                "constraints": [{"of": {"type": "qa"}, "threshold": 0.5}],
            },
            True,
        ),
        # a batch-wide part makes the whole tree batch-wide
        (
            {
                "type": "weighted_sum",
                "weights": [1, 1],
                "of": [MATH, {"type": "length_grpo_lambda", "correct": MATH}],
            },
            True,
        ),
        ({"type": "gate", "condition": {"type": "format"}, "reward": MATH}, False),
    ],
)
def test_batch_wide_rewards_are_those_that_look_across_groups(spec, wide, tmp_path):
    with Reward.from_spec(spec, state=f"sqlite:///{tmp_path / 's.sqlite'}") as reward:
        assert reward.batch_wide is wide
