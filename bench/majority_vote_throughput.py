"""`majority_vote` on a 4,096-rollout batch against two ways a TTRL reward is written by
hand, in the same run: a string majority (a Counter over the answers math-verify
extracts, as many TTRL-style reward functions count votes) and an equivalence-aware
majority built from math-verify itself, every rollout's answer compared with every other
one of its group (`math_verify.verify`, sample by sample).

The batch is generated here: 256 prompts x 16 rollouts; each prompt has a gold answer
written in several equivalent forms (an integer, a fraction as \\frac, a/b or a decimal,
with or without \\boxed or "The answer is"), each rollout is right with probability
0.5, else one of three wrong values (in their forms too), or a hedge with no answer. It
prints throughput, and of the groups where a scorer pays anyone, in how many every paid
rollout is right (the gold is used only for this check; a wrong plurality, which any
label-free reward pays, counts against all three alike).

    python bench/majority_vote_throughput.py [--prompts 256] [--rollouts 16]
"""

from __future__ import annotations

import argparse
import random
import time
from collections import Counter
from fractions import Fraction
from typing import Any

from math_verify import parse, verify

from rewardsmith import Reward


def forms(value: Fraction) -> list[str]:
    if value.denominator == 1:
        plain = [str(value.numerator), f"{value.numerator}.0"]
    else:
        decimal = f"{float(value):.6g}"
        plain = [f"\\frac{{{value.numerator}}}{{{value.denominator}}}",
                 f"{value.numerator}/{value.denominator}", decimal]  # fmt: skip
    return plain


def written(answer: str, rng: random.Random) -> str:
    return rng.choice(
        [f"So \\boxed{{{answer}}}.", f"The answer is ${answer}$.", f"<answer>{answer}</answer>"]
    )


def batch(
    prompts: int, rollouts: int, seed: int = 0
) -> tuple[list[dict[str, Any]], list[Fraction]]:
    rng = random.Random(seed)
    samples, golds = [], []
    for prompt in range(prompts):
        gold = Fraction(rng.randint(1, 40), rng.choice([1, 1, 2, 3, 4, 5]))
        wrong = [gold + Fraction(rng.randint(1, 9), rng.choice([1, 2])) for _ in range(3)]
        golds.append(gold)
        for _ in range(rollouts):
            draw = rng.random()
            if draw < 0.5:
                text = written(rng.choice(forms(gold)), rng)
            elif draw < 0.9:
                text = written(rng.choice(forms(rng.choice(wrong))), rng)
            else:
                text = f"It is {forms(gold)[0]} or {forms(wrong[0])[0]}."
            samples.append({"completion": text, "group_id": f"p{prompt}"})
    return samples, golds


def groups_of(samples: list[dict[str, Any]]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {}
    for index, sample in enumerate(samples):
        groups.setdefault(sample["group_id"], []).append(index)
    return groups


def string_majority(samples: list[dict[str, Any]]) -> list[float]:
    """1 for the most common extracted answer string of the group (math-verify parse)."""
    answers = []
    for sample in samples:
        parsed = parse(sample["completion"])
        answers.append(str(parsed[-1]) if parsed else None)
    rewards = [0.0] * len(samples)
    for members in groups_of(samples).values():
        votes = Counter(answers[i] for i in members if answers[i] is not None)
        if votes:
            top, _ = votes.most_common(1)[0]
            for i in members:
                rewards[i] = float(answers[i] == top)
    return rewards


def equivalence_majority(samples: list[dict[str, Any]]) -> list[float]:
    """1 for the rollouts equivalent to the most other rollouts' answers of the group:
    math-verify's `verify` on every pair of the group, one call per pair."""
    parsed = [parse(sample["completion"]) for sample in samples]
    rewards = [0.0] * len(samples)
    for members in groups_of(samples).values():
        answered = [i for i in members if parsed[i]]
        support = {i: sum(verify(parsed[j], parsed[i]) for j in answered) for i in answered}
        if support:
            best = max(support.values())
            for i in answered:
                rewards[i] = float(support[i] == best)
    return rewards


def majority_is_gold(
    samples: list[dict[str, Any]], rewards: list[float], golds: list[Fraction]
) -> tuple[int, int]:
    """(groups whose paid rollouts are all right, groups where the gold is the plurality
    and anything is paid)."""
    right = counted = 0
    for (_, members), gold in zip(groups_of(samples).items(), golds, strict=True):
        paid = [i for i in members if rewards[i] == 1.0]
        if not paid:
            continue
        counted += 1
        right += all(any(f in samples[i]["completion"] for f in forms(gold)) for i in paid)
    return right, counted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--rollouts", type=int, default=16)
    args = parser.parse_args()
    samples, golds = batch(args.prompts, args.rollouts)
    n = len(samples)
    with Reward.from_spec({"type": "majority_vote", "min_share": 0.0}) as reward:
        reward.score(samples[:64])  # workers started
        started = time.perf_counter()
        ours = [score.value for score in reward.score(samples)]
        ours_seconds = time.perf_counter() - started
    started = time.perf_counter()
    by_string = string_majority(samples)
    string_seconds = time.perf_counter() - started
    started = time.perf_counter()
    by_verify = equivalence_majority(samples)
    verify_seconds = time.perf_counter() - started
    print(f"{n} rollouts ({args.prompts} prompts x {args.rollouts}), min_share 0 (TTRL's rule)")
    print(f"{'scorer':<48}{'seconds':>9}{'rollouts/s':>12}{'majority right':>16}")
    for name, rewards, seconds in (
        ("rewardsmith majority_vote", ours, ours_seconds),
        ("string majority over math-verify's parses", by_string, string_seconds),
        ("math-verify verify() on every pair", by_verify, verify_seconds),
    ):
        right, counted = majority_is_gold(samples, rewards, golds)
        print(f"{name:<48}{seconds:>9.2f}{n / seconds:>12.0f}{f'{right}/{counted}':>16}")
    print(
        f"speed ratio (pairwise math-verify time / rewardsmith time): "
        f"{verify_seconds / ours_seconds:.1f}x"
    )


if __name__ == "__main__":
    main()
