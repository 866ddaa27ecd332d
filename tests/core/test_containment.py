"""Per-sample fault containment in the component protocol (core/containment.py).

`group_mean` is a group-wise test component whose whole-batch call raises as soon as any
sample of the batch carries `meta.poison`, like a verifier whose batch planning trips on
one hostile completion. Each sample's reward is its value minus its group's mean, so a
sample's Score depends on which other samples share its group: the honest samples must
get exactly the Scores of a batch without the poisoned ones.
"""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from rewardsmith.core.component import Component, Params
from rewardsmith.core.config import REGISTRY, register
from rewardsmith.core.pipeline import InputLimits, Reward
from rewardsmith.core.types import Group, Score, Status

CALLS: list[int] = []  # the number of samples of each score_batch call


class GroupMeanParams(Params):
    fail_whole_groups_over: int = 0  # > 0: a group larger than this fails as a whole


if "group_mean" not in REGISTRY:

    @register("group_mean")
    class GroupMean(Component):
        Params = GroupMeanParams
        params: GroupMeanParams

        def score_batch(self, groups: list[Group]) -> list[list[Score]]:
            CALLS.append(sum(len(g) for g in groups))
            if any(s.meta.get("poison") for g in groups for s in g.samples):
                raise OverflowError("poisoned sample in the batch")
            limit = self.params.fail_whole_groups_over
            if limit and any(len(g) > limit for g in groups):
                raise RuntimeError("group too large")
            out = []
            for group in groups:
                values = [float(s.meta["value"]) for s in group.samples]
                mean = sum(values) / len(values)
                out.append([Score(v - mean, info={"mean": mean}) for v in values])
            return out

        async def ascore_batch(self, groups: list[Group]) -> list[list[Score]]:
            await asyncio.sleep(0)
            return self.score_batch(groups)


def sample(group: str, value: float, poison: bool = False) -> dict:
    meta = {"value": value, "poison": poison}
    return {"prompt": group, "completion": str(value), "meta": meta}


def scores_of(samples: list[dict], spec: dict | None = None) -> list[Score]:
    with Reward.from_spec(spec or {"type": "group_mean"}) as reward:
        return reward.score(samples)


def test_a_poisoned_sample_fails_alone_and_the_rest_score_as_without_it():
    honest = [sample("a", 1), sample("a", 3), sample("b", 10), sample("b", 20), sample("c", 5)]
    batch = [*honest[:1], sample("a", 99, poison=True), *honest[1:]]
    scores = scores_of(batch)
    poisoned = scores[1]
    assert poisoned.status is Status.ERROR and poisoned.value == 0.0
    assert "OverflowError: poisoned sample" in poisoned.info["group_mean"]["error"]
    assert scores[:1] + scores[2:] == scores_of(honest)
    assert all(s.ok for s in scores[:1] + scores[2:])


def test_async_scoring_contains_failures_the_same_way():
    batch = [sample("a", 1), sample("a", 5, poison=True), sample("a", 3), sample("b", 4)]
    with Reward.from_spec({"type": "group_mean"}) as reward:
        scores = asyncio.run(reward.ascore(batch))
    assert [s.status for s in scores] == [Status.OK, Status.ERROR, Status.OK, Status.OK]
    assert [s.value for s in scores] == [-1.0, 0.0, 1.0, 0.0]


def test_a_batch_that_scores_costs_one_call():
    CALLS.clear()
    scores_of([sample("a", 1), sample("b", 2), sample("c", 3)])
    assert CALLS == [3]


def test_a_group_that_fails_only_as_a_whole_fails_alone():
    spec = {"type": "group_mean", "fail_whole_groups_over": 2}
    batch = [sample("a", 1), sample("a", 2), sample("a", 3), sample("b", 1), sample("b", 5)]
    scores = scores_of(batch, spec)
    assert [s.status for s in scores[:3]] == [Status.ERROR] * 3
    assert "group too large" in scores[0].info["group_mean"]["error"]
    assert [(s.status, s.value) for s in scores[3:]] == [(Status.OK, -2.0), (Status.OK, 2.0)]


def test_non_finite_rewards_become_errors_of_their_sample():
    scores = scores_of([sample("a", float("nan")), sample("b", 2.0)])
    assert scores[0].status is Status.ERROR and scores[0].value == 0.0
    assert "reward was nan, not finite" in scores[0].info["group_mean"]["error"]
    assert scores[1].ok


def test_a_combinator_contains_a_part_that_raises():
    spec = {"type": "weighted_sum", "of": [{"type": "group_mean"}, {"type": "meta_value"}]}
    batch = [sample("a", 1), sample("a", 3, poison=True), sample("a", 5)]
    scores = scores_of(batch, spec)
    assert [s.status for s in scores] == [Status.OK, Status.ERROR, Status.OK]
    assert [s.components["group_mean"] for s in scores] == [-2.0, 0.0, 2.0]
    assert [s.value for s in scores] == [-1.0, 3.0, 7.0]  # the failed part counts its fallback


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from("abcd"), st.integers(-5, 5), st.booleans()),
        min_size=1,
        max_size=12,
    )
)
def test_honest_scores_never_depend_on_poisoned_neighbours(rows):
    batch = [sample(group, value, poison) for group, value, poison in rows]
    honest = [s for s in batch if not s["meta"]["poison"]]
    scores = scores_of(batch)
    kept = [score for score, s in zip(scores, batch, strict=True) if not s["meta"]["poison"]]
    assert kept == (scores_of(honest) if honest else [])
    poisoned = [score for score, s in zip(scores, batch, strict=True) if s["meta"]["poison"]]
    assert all(p.status is Status.ERROR for p in poisoned)


def test_a_completion_over_the_limit_is_refused_before_any_component_sees_it():
    long = {**sample("a", 50), "completion": "9" * 101}
    batch = [sample("a", 1), long, sample("a", 3), sample("b", 7)]
    CALLS.clear()
    with Reward.from_spec({"type": "group_mean"}, limits=InputLimits(completion_chars=100)) as r:
        scores = r.score(batch)
    assert CALLS == [3]  # one call, without the long completion
    refused = scores[1]
    assert refused.status is Status.INVALID and refused.value == 0.0
    assert refused.info["error"] == (
        "completion: 101 characters; expected at most 100 (limits.completion_chars)"
    )
    assert [scores[0], scores[2], scores[3]] == scores_of(
        [sample("a", 1), sample("a", 3), sample("b", 7)]
    )


def test_a_group_of_refused_samples_is_not_scored_at_all(tmp_path):
    path = tmp_path / "reward.yaml"
    path.write_text("reward: {type: group_mean}\nlimits: {completion_chars: 3}\n")
    batch = [{"completion": "long", "meta": {"value": 1}}, sample("b", 2)]
    with Reward.load(path) as reward:
        scores = asyncio.run(reward.ascore(batch))
    assert scores[0].status is Status.INVALID
    assert "limits.completion_chars" in scores[0].info["error"]
    assert scores[1].ok and scores[1].value == 0.0


def test_the_default_limit_admits_long_honest_rollouts():
    assert InputLimits().completion_chars >= 500_000  # 128k tokens of chain of thought
