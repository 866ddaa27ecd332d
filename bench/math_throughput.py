"""Math reward throughput: `rewardsmith score --reward math` against TRL-style math-verify.

Builds a GRPO-shaped batch (default 256 prompts x 16 long chain-of-thought completions,
see mathgen.py), then times both scorers in the same run as whole processes (interpreter
start-up and imports included) and prints the times, the speed ratio, and each one's
agreement with the ground-truth labels, overall, on hostile completions, and per answer
style where they differ.

    python bench/math_throughput.py [--prompts 256] [--group-size 16] [--workers 2]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from mathgen import make_batch, write_jsonl

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def verdicts(path: Path) -> list[int]:
    """1 where a scorer gave reward >= 0.5; null (unscored) counts as 0."""
    rewards = [json.loads(line)["reward"] for line in path.read_text().splitlines()]
    return [int(r is not None and r >= 0.5) for r in rewards]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--group-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    records = make_batch(args.prompts, args.group_size, seed=args.seed)
    batch = OUT / "math_batch.jsonl"
    write_jsonl(records, batch)
    ours_out, peer_out = OUT / "rewardsmith.jsonl", OUT / "peer.jsonl"
    cli = Path(sys.executable).with_name("rewardsmith")
    ours = timed(
        [
            str(cli),
            "score",
            str(batch),
            "--reward",
            "math",
            "-o",
            str(ours_out),
            "--workers",
            str(args.workers),
        ]
    )
    peer = timed([sys.executable, str(HERE / "peer_trl.py"), str(batch), str(peer_out)])

    labels = [r["label"] for r in records]
    kinds = [r["kind"] for r in records]
    results = {"rewardsmith": verdicts(ours_out), "math-verify (TRL way)": verdicts(peer_out)}
    seconds = {"rewardsmith": ours, "math-verify (TRL way)": peer}
    hostile = [i for i, kind in enumerate(kinds) if kind.startswith("hostile")]
    n = len(records)
    print(
        f"{n} samples ({args.prompts} prompts x {args.group_size}), "
        f"mean completion {sum(len(r['completion']) for r in records) / n:.0f} chars, "
        f"{sum(labels) / n:.1%} correct"
    )
    print(f"{'scorer':<24}{'seconds':>9}{'samples/s':>11}{'agreement':>11}{'hostile FP':>12}")
    for name, verdict in results.items():
        agree = sum(v == y for v, y in zip(verdict, labels, strict=True)) / n
        false_positives = sum(verdict[i] for i in hostile)
        print(
            f"{name:<24}{seconds[name]:>9.2f}{n / seconds[name]:>11.1f}{agree:>11.2%}"
            f"{false_positives:>7}/{len(hostile)}"
        )
    print(f"speed ratio (math-verify time / rewardsmith time): {peer / ours:.1f}x")

    print("\nagreement by answer style where the two differ:")
    totals = Counter(kinds)
    right = {name: Counter() for name in results}
    for name, verdict in results.items():
        for v, y, kind in zip(verdict, labels, kinds, strict=True):
            right[name][kind] += v == y
    for kind in sorted(totals):
        ours_rate, peer_rate = (right[name][kind] / totals[kind] for name in results)
        if ours_rate != peer_rate:
            print(
                f"  {kind:<26} n={totals[kind]:<5} rewardsmith {ours_rate:7.1%}   "
                f"math-verify {peer_rate:7.1%}"
            )


if __name__ == "__main__":
    main()
