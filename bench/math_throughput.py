"""Math reward throughput: `rewardsmith score --reward math` against TRL-style math-verify.

Builds a GRPO-shaped batch with mathgen.py (default 256 prompts x 16 long chain-of-thought
completions) in bench/out/, then times both scorers in the same run as whole processes
(interpreter start-up and imports included) and prints the times, the speed ratio, and
each one's agreement with the ground-truth labels: overall, on hostile completions, and
per answer style where the two differ. A reward >= 0.5 counts as correct, null as wrong.

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


def timed(name: str, command: list[str]) -> float:
    """Wall-clock seconds of one whole process; exits with its stderr if it fails."""
    start = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{name} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def verdicts(path: Path) -> tuple[list[int], int]:
    """1 where the reward is >= 0.5, else 0 (null included); and the number of nulls."""
    rewards = [json.loads(line)["reward"] for line in path.read_text().splitlines()]
    return [int(r is not None and r >= 0.5) for r in rewards], rewards.count(None)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--group-size", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    records = make_batch(args.prompts, args.group_size, seed=args.seed)
    batch, ours_out, peer_out = (
        OUT / f"{name}.jsonl" for name in ("math_batch", "rewardsmith", "peer")
    )
    write_jsonl(records, batch)
    cli = Path(sys.executable).with_name("rewardsmith")
    ours_cmd = [str(cli), "score", str(batch), "--reward", "math", "-o", str(ours_out)]
    seconds = {
        "rewardsmith": timed("rewardsmith", [*ours_cmd, "--workers", str(args.workers)]),
        "math-verify, TRL's way": timed(
            "peer", [sys.executable, str(HERE / "peer_trl.py"), str(batch), str(peer_out)]
        ),
    }
    results = dict(zip(seconds, (verdicts(ours_out), verdicts(peer_out)), strict=True))

    n = len(records)
    labels = [r["label"] for r in records]
    kinds = [r["kind"] for r in records]
    hostile = [i for i, kind in enumerate(kinds) if kind.startswith("hostile:")]
    mean_chars = sum(len(r["completion"]) for r in records) / n
    print(
        f"{n} samples ({args.prompts} prompts x {args.group_size}), mean completion "
        f"{mean_chars:.0f} chars, {sum(labels) / n:.1%} correct, {len(hostile)} hostile"
    )
    header = f"{'scorer':<24}{'seconds':>9}{'samples/s':>11}{'agreement':>11}"
    print(f"{header}{'hostile FP':>12}{'nulls':>7}")
    for name, (verdict, nulls) in results.items():
        agree = sum(v == y for v, y in zip(verdict, labels, strict=True)) / n
        false_positives = f"{sum(verdict[i] for i in hostile)}/{len(hostile)}"
        print(
            f"{name:<24}{seconds[name]:>9.2f}{n / seconds[name]:>11.1f}{agree:>11.2%}"
            f"{false_positives:>12}{nulls:>7}"
        )
    ours, peer = seconds.values()
    print(f"speed ratio (peer time / rewardsmith time): {peer / ours:.1f}x")

    totals = Counter(kinds)
    right = {name: Counter() for name in results}
    for name, (verdict, _) in results.items():
        for v, y, kind in zip(verdict, labels, kinds, strict=True):
            right[name][kind] += v == y
    differing = [k for k in sorted(totals) if len({right[name][k] for name in results}) > 1]
    if differing:
        print("\nagreement with labels by answer style, where the two differ:")
        print(f"  {'kind':<28}{'n':>6}" + "".join(f"{name:>24}" for name in results))
        for kind in differing:
            rates = "".join(f"{right[name][kind] / totals[kind]:>24.1%}" for name in results)
            print(f"  {kind:<28}{totals[kind]:>6}{rates}")


if __name__ == "__main__":
    main()
