"""Length shaping: rewards that prefer short correct answers (efficient reasoning).

Every mechanism is a pure function over one group (`length_rules.py`). The registered
components here wrap them: each takes a `correct` child (any verifier,
e.g. `{"type": "math"}`), scores the batch with it, counts a rollout as correct when the
child's value is >= `threshold` (0.5) and its status is ok, and returns the shaped
reward. The child's value stays visible in `Score.components`; `info` holds the length
used (`length`), whether it was correct, and the shaping term (`term`, the part of the
reward that comes from length: the reward minus 1 for a correct answer and minus 0 for a
wrong one; for LASER the length bonus) with the mechanism's own quantities.

Length is `len(completion_ids)` when the sample has token ids, otherwise an
approximation of ceil(len(completion) / 4): about four characters per token, the usual
figure for English text with BPE tokenizers (`info.length_source` says which was used).

Components (config `type`):
- `length_kimi`: Kimi k1.5 length penalty, per group;
- `overlong_dapo`: DAPO soft overlong punishment added to the correctness reward;
- `length_grpo_lambda`: GRPO-lambda, the Kimi penalty only for the groups with the best
  correctness ratio in the batch;
- `length_ceeh`: CEEH, relative to the shortest correct length ever seen for the prompt
  (kept in the training-state store);
- `length_drpo`: DRPO, softmax length weights over the correct rollouts only;
- `length_laser`: LASER step reward with a fixed target length, or LASER-D with
  targets per difficulty bucket adapted from the batch (kept in the store);
- `length_budget`: token-budget curriculum (Train Long, Think Short).
"""

from __future__ import annotations

import hashlib
from typing import Any, Literal

from pydantic import Field, model_validator

from rewardsmith.core.component import Component, Params
from rewardsmith.core.config import BuildContext, register
from rewardsmith.core.types import Group, Score, Status
from rewardsmith.shaping.length_rules import (
    BUCKETS,
    budget_rewards,
    ceeh_rewards,
    dapo_rewards,
    difficulty_bucket,
    drpo_rewards,
    drpo_weights,
    grpo_lambda_rewards,
    grpo_lambda_selection,
    kimi_rewards,
    laser_d_target,
    laser_rewards,
    linear_budget,
    shortest_correct,
    token_length,
)
from rewardsmith.state import Update

SHORTEST_NAMESPACE = "length.shortest_correct"
LASER_NAMESPACE = "length.laser_d"


class LengthParams(Params):
    correct: Any  # the verifier whose verdict is shaped (a component spec)
    threshold: float = 0.5  # a child value >= threshold (with status ok) counts as correct


class _GroupView:
    """One group's child scores, lengths and correctness, as the mechanisms see them."""

    def __init__(self, group: Group, child: list[Score], threshold: float) -> None:
        self.group = group
        self.child = child
        measured = [token_length(sample) for sample in group.samples]
        self.lengths = [float(n) for n, _ in measured]
        self.sources = [source for _, source in measured]
        self.correct = [s.ok and s.value >= threshold for s in child]


class LengthShaping(Component):
    """Base: score with the `correct` child, then reshape each group by length.

    Subclasses implement `shape` (whole batch at once, for mechanisms that compare
    groups or keep state) returning, per group, the rewards and per-sample extra info.
    """

    Params = LengthParams
    params: LengthParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        self.correct_child = ctx.build(self.params.correct, f"{self.path}.correct")

    def children(self) -> list[Component]:
        return [self.correct_child]

    def score_batch(self, groups: list[Group]) -> list[list[Score]]:
        child_scores = self.correct_child.run(groups)
        views = [
            _GroupView(group, scores, self.params.threshold)
            for group, scores in zip(groups, child_scores, strict=True)
        ]
        shaped = self.shape(views)
        return [
            [
                self._score(view, i, reward, extra)
                for i, (reward, extra) in enumerate(zip(rewards, extras, strict=True))
            ]
            for view, (rewards, extras) in zip(views, shaped, strict=True)
        ]

    def shape(self, views: list[_GroupView]) -> list[tuple[list[float], list[dict[str, Any]]]]:
        return [(self.shape_group(view), [{} for _ in view.lengths]) for view in views]

    def shape_group(self, view: _GroupView) -> list[float]:
        """The rewards of one group: what a rule that needs no other group overrides
        (rules that look across the batch or at the store override `shape` instead)."""
        raise TypeError(f"{type(self).__name__} overrides neither shape_group nor shape")

    def _score(self, view: _GroupView, i: int, reward: float, extra: dict[str, Any]) -> Score:
        child = view.child[i]
        ok = view.correct[i]
        base = 1.0 if ok else 0.0
        info: dict[str, Any] = {
            "length": view.lengths[i],
            "length_source": view.sources[i],
            "correct": ok,
            "term": reward - base,
            **extra,
        }
        score = Score(reward, info={self.name: info})
        score.absorb(child)
        return score


class KimiParams(LengthParams):
    weight: float = Field(default=1.0, ge=0)


@register("length_kimi")
class KimiLength(LengthShaping):
    """Kimi k1.5 length penalty (arXiv 2501.12599); see `kimi_rewards`."""

    Params = KimiParams
    params: KimiParams

    def shape_group(self, view: _GroupView) -> list[float]:
        return kimi_rewards(view.lengths, view.correct, self.params.weight)


class DapoParams(LengthParams):
    max_length: int = Field(default=20480, gt=0)
    cache: int = Field(default=4096, gt=0)

    @model_validator(mode="after")
    def _cache_fits(self) -> DapoParams:
        if self.cache > self.max_length:
            raise ValueError("cache: must not exceed max_length")
        return self


@register("overlong_dapo")
class DapoOverlong(LengthShaping):
    """DAPO soft overlong punishment (arXiv 2503.14476); see `dapo_rewards`."""

    Params = DapoParams
    params: DapoParams

    def shape_group(self, view: _GroupView) -> list[float]:
        return dapo_rewards(view.lengths, view.correct, self.params.max_length, self.params.cache)


class GrpoLambdaParams(KimiParams):
    fraction: float = Field(default=0.2, ge=0, le=1)


@register("length_grpo_lambda")
class GrpoLambdaLength(LengthShaping):
    """GRPO-lambda (arXiv 2505.18086); see `grpo_lambda_selection` and
    `grpo_lambda_rewards`. `info.selected` says whether the group was penalised.

    `fraction` defaults to 0.2, our choice: the paper's exact value and tie rule are
    not checked here. `weight` scales the Kimi length term as in `length_kimi`.
    """

    Params = GrpoLambdaParams
    params: GrpoLambdaParams

    def batch_wide(self) -> bool:
        return True  # the groups penalised are chosen by their rank in the batch

    def shape(self, views: list[_GroupView]) -> list[tuple[list[float], list[dict[str, Any]]]]:
        ratios = [sum(v.correct) / len(v.correct) if v.correct else 0.0 for v in views]
        selected = grpo_lambda_selection(ratios, self.params.fraction)
        out = []
        for view, chosen, ratio in zip(views, selected, ratios, strict=True):
            rewards = grpo_lambda_rewards(view.lengths, view.correct, chosen, self.params.weight)
            extra = {"selected": chosen, "correct_ratio": ratio}
            out.append((rewards, [dict(extra) for _ in rewards]))
        return out


class CeehParams(LengthParams):
    alpha: float = Field(default=0.5, ge=0, le=1)
    key: Literal["prompt", "group_id"] = "prompt"


def prompt_key(group: Group, by: str) -> str:
    """The store key of a group's prompt: a hash of the prompt text, or of the group id."""
    text = group.group_id if by == "group_id" or not group.samples else group.samples[0].prompt_text
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@register("length_ceeh")
class CeehLength(LengthShaping):
    """CEEH (arXiv 2602.22642); see `ceeh_rewards`.

    L*_q lives in the store (namespace "length.shortest_correct", field "length"), keyed
    by a hash of the prompt text (`key: prompt`, stable across steps) or of the group id
    (`key: group_id`). The batch's own shortest correct length counts before scoring,
    and is then written with a `minimum` update, so concurrent workers never lose one.
    Groups without a correct answer write nothing.
    """

    Params = CeehParams
    params: CeehParams

    def shape(self, views: list[_GroupView]) -> list[tuple[list[float], list[dict[str, Any]]]]:
        store = self.ctx.store()
        keys = [prompt_key(view.group, self.params.key) for view in views]
        stored = store.read(SHORTEST_NAMESPACE, sorted(set(keys)))
        out, updates = [], []
        for view, key in zip(views, keys, strict=True):
            known = stored.get(key, {}).get("length")
            own = shortest_correct(view.lengths, view.correct)
            rewards = ceeh_rewards(view.lengths, view.correct, known, self.params.alpha)
            best = min((x for x in (known, own) if x is not None), default=None)
            out.append((rewards, [{"shortest": best} for _ in rewards]))
            if own is not None:
                updates.append(Update(SHORTEST_NAMESPACE, key, minimum={"length": own}))
        store.apply(updates)
        return out


class DrpoParams(LengthParams):
    max_length: int = Field(default=8192, gt=0)
    lam: float = Field(default=0.1, gt=0)


@register("length_drpo")
class DrpoLength(LengthShaping):
    """DRPO (arXiv 2510.04474); see `drpo_rewards`. `info.weight` is the softmax weight.

    `lam` is the softmax temperature (0.1). `max_length` (8192 by default, our choice)
    should be the rollouts' generation limit, so that r_L stays in [0, 1].
    """

    Params = DrpoParams
    params: DrpoParams

    def shape(self, views: list[_GroupView]) -> list[tuple[list[float], list[dict[str, Any]]]]:
        p = self.params
        out = []
        for view in views:
            weights = drpo_weights(view.lengths, view.correct, p.max_length, p.lam)
            rewards = drpo_rewards(view.lengths, view.correct, p.max_length, p.lam)
            out.append((rewards, [{"weight": w} for w in weights]))
        return out


class LaserParams(LengthParams):
    alpha: float = Field(default=0.5, ge=0)
    wrong: float = -0.5
    malformed: float = -1.0  # when the child's status is "invalid"
    target_length: int = Field(default=4096, gt=0)  # LASER; LASER-D's initial target
    adaptive: bool = False  # LASER-D
    update_every: int = Field(default=20, ge=1)
    candidate_step: int = Field(default=1024, gt=0)
    max_length: int = Field(default=20480, gt=0)
    k: dict[str, int] = Field(default_factory=lambda: {"easy": 5, "medium": 2, "hard": 1})

    @model_validator(mode="after")
    def _buckets(self) -> LaserParams:
        if set(self.k) != set(BUCKETS) or any(v < 1 for v in self.k.values()):
            raise ValueError("k: expected a positive integer for each of easy, medium, hard")
        return self


@register("length_laser")
class LaserLength(LengthShaping):
    """LASER / LASER-D (arXiv 2505.15612); see `laser_rewards`.

    LASER uses `target_length` for every group. LASER-D (`adaptive: true`) puts each
    group in a bucket by accuracy (`difficulty_bucket`) and uses that bucket's target.
    The targets live in the store (namespace "length.laser_d", key the component name);
    when none are stored yet, or `update_every` steps have passed since the last update
    (by `meta.step`), they are recomputed from this batch's responses per bucket with
    `laser_d_target` over the candidates candidate_step, 2 * candidate_step, ... up to
    max_length, stored, and used for this batch. A bucket with no responses in the batch
    keeps its target. Concurrent workers updating at the same step: the last one wins.
    """

    Params = LaserParams
    params: LaserParams

    def batch_wide(self) -> bool:
        return self.params.adaptive or super().batch_wide()  # LASER-D: targets from the batch

    def shape(self, views: list[_GroupView]) -> list[tuple[list[float], list[dict[str, Any]]]]:
        p = self.params
        buckets = [
            difficulty_bucket(sum(v.correct) / len(v.correct) if v.correct else 0.0) for v in views
        ]
        targets = self._targets(views, buckets) if p.adaptive else {}
        out = []
        for view, bucket in zip(views, buckets, strict=True):
            target = targets.get(bucket, p.target_length)
            malformed = [s.status is Status.INVALID for s in view.child]
            rewards = laser_rewards(
                view.lengths, view.correct, target, p.alpha, p.wrong, malformed, p.malformed
            )
            extra: dict[str, Any] = {"target": target}
            if p.adaptive:
                extra["bucket"] = bucket
            extras = [
                {**extra, "term": p.alpha if ok and length <= target else 0.0}
                for length, ok in zip(view.lengths, view.correct, strict=True)
            ]
            out.append((rewards, extras))
        return out

    def _targets(self, views: list[_GroupView], buckets: list[str]) -> dict[str, float]:
        p = self.params
        store = self.ctx.store()
        record = store.read(LASER_NAMESPACE, [self.name]).get(self.name, {})
        targets = {b: record.get(b, float(p.target_length)) for b in BUCKETS}
        step = max((s.step for v in views for s in v.group.samples), default=0)
        last = record.get("step")
        if last is not None and step - last < p.update_every:
            return targets
        candidates = list(range(p.candidate_step, p.max_length + 1, p.candidate_step))
        candidates = candidates or [p.max_length]
        for bucket in BUCKETS:
            lengths = [
                length
                for view, b in zip(views, buckets, strict=True)
                if b == bucket
                for length in view.lengths
            ]
            if lengths:
                targets[bucket] = float(laser_d_target(lengths, p.k[bucket], candidates))
        store.apply([Update(LASER_NAMESPACE, self.name, assign={**targets, "step": float(step)})])
        return targets


class BudgetParams(LengthParams):
    start_budget: int = Field(default=8192, gt=0)
    end_budget: int = Field(default=2048, gt=0)
    steps: int = Field(default=1000, ge=1)
    penalty: float = Field(default=0.5, ge=0, le=1)


@register("length_budget")
class BudgetLength(LengthShaping):
    """Token-budget curriculum (Train Long, Think Short); see `linear_budget` and
    `budget_rewards`. The step is each sample's `meta.step`; `info.budget` is B(t).

    The defaults (8192 to 2048 tokens over 1000 steps, penalty 0.5 so that a correct
    answer always beats a wrong one) are our choices, not the paper's.
    """

    Params = BudgetParams
    params: BudgetParams

    def shape(self, views: list[_GroupView]) -> list[tuple[list[float], list[dict[str, Any]]]]:
        p = self.params
        out = []
        for view in views:
            budgets = [
                linear_budget(s.step, p.start_budget, p.end_budget, p.steps)
                for s in view.group.samples
            ]
            rewards = [
                budget_rewards([length], [ok], budget, p.penalty)[0]
                for length, ok, budget in zip(view.lengths, view.correct, budgets, strict=True)
            ]
            out.append((rewards, [{"budget": b} for b in budgets]))
        return out
