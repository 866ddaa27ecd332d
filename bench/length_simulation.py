"""Simulate GRPO batches and show what GRPO-lambda and LASER-D do with length.

Synthetic batch: each prompt has a success rate p ~ Beta(2, 2) (difficulty d = 1 - p)
and a group of 8 rollouts; a rollout is correct with probability p, independently of its
length. Lengths are lognormal: the median of a correct answer grows with difficulty,
base * exp(growth * d) tokens (800 tokens for d = 0, about 7200 for d = 1 with the
defaults), sigma 0.6; wrong answers are `wrong_factor` (1.4) times longer on average;
lengths are clipped to [32, 20480]. Rewards come from the pure group functions of
`rewardsmith.shaping.length_rules` (nothing is re-implemented here); advantages are GRPO's,
(r - mean) / std within the group (std with ddof=1, 0 for a zero-variance group).

1. GRPO-lambda (arXiv 2505.18086): only the top `fraction` of groups by correctness
   ratio get the Kimi length penalty. The table shows, per kind of group, the mean
   reward and advantage of short vs long correct rollouts (split at the group's median
   length) and the within-group correlation between length and advantage among correct
   rollouts (0 when their advantage is constant, i.e. length plays no part).
2. LASER-D (arXiv 2505.15612): adaptive targets per difficulty bucket from the batch
   (`laser_d_target`, k = 5 / 2 / 1), against a single fixed LASER target.
3. A toy policy-improvement loop: each prompt's log-median length moves by a
   REINFORCE step on the lognormal's mean, lr * mean_j A_j * (log L_j - mu), i.e. in
   proportion to how much more advantage short rollouts get than long ones. Assumption:
   correctness does not depend on length, so accuracy cannot change (it is sampled,
   and moves by noise only); the loop only shows *where* each reward pushes length.

Run: .venv/bin/python bench/length_simulation.py  (a few seconds, fixed seed)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rewardsmith.shaping.length_rules import (
    BUCKETS,
    difficulty_bucket,
    grpo_lambda_rewards,
    grpo_lambda_selection,
    kimi_rewards,
    laser_d_target,
    laser_rewards,
)

GROUP = 8
MAX_LENGTH = 20480
CANDIDATES = list(range(1024, MAX_LENGTH + 1, 1024))
LASER_K = {"easy": 5, "medium": 2, "hard": 1}
FIXED_TARGET = 4096


@dataclass(frozen=True)
class LengthModel:
    """Lognormal lengths: median base * exp(growth * difficulty), wrong answers longer."""

    base: float = 800.0
    growth: float = 2.2
    sigma: float = 0.6
    wrong_factor: float = 1.4
    min_length: int = 32
    max_length: int = MAX_LENGTH

    def log_median(self, success: np.ndarray) -> np.ndarray:
        return np.log(self.base) + self.growth * (1.0 - success)


@dataclass
class Batch:
    success: np.ndarray  # (prompts,) true success rate p
    lengths: np.ndarray  # (prompts, group) tokens
    correct: np.ndarray  # (prompts, group) bool

    @property
    def ratios(self) -> list[float]:
        return [float(x) for x in self.correct.mean(axis=1)]

    @property
    def buckets(self) -> list[str]:
        return [difficulty_bucket(r) for r in self.ratios]


def make_prompts(rng: np.random.Generator, prompts: int, a: float = 2.0, b: float = 2.0):
    """Per-prompt success rates p ~ Beta(a, b)."""
    return rng.beta(a, b, size=prompts)


def sample_batch(
    rng: np.random.Generator,
    success: np.ndarray,
    mu: np.ndarray | None = None,
    model: LengthModel = LengthModel(),
    group: int = GROUP,
) -> Batch:
    """One group per prompt: correct ~ Bernoulli(p), lengths lognormal around exp(mu)."""
    if mu is None:
        mu = model.log_median(success)
    correct = rng.random((len(success), group)) < success[:, None]
    log_len = mu[:, None] + model.sigma * rng.standard_normal(correct.shape)
    log_len = log_len + np.where(correct, 0.0, np.log(model.wrong_factor))
    lengths = np.clip(np.round(np.exp(log_len)), model.min_length, model.max_length)
    return Batch(success, lengths, correct)


def group_advantages(rewards: Sequence[float]) -> np.ndarray:
    """GRPO advantage: (r - mean) / std (ddof=1) in the group; 0 if the std is 0."""
    r = np.asarray(rewards, dtype=float)
    std = r.std(ddof=1) if len(r) > 1 else 0.0
    if std < 1e-12:
        return np.zeros_like(r)
    return (r - r.mean()) / std


def correct_length_corr(lengths: np.ndarray, correct: np.ndarray, adv: np.ndarray):
    """Pearson correlation of length and advantage among a group's correct rollouts.

    None when there are fewer than 2 correct rollouts or their lengths are all equal;
    0 when their advantage is constant (it does not depend on length at all).
    """
    x, y = lengths[correct], adv[correct]
    if len(x) < 2 or np.ptp(x) == 0:
        return None
    if np.ptp(y) < 1e-12:
        return 0.0
    return float(np.corrcoef(x, y)[0, 1])


def _mean(values: Sequence[float]) -> float:
    return float(np.mean(values)) if len(values) else float("nan")


@dataclass
class GroupStats:
    """Per-group short/long split of correct rollouts (at the group's median length)."""

    reward_short: list[float]
    reward_long: list[float]
    adv_short: list[float]
    adv_long: list[float]
    corr: float | None
    spread: float | None  # max - min advantage among correct rollouts


def group_stats(lengths: np.ndarray, correct: np.ndarray, rewards: Sequence[float]) -> GroupStats:
    r = np.asarray(rewards, dtype=float)
    adv = group_advantages(r)
    median = np.median(lengths)
    short = correct & (lengths <= median)
    long = correct & (lengths > median)
    spread = float(np.ptp(adv[correct])) if correct.sum() >= 2 else None
    return GroupStats(
        list(r[short]),
        list(r[long]),
        list(adv[short]),
        list(adv[long]),
        correct_length_corr(lengths, correct, adv),
        spread,
    )


# --------------------------------------------------------------------------- GRPO-lambda


def grpo_lambda_analysis(batch: Batch, fraction: float = 0.2, weight: float = 1.0) -> dict:
    """Rewards, advantages and per-group statistics under GRPO-lambda and Kimi-for-all."""
    ratios = batch.ratios
    selected = grpo_lambda_selection(ratios, fraction)
    stats, kimi_stats = [], []
    for lengths, correct, chosen in zip(batch.lengths, batch.correct, selected, strict=True):
        ls, cs = [float(x) for x in lengths], [bool(c) for c in correct]
        stats.append(group_stats(lengths, correct, grpo_lambda_rewards(ls, cs, chosen, weight)))
        kimi_stats.append(group_stats(lengths, correct, kimi_rewards(ls, cs, weight)))
    return {
        "ratios": ratios,
        "selected": selected,
        "buckets": batch.buckets,
        "stats": stats,
        "kimi": kimi_stats,
    }


def _summarise(stats: list[GroupStats]) -> dict[str, float]:
    corrs = [s.corr for s in stats if s.corr is not None]
    spreads = [s.spread for s in stats if s.spread is not None]
    return {
        "groups": len(stats),
        "r_short": _mean([x for s in stats for x in s.reward_short]),
        "r_long": _mean([x for s in stats for x in s.reward_long]),
        "a_short": _mean([x for s in stats for x in s.adv_short]),
        "a_long": _mean([x for s in stats for x in s.adv_long]),
        "corr": _mean(corrs),
        "spread": _mean(spreads),
    }


def grpo_lambda_rows(analysis: dict) -> list[tuple[str, float, dict, float]]:
    """Rows: penalised groups, then unselected groups per difficulty bucket.

    Each row: label, mean correctness ratio, GRPO-lambda summary, and the length-
    advantage correlation the same groups would get with Kimi applied everywhere.
    """
    rows = []
    kinds = [("penalised (top)", lambda sel, b: sel)] + [
        (f"plain {bucket}", lambda sel, b, bucket=bucket: not sel and b == bucket)
        for bucket in BUCKETS
    ]
    for label, keep in kinds:
        idx = [
            i
            for i, (sel, b) in enumerate(
                zip(analysis["selected"], analysis["buckets"], strict=True)
            )
            if keep(sel, b)
        ]
        if not idx:
            continue
        summary = _summarise([analysis["stats"][i] for i in idx])
        kimi = _summarise([analysis["kimi"][i] for i in idx])
        ratio = _mean([analysis["ratios"][i] for i in idx])
        rows.append((label, ratio, summary, kimi["corr"]))
    return rows


def print_grpo_lambda(analysis: dict, fraction: float) -> None:
    n = len(analysis["selected"])
    share = sum(analysis["selected"]) / n
    chosen = [r for r, s in zip(analysis["ratios"], analysis["selected"], strict=True) if s]
    others = [r for r, s in zip(analysis["ratios"], analysis["selected"], strict=True) if not s]
    print(f"== 1. GRPO-lambda (fraction {fraction}) over {n} groups of {GROUP} ==")
    print(
        f"penalised: {sum(analysis['selected'])} groups ({share:.1%}); their correctness "
        f"ratio >= {min(chosen):.3f}, the others' <= {max(others):.3f}"
    )
    head = (
        f"{'groups':<16}{'n':>5}{'ratio':>7}{'R short':>9}{'R long':>8}"
        f"{'A short':>9}{'A long':>8}{'corr(L,A)':>11}{'A spread':>10}{'Kimi corr':>11}"
    )
    print(head)
    print("-" * len(head))
    for label, ratio, s, kimi_corr in grpo_lambda_rows(analysis):
        print(
            f"{label:<16}{s['groups']:>5}{ratio:>7.3f}{s['r_short']:>9.3f}{s['r_long']:>8.3f}"
            f"{s['a_short']:>9.3f}{s['a_long']:>8.3f}{s['corr']:>11.3f}{s['spread']:>10.3f}"
            f"{kimi_corr:>11.3f}"
        )
    print(
        "R/A short|long: mean reward / GRPO advantage of correct rollouts at or below | "
        "above the group's median length;\ncorr(L,A): mean within-group correlation of "
        "length and advantage among correct rollouts (0 = advantage independent of "
        "length);\nA spread: mean max-min advantage among correct rollouts; Kimi corr: "
        "the same groups if every group got the Kimi penalty.\n"
    )


# --------------------------------------------------------------------------- LASER-D


def laser_d_targets(batch: Batch, k: dict[str, int] | None = None) -> dict[str, int]:
    """LASER-D target per bucket from all responses (correct or not) of that bucket."""
    k = k or LASER_K
    buckets = batch.buckets
    targets = {}
    for bucket in BUCKETS:
        lengths = [
            float(x)
            for row, b in zip(batch.lengths, buckets, strict=True)
            if b == bucket
            for x in row
        ]
        targets[bucket] = laser_d_target(lengths, k[bucket], CANDIDATES)
    return targets


def laser_analysis(batch: Batch, fixed: int = FIXED_TARGET) -> dict[str, dict[str, float]]:
    """Per bucket: target, median correct length, share of correct answers earning the
    bonus and the length-advantage correlation, for LASER-D and for a fixed target."""
    targets = laser_d_targets(batch)
    buckets = batch.buckets
    out: dict[str, dict[str, float]] = {}
    for bucket in BUCKETS:
        idx = [i for i, b in enumerate(buckets) if b == bucket]
        correct_lengths = np.concatenate(
            [batch.lengths[i][batch.correct[i]] for i in idx] or [np.array([])]
        )
        row: dict[str, float] = {
            "groups": len(idx),
            "accuracy": _mean([batch.correct[i].mean() for i in idx]),
            "median_correct": float(np.median(correct_lengths)) if len(correct_lengths) else 0.0,
            "target_d": targets[bucket],
            "target_fixed": fixed,
        }
        for name, target in (("d", targets[bucket]), ("fixed", fixed)):
            corrs = []
            for i in idx:
                ls, cs = [float(x) for x in batch.lengths[i]], [bool(c) for c in batch.correct[i]]
                adv = group_advantages(laser_rewards(ls, cs, target))
                corr = correct_length_corr(batch.lengths[i], batch.correct[i], adv)
                if corr is not None:
                    corrs.append(corr)
            bonus = float(np.mean(correct_lengths <= target)) if len(correct_lengths) else 0.0
            row[f"bonus_{name}"] = bonus
            row[f"corr_{name}"] = _mean(corrs)
        out[bucket] = row
    return out


def print_laser(rows: dict[str, dict[str, float]], fixed: int) -> None:
    print(f"== 2. LASER-D (k = 5/2/1, candidates 1024..{MAX_LENGTH}) vs fixed LASER {fixed} ==")
    head = (
        f"{'bucket':<8}{'n':>5}{'acc':>7}{'med L ok':>10}{'target D':>10}{'bonus D':>9}"
        f"{'corr D':>8}{'bonus fix':>11}{'corr fix':>10}"
    )
    print(head)
    print("-" * len(head))
    for bucket, r in rows.items():
        print(
            f"{bucket:<8}{r['groups']:>5}{r['accuracy']:>7.3f}{r['median_correct']:>10.0f}"
            f"{r['target_d']:>10}{r['bonus_d']:>9.1%}{r['corr_d']:>8.3f}"
            f"{r['bonus_fixed']:>11.1%}{r['corr_fixed']:>10.3f}"
        )
    print(
        "med L ok: median length of correct answers; bonus: share of correct answers at or "
        "under the target (earning +0.5);\ncorr: mean within-group correlation of length "
        "and GRPO advantage among correct rollouts (LASER-D target vs fixed target).\n"
    )


# --------------------------------------------------------------------------- policy loop

Shaper = Callable[[Batch, dict], list[list[float]]]


def _plain(batch: Batch, state: dict) -> list[list[float]]:
    return [[float(c) for c in row] for row in batch.correct]


def _kimi(batch: Batch, state: dict) -> list[list[float]]:
    return [
        kimi_rewards([float(x) for x in ls], [bool(c) for c in cs])
        for ls, cs in zip(batch.lengths, batch.correct, strict=True)
    ]


def _grpo_lambda(batch: Batch, state: dict) -> list[list[float]]:
    selected = grpo_lambda_selection(batch.ratios, state.get("fraction", 0.2))
    return [
        grpo_lambda_rewards([float(x) for x in ls], [bool(c) for c in cs], sel)
        for ls, cs, sel in zip(batch.lengths, batch.correct, selected, strict=True)
    ]


def _laser_d(batch: Batch, state: dict) -> list[list[float]]:
    step = state["step"]
    if "targets" not in state or step - state["updated"] >= state.get("update_every", 5):
        state["targets"], state["updated"] = laser_d_targets(batch), step
    return [
        laser_rewards([float(x) for x in ls], [bool(c) for c in cs], state["targets"][b])
        for ls, cs, b in zip(batch.lengths, batch.correct, batch.buckets, strict=True)
    ]


SHAPERS: dict[str, Shaper] = {
    "plain 0/1": _plain,
    "kimi": _kimi,
    "grpo-lambda": _grpo_lambda,
    "laser-d": _laser_d,
}


def policy_loop(
    success: np.ndarray,
    shaper: Shaper,
    steps: int = 20,
    lr: float = 0.5,
    seed: int = 0,
    model: LengthModel = LengthModel(),
) -> list[dict[str, float]]:
    """Per step: mean length (all / easy p >= 2/3 / hard p < 1/3 prompts) and accuracy."""
    rng = np.random.default_rng(seed)
    mu = model.log_median(success).copy()
    easy, hard = success >= 2 / 3, success < 1 / 3
    state: dict = {}
    history = []
    for step in range(steps + 1):
        batch = sample_batch(rng, success, mu, model)
        history.append(
            {
                "step": step,
                "length": float(batch.lengths.mean()),
                "easy": float(batch.lengths[easy].mean()),
                "hard": float(batch.lengths[hard].mean()),
                "accuracy": float(batch.correct.mean()),
            }
        )
        if step == steps:
            break
        state["step"] = step
        rewards = shaper(batch, state)
        adv = np.array([group_advantages(r) for r in rewards])
        # log-length deviation from the policy's mean (minus the wrong-answer offset)
        offset = np.where(batch.correct, 0.0, np.log(model.wrong_factor))
        score = np.log(batch.lengths) - offset - mu[:, None]
        mu = mu + lr * (adv * score).mean(axis=1)
    return history


def print_loop(histories: dict[str, list[dict[str, float]]], steps: int) -> None:
    print(f"== 3. Toy policy improvement, {steps} steps (length never affects correctness) ==")
    head = f"{'reward':<13}" + "".join(f"{'L@' + str(s):>8}" for s in (0, steps // 2, steps))
    head += f"{'easy L':>9}{'hard L':>9}{'acc@0':>7}{'acc@end':>9}"
    print(head)
    print("-" * len(head))
    for name, h in histories.items():
        first, mid, last = h[0], h[steps // 2], h[-1]
        print(
            f"{name:<13}{first['length']:>8.0f}{mid['length']:>8.0f}{last['length']:>8.0f}"
            f"{last['easy']:>9.0f}{last['hard']:>9.0f}{first['accuracy']:>7.3f}"
            f"{last['accuracy']:>9.3f}"
        )
    print(
        "L@t: mean length at step t; easy/hard L: final mean length on prompts with p >= 2/3 "
        "/ p < 1/3\n(initially about "
        f"{h[0]['easy']:.0f} / {h[0]['hard']:.0f}); LASER-D targets recomputed every 5 "
        "steps; accuracy moves only by sampling noise.\n"
    )


# --------------------------------------------------------------------------- main


def main(argv: Sequence[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=512)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--fraction", type=float, default=0.2)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--no-loop", action="store_true")
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    success = make_prompts(rng, args.prompts)
    batch = sample_batch(rng, success)
    print(
        f"batch: {args.prompts} prompts x {GROUP} rollouts, p ~ Beta(2, 2), accuracy "
        f"{batch.correct.mean():.3f}, mean length {batch.lengths.mean():.0f} tokens, "
        f"seed {args.seed}\n"
    )

    analysis = grpo_lambda_analysis(batch, args.fraction)
    print_grpo_lambda(analysis, args.fraction)
    laser = laser_analysis(batch)
    print_laser(laser, FIXED_TARGET)

    histories = {}
    if not args.no_loop:
        histories = {
            name: policy_loop(success, shaper, args.steps, seed=args.seed + 1)
            for name, shaper in SHAPERS.items()
        }
        print_loop(histories, args.steps)

    rows = {label: s for label, _, s, _ in grpo_lambda_rows(analysis)}
    sel_corr = rows["penalised (top)"]["corr"]
    hard_corr = rows["plain hard"]["corr"] if "plain hard" in rows else float("nan")
    line = (
        f"grpo-lambda: {sum(analysis['selected']) / args.prompts:.0%} groups penalised, "
        f"length-advantage correlation penalised(easy) {sel_corr:.2f} vs hard {hard_corr:.2f}; "
        f"laser-d targets easy {laser['easy']['target_d']} / medium "
        f"{laser['medium']['target_d']} / hard {laser['hard']['target_d']} tokens, bonus share "
        f"easy {laser['easy']['bonus_d']:.0%} / hard {laser['hard']['bonus_d']:.0%} "
        f"(fixed {FIXED_TARGET}: {laser['easy']['bonus_fixed']:.0%} / "
        f"{laser['hard']['bonus_fixed']:.0%})"
    )
    if histories:
        line += "; after {} steps hard-prompt length kimi {:.0f} vs grpo-lambda {:.0f}".format(
            args.steps, histories["kimi"][-1]["hard"], histories["grpo-lambda"][-1]["hard"]
        )
    print(line)
    return {"analysis": analysis, "laser": laser, "histories": histories, "summary": line}


if __name__ == "__main__":
    main()
