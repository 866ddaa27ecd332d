"""Constrained RLHF: components weighted by multipliers that grow past their thresholds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardsmith.core.config import ConfigError
from rewardsmith.core.pipeline import Reward
from rewardsmith.shaping.constrained import NAMESPACE, dual_step
from rewardsmith.state import open_store

SPEC = {
    "type": "constrained",
    "objective": {"type": "meta_value", "key": "task", "name": "task"},
    "constraints": [{"of": {"type": "meta_value", "key": "rm", "name": "rm"}, "threshold": 0.5}],
    "lr": 0.5,
}


def batch(rm: float, task: float = 1.0) -> list[dict]:
    return [{"completion": "c", "meta": {"rm": rm, "task": task}}] * 2


def test_multipliers_rise_while_a_component_overshoots_and_fall_back_after():
    store = open_store("memory://")
    values = []
    for rm in (0.9, 0.9, 0.9, 0.1, 0.1):
        with Reward.from_spec(SPEC, state=store) as reward:
            score = reward.score(batch(rm))[0]
        values.append((score.value, score.info["constrained"]["multipliers"][0]))
    # lambda: 0 -> 0.2 -> 0.4 -> 0.6 -> 0.4 -> 0.2 (lr 0.5 x (mean - 0.5))
    assert [lam for _, lam in values] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.4])
    assert values[0][0] == pytest.approx(1.0 + 0.9)
    assert values[2][0] == pytest.approx(1.0 + 0.6 * 0.9)
    record = store.read(NAMESPACE, ["default:constrained"])["default:constrained"]
    assert record["lambda0"] == pytest.approx(0.2)


def test_a_multiplier_never_goes_below_zero_and_weights_can_turn_negative():
    store = open_store("memory://")
    for _ in range(3):
        with Reward.from_spec({**SPEC, "lr": 2.0}, state=store) as reward:
            last = reward.score(batch(1.0, task=0.0))[0]
    assert last.info["constrained"]["multipliers"][0] == pytest.approx(2.0)
    assert last.value == pytest.approx((1 - 2.0) * 1.0)  # past the threshold it now costs
    with Reward.from_spec(SPEC, state=open_store("memory://")) as reward:
        assert reward.score(batch(0.0))[0].info["constrained"]["multipliers"] == [0.0]


@given(
    st.lists(st.floats(0, 5), min_size=1, max_size=4),
    st.floats(-1, 2),
    st.floats(0.01, 1),
)
def test_dual_step_is_projected_and_moves_towards_the_constraint(lams, mean, lr):
    thresholds = [0.5] * len(lams)
    updated = dual_step(lams, [mean] * len(lams), thresholds, lr)
    assert all(u >= 0 for u in updated)
    for before, after in zip(lams, updated, strict=True):
        assert (after >= before) if mean > 0.5 else (after <= before)


def test_constraints_are_validated():
    with pytest.raises(ConfigError, match="constraints"):
        Reward.from_spec({"type": "constrained", "constraints": []})
    with pytest.raises(ConfigError, match="threshold"):
        Reward.from_spec({"type": "constrained", "constraints": [{"of": "math"}]})
