"""The Ray backend against the local backend on the same math batch, same run.

Builds `--prompts` GRPO groups of `--group-size` long chain-of-thought completions with
mathgen.py, then scores all of them three times, each with cold caches:

1. local: `Reward.score_groups` in this process with `--cpus` check processes;
2. Ray: `RayScorer` on a local cluster with `--cpus` workers of one check process each;
3. Ray with a fault: as 2, with fresh workers, one of which is killed (SIGKILL) halfway
   through; its tasks must be retried elsewhere and the rewards must not change.

Prints samples/s for each, the ratio Ray / local, and whether the Scores are identical
to the local ones sample by sample: rewards (value, status, components, dense), and
whole Scores with `info`.

    python bench/ray_throughput.py [--prompts 256] [--group-size 16] [--cpus 2]
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import threading
import time
from collections import Counter
from pathlib import Path

import ray
from mathgen import make_batch

from rewardsmith.api import load_reward
from rewardsmith.core.pipeline import GroupedBatch
from rewardsmith.core.types import Score
from rewardsmith.dist import RayScorer


def timed(score, groups) -> tuple[list[list[Score]], float]:
    start = time.perf_counter()
    scores = score(groups)
    return scores, time.perf_counter() - start


def kill_one_worker_after(scorer: RayScorer, delay: float) -> threading.Thread:
    def kill() -> None:
        time.sleep(delay)
        os.kill(scorer.worker_pids()[0], signal.SIGKILL)

    thread = threading.Thread(target=kill, daemon=True)
    thread.start()
    return thread


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=256)
    parser.add_argument("--group-size", type=int, default=16)
    parser.add_argument("--cpus", type=int, default=2)
    args = parser.parse_args()
    groups = GroupedBatch.of(make_batch(args.prompts, args.group_size)).groups
    n = sum(len(g) for g in groups)
    state = "sqlite:///" + str(Path(__file__).resolve().parent / "out" / "ray_state.sqlite")

    with load_reward("math", workers=args.cpus, state=state) as reward:
        reward.warm_up()
        local, local_seconds = timed(reward.score_groups, groups)

    quiet = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR}
    ray.init(num_cpus=args.cpus, **quiet)
    try:
        with RayScorer("math", actors=args.cpus, state=state) as scorer:
            spread, ray_seconds = timed(scorer.score_groups, groups)
        with RayScorer("math", actors=args.cpus, state=state) as scorer:
            killer = kill_one_worker_after(scorer, ray_seconds / 2)
            faulted, fault_seconds = timed(scorer.score_groups, groups)
            killer.join()
            stats = scorer.stats
    finally:
        ray.shutdown()

    def same(scores: list[list[Score]]) -> str:
        """Rewards (value, status, components, dense) and whole Scores equal to local's.

        `info` can differ where it tells history rather than the verdict: a worker that
        has seen an answer before says `path: cache` where another says `symbolic`."""
        pairs = [
            (a, b) for x, y in zip(scores, local, strict=True) for a, b in zip(x, y, strict=True)
        ]
        rewards = sum(
            (a.value, a.status, a.components, a.dense) == (b.value, b.status, b.components, b.dense)
            for a, b in pairs
        )
        paths = Counter(
            f"{a.info['math'].get('path')} vs {b.info['math'].get('path')}"
            for a, b in pairs
            if a.info != b.info and "math" in a.info and "math" in b.info
        )
        whole = sum(a == b for a, b in pairs)
        detail = f" (info.path {dict(paths)})" if paths else ""
        return f"rewards identical {rewards}/{n}, whole Scores {whole}/{n}{detail}"

    print(f"{len(groups)} groups, {n} samples, {args.cpus} CPUs")
    print(f"local  {local_seconds:6.2f} s  {n / local_seconds:7.0f} samples/s")
    print(
        f"ray    {ray_seconds:6.2f} s  {n / ray_seconds:7.0f} samples/s  "
        f"{local_seconds / ray_seconds:.2f}x local  {same(spread)}"
    )
    print(
        f"ray, one worker killed halfway  {fault_seconds:6.2f} s  {n / fault_seconds:7.0f} "
        f"samples/s  workers lost {stats.workers_lost}, tasks retried {stats.retries}, "
        f"groups failed {stats.groups_failed}  {same(faulted)}"
    )


if __name__ == "__main__":
    main()
