"""`ifeval` throughput on a 4,096-sample batch (strict and loose readings).

The batch is built here from the compliant and non-compliant responses of
tests/verify/test_ifeval.py: each sample is a row of 1-3 instruction kinds (of all 25)
and a response made of those kinds' responses, compliant or not, padded to chat length
(~1,500 characters) with neutral sentences. No peer runs here: IFEval's reference code
(and lm-eval's copy of it) counts sentences with NLTK's punkt model, which it downloads
at run time, and nothing is downloaded here; the figure is rewardsmith's own.

    python bench/ifeval_throughput.py [--samples 4096]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rewardsmith import Reward
from tests.verify.test_ifeval import CASES

FILLER = "The harbour was quiet in the morning and the boats rested by the pier. "


def batch(size: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    kinds = sorted(CASES)
    samples = []
    for _ in range(size):
        chosen = rng.sample(kinds, rng.randint(1, 3))
        compliant = rng.random() < 0.5
        parts = [CASES[kind][1 if compliant else 2] for kind in chosen]
        body = FILLER * rng.randint(10, 30)
        reference = {
            "instruction_id_list": chosen,
            "kwargs": [CASES[kind][0] for kind in chosen],
        }
        samples.append({"completion": body + "\n\n".join(parts), "reference": reference})
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=4096)
    args = parser.parse_args()
    samples = batch(args.samples)
    chars = sum(len(sample["completion"]) for sample in samples) // len(samples)
    print(f"{len(samples)} samples, 1-3 instructions each, ~{chars} characters")
    print(f"{'reading':<10}{'seconds':>9}{'samples/s':>12}{'mean reward':>13}")
    for variant in ("strict", "loose"):
        with Reward.from_spec({"type": "ifeval", "variant": variant}) as reward:
            reward.score(samples[:32])
            started = time.perf_counter()
            scores = reward.score(samples)
            seconds = time.perf_counter() - started
        mean = sum(score.value for score in scores) / len(scores)
        print(f"{variant:<10}{seconds:>9.2f}{len(samples) / seconds:>12.0f}{mean:>13.3f}")


if __name__ == "__main__":
    main()
