"""Length-shaping rules: pure functions over one group (the rollouts of one prompt).

A list of lengths and a list of correctness flags in, one reward per rollout out, in the
same order; each function cites its paper. The components in `length.py` wrap them.
Length is `len(completion_ids)` when the sample has token ids, otherwise an
approximation of ceil(len(completion) / 4): about four characters per token, the usual
figure for English text with BPE tokenizers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rewardsmith.core.types import Sample

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
