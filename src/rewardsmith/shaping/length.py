"""Length shaping: rewards that prefer short correct answers (efficient reasoning).

Every mechanism is a pure function over one group (the rollouts of one prompt): a list
of lengths and a list of correctness flags in, one reward per rollout out, in the same
order. The registered components wrap them: each takes a `correct` child (any verifier,
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
import math
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import Field, model_validator

from rewardsmith.core.component import Component, Params
from rewardsmith.core.config import BuildContext, register
from rewardsmith.core.types import Group, Sample, Score, Status
from rewardsmith.state import Update

CHARS_PER_TOKEN = 4
SHORTEST_NAMESPACE = "length.shortest_correct"
LASER_NAMESPACE = "length.laser_d"
BUCKETS = ("easy", "medium", "hard")


# --------------------------------------------------------------------------- lengths


def token_length(sample: Sample) -> tuple[int, str]:
    """The completion's length in tokens and where it came from ("ids" or "chars/4").

    `len(completion_ids)` when given; otherwise ceil(len(completion) / 4), i.e. four
    characters per token.
    """
    if sample.completion_ids is not None:
        return len(sample.completion_ids), "ids"
    return math.ceil(len(sample.completion) / CHARS_PER_TOKEN), "chars/4"


def _check(lengths: Sequence[float], correct: Sequence[bool]) -> None:
    if len(lengths) != len(correct):
        raise ValueError(f"{len(lengths)} lengths for {len(correct)} correctness flags")


# --------------------------------------------------------------------------- mechanisms


def kimi_lambdas(lengths: Sequence[float]) -> list[float]:
    """Kimi k1.5 (arXiv 2501.12599): lambda_i = 0.5 - (len_i - min) / (max - min).

    In [-0.5, 0.5]: 0.5 for the group's shortest, -0.5 for its longest; all 0 when every
    length is equal (no information about length in the group).
    """
    if not lengths:
        return []
    low, high = min(lengths), max(lengths)
    if high == low:
        return [0.0] * len(lengths)
    return [0.5 - (length - low) / (high - low) for length in lengths]


def kimi_rewards(
    lengths: Sequence[float], correct: Sequence[bool], weight: float = 1.0
) -> list[float]:
    """Kimi k1.5 length reward (arXiv 2501.12599, section 2.3.3) added to 0/1 correctness.

    reward_i = c_i + weight * (lambda_i if c_i else min(0, lambda_i)): a correct answer
    gains for being short and loses for being long, a wrong one is only ever penalised.
    Bounds: correct in [1 - w/2, 1 + w/2], wrong in [-w/2, 0].
    """
    _check(lengths, correct)
    return [
        float(ok) + weight * (lam if ok else min(0.0, lam))
        for lam, ok in zip(kimi_lambdas(lengths), correct, strict=True)
    ]


def dapo_overlong_penalty(length: float, max_length: int = 20480, cache: int = 4096) -> float:
    """DAPO soft overlong punishment (arXiv 2503.14476, eq. 13).

    0 when L <= L_max - L_cache; ((L_max - L_cache) - L) / L_cache for L up to L_max
    (falling linearly from 0 to -1); -1 beyond L_max.
    """
    start = max_length - cache
    if length <= start:
        return 0.0
    if length <= max_length:
        return (start - length) / cache
    return -1.0


def dapo_rewards(
    lengths: Sequence[float],
    correct: Sequence[bool],
    max_length: int = 20480,
    cache: int = 4096,
) -> list[float]:
    """0/1 correctness plus the DAPO soft overlong penalty (arXiv 2503.14476)."""
    _check(lengths, correct)
    return [
        float(ok) + dapo_overlong_penalty(length, max_length, cache)
        for length, ok in zip(lengths, correct, strict=True)
    ]


def grpo_lambda_selection(ratios: Sequence[float], fraction: float = 0.2) -> list[bool]:
    """GRPO-lambda (arXiv 2505.18086): which groups of the batch get the length penalty.

    Groups are ranked by their correctness ratio, highest first; the top
    ceil(fraction * n_groups) are selected (ties at the cut broken by batch order, so
    the count is exact). Groups with no correct answer are never selected: a length
    penalty there would only teach short wrong answers.
    """
    count = math.ceil(fraction * len(ratios) - 1e-9)
    ranked = sorted(range(len(ratios)), key=lambda i: -ratios[i])
    chosen = {i for i in ranked[:count] if ratios[i] > 0}
    return [i in chosen for i in range(len(ratios))]


def grpo_lambda_rewards(
    lengths: Sequence[float], correct: Sequence[bool], selected: bool, weight: float = 1.0
) -> list[float]:
    """GRPO-lambda (arXiv 2505.18086) for one group: the Kimi length-penalised reward
    when the group was selected (see `grpo_lambda_selection`), plain 0/1 otherwise."""
    _check(lengths, correct)
    if selected:
        return kimi_rewards(lengths, correct, weight)
    return [float(ok) for ok in correct]


def shortest_correct(lengths: Sequence[float], correct: Sequence[bool]) -> float | None:
    """The shortest length among the correct rollouts, or None without one."""
    _check(lengths, correct)
    found = [length for length, ok in zip(lengths, correct, strict=True) if ok]
    return min(found) if found else None


def ceeh_rewards(
    lengths: Sequence[float],
    correct: Sequence[bool],
    shortest: float | None,
    alpha: float = 0.5,
) -> list[float]:
    """CEEH (arXiv 2602.22642): 1 - alpha * clip((L - L*) / L*, 0, 1) for correct, 0 wrong.

    `shortest` is L*_q, the shortest correct length known for the prompt; this function
    lowers it to the group's own shortest correct length first, so the group's shortest
    correct answer always gets 1. Without any correct answer known (None, and none in
    the group) correct answers get plain 1. L* is taken as at least 1 token. Bounds:
    correct in [1 - alpha, 1], wrong 0.
    """
    _check(lengths, correct)
    own = shortest_correct(lengths, correct)
    known = [x for x in (shortest, own) if x is not None]
    if not known:
        return [float(ok) for ok in correct]
    best = max(min(known), 1.0)
    return [
        1.0 - alpha * min(max((length - best) / best, 0.0), 1.0) if ok else 0.0
        for length, ok in zip(lengths, correct, strict=True)
    ]


def drpo_weights(
    lengths: Sequence[float], correct: Sequence[bool], max_length: int = 8192, lam: float = 0.1
) -> list[float]:
    """DRPO (arXiv 2510.04474): softmax(r_L / lambda) over the correct rollouts, where
    r_L = 1 - L / L_max; wrong rollouts get weight 0. The weights of a group with a
    correct answer sum to 1."""
    _check(lengths, correct)
    logits = {
        i: (1.0 - length / max_length) / lam
        for i, (length, ok) in enumerate(zip(lengths, correct, strict=True))
        if ok
    }
    if not logits:
        return [0.0] * len(lengths)
    top = max(logits.values())
    exps = {i: math.exp(x - top) for i, x in logits.items()}
    total = sum(exps.values())
    return [exps[i] / total if i in exps else 0.0 for i in range(len(lengths))]


def drpo_rewards(
    lengths: Sequence[float], correct: Sequence[bool], max_length: int = 8192, lam: float = 0.1
) -> list[float]:
    """DRPO (arXiv 2510.04474) as a reward: n_correct * w_i for correct rollouts, 0 wrong.

    Scaling the softmax weight by the number of correct rollouts keeps their mean at 1
    (the 0/1 reward's), so only the split among correct answers depends on length and a
    correct answer is never negative. Bounds: correct in (0, n_correct], wrong 0.
    """
    weights = drpo_weights(lengths, correct, max_length, lam)
    n_correct = sum(bool(ok) for ok in correct)
    return [n_correct * w if ok else 0.0 for w, ok in zip(weights, correct, strict=True)]


def laser_rewards(
    lengths: Sequence[float],
    correct: Sequence[bool],
    target: float,
    alpha: float = 0.5,
    wrong: float = -0.5,
    malformed: Sequence[bool] | None = None,
    malformed_reward: float = -1.0,
) -> list[float]:
    """LASER (arXiv 2505.15612): 1 correct, -0.5 wrong, -1 malformed; + alpha when
    correct and L <= target (a step function of length)."""
    _check(lengths, correct)
    bad = list(malformed) if malformed is not None else [False] * len(lengths)
    out = []
    for length, ok, broken in zip(lengths, correct, bad, strict=True):
        if ok:
            out.append(1.0 + (alpha if length <= target else 0.0))
        else:
            out.append(malformed_reward if broken else wrong)
    return out


def difficulty_bucket(accuracy: float) -> str:
    """LASER-D (arXiv 2505.15612) bucket by group accuracy: easy >= 2/3, medium in
    [1/3, 2/3), hard < 1/3."""
    if accuracy >= 2 / 3 - 1e-12:
        return "easy"
    if accuracy >= 1 / 3 - 1e-12:
        return "medium"
    return "hard"


def laser_d_target(lengths: Sequence[float], k: int, candidates: Sequence[int]) -> int:
    """LASER-D (arXiv 2505.15612) target for one bucket: the smallest candidate L with
    floor(coverage(L) * k) >= 1, coverage(L) being the fraction of the bucket's
    responses no longer than L; the largest candidate when none qualifies."""
    ordered = sorted(candidates)
    if not lengths:
        return ordered[-1]
    for candidate in ordered:
        coverage = sum(length <= candidate for length in lengths) / len(lengths)
        if math.floor(coverage * k + 1e-9) >= 1:
            return candidate
    return ordered[-1]


def linear_budget(step: int, start: int, end: int, steps: int) -> float:
    """Token budget B(t): linear from `start` at step 0 to `end` at `steps`, then flat."""
    progress = min(max(step, 0) / steps, 1.0)
    return start + (end - start) * progress


def budget_rewards(
    lengths: Sequence[float], correct: Sequence[bool], budget: float, penalty: float = 0.5
) -> list[float]:
    """Token-budget reward (Train Long, Think Short; budget tightened
    over training): correct within budget 1, over it 1 - penalty * min(1, (L - B) / B),
    wrong 0."""
    _check(lengths, correct)
    out = []
    for length, ok in zip(lengths, correct, strict=True):
        if not ok:
            out.append(0.0)
        elif length <= budget:
            out.append(1.0)
        else:
            out.append(1.0 - penalty * min(1.0, (length - budget) / budget))
    return out


# --------------------------------------------------------------------------- components


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
        raise NotImplementedError

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
    return hashlib.sha256(text.encode()).hexdigest()[:32]


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
