"""Each combinator computes its documented function and keeps every part visible."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardsmith.core.pipeline import Reward
from rewardsmith.core.types import Status
from tests.conftest import samples_with


def part(key: str, name: str | None = None) -> dict:
    return {"type": "meta_value", "key": key, "name": name or key}


def run(spec: dict, *metas: dict):
    return Reward.from_spec(spec).score(samples_with(*metas))


finite = st.floats(min_value=-100, max_value=100, allow_nan=False)


@given(a=finite, b=finite, wa=finite, wb=finite)
def test_weighted_sum_is_the_weighted_sum(a, b, wa, wb):
    spec = {"type": "weighted_sum", "of": [part("a"), part("b")], "weights": [wa, wb]}
    [score] = run(spec, {"a": a, "b": b})
    assert score.value == pytest.approx(wa * a + wb * b)
    assert score.components == {"a": a, "b": b, "weighted_sum": score.value}


def test_weighted_sum_defaults_to_unit_weights():
    [score] = run({"type": "weighted_sum", "of": [part("a"), part("b")]}, {"a": 2, "b": 3})
    assert score.value == 5


@given(a=finite, b=finite, c=finite)
def test_product_min_max(a, b, c):
    metas = {"a": a, "b": b, "c": c}
    parts = [part("a"), part("b"), part("c")]
    assert run({"type": "product", "of": parts}, metas)[0].value == pytest.approx(a * b * c)
    assert run({"type": "min", "of": parts}, metas)[0].value == min(a, b, c)
    assert run({"type": "max", "of": parts}, metas)[0].value == max(a, b, c)


@given(a=finite)
def test_clip_bounds(a):
    [score] = run({"type": "clip", "of": part("a"), "low": -1, "high": 1}, {"a": a})
    assert score.value == min(max(a, -1), 1)
    assert score.components["a"] == a


def test_clip_with_one_bound():
    assert run({"type": "clip", "of": part("a"), "high": 0.5}, {"a": -7})[0].value == -7
    assert run({"type": "clip", "of": part("a"), "low": 0}, {"a": -7})[0].value == 0


def test_gate_passes_reward_only_when_condition_reaches_threshold():
    spec = {
        "type": "gate",
        "condition": part("ok"),
        "reward": part("r"),
        "penalty": -1,
        "threshold": 0.5,
    }
    scores = run(spec, {"ok": 1, "r": 0.7}, {"ok": 0.4, "r": 0.7}, {"ok": 0.5, "r": 0.2})
    assert [s.value for s in scores] == [0.7, -1, 0.2]
    assert [s.info["gate"]["passed"] for s in scores] == [True, False, True]
    assert scores[1].components["r"] == 0.7  # the gated part is still explained


def test_gate_fails_closed_when_condition_cannot_be_checked():
    spec = {"type": "gate", "condition": part("ok"), "reward": part("r"), "penalty": -2}
    [crashed] = run(spec, {"ok": 1, "r": 1, "crash": True})
    assert crashed.value == -2
    assert crashed.status is Status.ERROR


@pytest.mark.parametrize(
    ("schedule", "step", "weight"),
    [
        ({"kind": "linear", "start": 0.0, "end": 1.0, "steps": 100}, 0, 0.0),
        ({"kind": "linear", "start": 0.0, "end": 1.0, "steps": 100}, 50, 0.5),
        ({"kind": "linear", "start": 0.0, "end": 1.0, "steps": 100}, 1000, 1.0),
        ({"kind": "cosine", "start": 1.0, "end": 0.0, "steps": 100}, 50, 0.5),
        (
            {"kind": "cosine", "start": 1.0, "end": 0.0, "steps": 100},
            25,
            1 - (1 - math.cos(math.pi / 4)) / 2,
        ),
        ({"kind": "constant", "start": 0.3}, 12345, 0.3),
        ({"kind": "piecewise", "points": [[0, 1.0], [100, 0.0], [200, 0.5]]}, 150, 0.25),
        ({"kind": "piecewise", "points": [[10, 1.0], [20, 0.0]]}, 0, 1.0),
        ({"kind": "piecewise", "points": [[10, 1.0], [20, 0.0]]}, 99, 0.0),
    ],
)
def test_schedule_weight_follows_meta_step(schedule, step, weight):
    [score] = run({"type": "schedule", "of": part("a"), **schedule}, {"a": 2.0, "step": step})
    assert score.value == pytest.approx(2.0 * weight)
    assert score.info["schedule"] == {"step": step, "weight": pytest.approx(weight)}


def test_nested_tree_records_every_named_part():
    spec = {
        "type": "weighted_sum",
        "name": "total",
        "weights": [1.0, 0.5],
        "of": [
            {"type": "gate", "name": "gated", "condition": part("fmt"), "reward": part("acc")},
            {
                "type": "schedule",
                "name": "bonus",
                "of": part("len"),
                "start": 1,
                "end": 0,
                "steps": 10,
            },
        ],
    }
    [score] = run(spec, {"fmt": 1, "acc": 1, "len": 0.8, "step": 5})
    assert set(score.components) == {"fmt", "acc", "gated", "len", "bonus", "total"}
    assert score.value == pytest.approx(1 + 0.5 * 0.8 * 0.5)


def test_failed_part_uses_its_fallback_and_status_propagates():
    spec = {
        "type": "weighted_sum",
        "of": [
            {"type": "meta_value", "key": "a", "fallback": -3},
            {"type": "meta_value", "key": "b", "name": "b"},
        ],
    }
    scores = run(spec, {"a": 1, "b": 1}, {"b": 1}, {"a": 1, "b": 1, "crash": True})
    assert [s.value for s in scores] == [2, -2, -3]
    assert [s.status for s in scores] == [Status.OK, Status.INVALID, Status.ERROR]
    assert "meta.a: missing" in scores[1].info["meta_value"]["error"]


async def _ascore(spec, metas):
    return await Reward.from_spec(spec).ascore(samples_with(*metas))


def test_async_batch_matches_sync():
    import asyncio

    spec = {
        "type": "weighted_sum",
        "of": [part("a"), {"type": "clip", "of": part("b"), "high": 0}],
        "weights": [2, 3],
    }
    metas = [{"a": i, "b": i - 2} for i in range(5)]
    sync = [s.value for s in run(spec, *metas)]
    asynchronous = [s.value for s in asyncio.run(_ascore(spec, metas))]
    assert sync == asynchronous
