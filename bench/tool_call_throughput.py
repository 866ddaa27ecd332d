"""`tool_call` throughput on a 4,096-sample batch, against verl's ToolRL reward
(`verl.utils.reward_score.rlla.compute_score`, the code of arXiv 2504.13958) called
sample by sample, as verl's reward manager calls it, in the same run.

The batch is generated here: 256 requests over 8 tools (1-3 gold calls each, 1-4
arguments per call), 16 rollouts per request drawn from right calls, a wrong argument,
a missing call, the calls in another order, a shotgun of guesses, duplicated calls,
calls inside <think>, and broken JSON. Both score the same completions; agreement is
checked on the correctness part (R_correct) with rewardsmith set to the paper's S_max
and duplicates counted (`extra_calls: paper, duplicates: count`), and the disagreements
are counted per kind of rollout (and whether rewardsmith scored lower or higher).

    python bench/tool_call_throughput.py [--requests 256] [--rollouts 16]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import time
from typing import Any

from rewardsmith import Reward

TOOLS = [f"tool_{index}" for index in range(8)]
ARGUMENTS = ["city", "date", "count", "unit", "query", "limit", "lang", "id"]


def gold_calls(rng: random.Random) -> list[dict[str, Any]]:
    calls = []
    for name in rng.sample(TOOLS, rng.randint(1, 3)):
        keys = rng.sample(ARGUMENTS, rng.randint(1, 4))
        calls.append(
            {
                "name": name,
                "arguments": {k: rng.choice([rng.randint(0, 9), k + "-x"]) for k in keys},
            }
        )
    return calls


def rollout(rng: random.Random, gold: list[dict[str, Any]]) -> tuple[str, str]:
    kind = rng.choice(["right", "right", "wrong_value", "missing", "reordered", "shotgun",
                       "duplicated", "in_think", "broken"])  # fmt: skip
    calls = [dict(call, arguments=dict(call["arguments"])) for call in gold]
    if kind == "wrong_value":
        target = rng.choice(calls)["arguments"]
        target[rng.choice(list(target))] = "wrong"
    elif kind == "missing" and len(calls) > 1:
        calls.pop()
    elif kind == "reordered":
        rng.shuffle(calls)
    elif kind == "shotgun":
        guess = dict(calls[0], arguments={k: "guess" for k in calls[0]["arguments"]})
        calls.append(guess)
    elif kind == "duplicated":
        calls = calls + calls
    body = "\n".join(json.dumps(call) for call in calls)
    if kind == "broken":
        body = body[: len(body) // 2]
    block = f"<tool_call>\n{body}\n</tool_call>"
    if kind == "in_think":
        return kind, f"<think>{block}</think>\n<response>Done.</response>"
    return kind, f"<think>Calling the tools.</think>\n{block}"


def batch(requests: int, rollouts: int, seed: int = 0) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    samples = []
    for request in range(requests):
        gold = gold_calls(rng)
        for _ in range(rollouts):
            kind, completion = rollout(rng, gold)
            samples.append({
                "completion": completion,
                "kind": kind,
                "reference": {"calls": gold},
                "group_id": f"r{request}",
            })  # fmt: skip
    return samples


def toolrl_ground_truth(gold: list[dict[str, Any]]) -> str:
    """The gold as ToolRL's data writes it: one call per line, `parameters` for the
    arguments, inside <tool_call>."""
    lines = [json.dumps({"name": c["name"], "parameters": c["arguments"]}) for c in gold]
    return "<tool_call>\n" + "\n".join(lines) + "\n</tool_call>"


def scored_by_verl(samples: list[dict[str, Any]]) -> list[float]:
    """verl's ToolRL reward, sample by sample (its prints sent to a buffer); the
    correctness part, in [-3, 3]."""
    from verl.utils.reward_score import rlla

    extra_info = {"experiment_name": "qwen"}  # its reader cuts the Qwen chat template
    results = []
    with contextlib.redirect_stdout(io.StringIO()):
        for sample in samples:
            text = "<|im_start|>assistant\n" + _as_toolrl(sample["completion"]) + "<|im_end|>"
            truth = toolrl_ground_truth(sample["reference"]["calls"])
            result = rlla.compute_score("toolrl", text, truth, extra_info)
            results.append(result["accuracy_reward"])
    return results


def _as_toolrl(completion: str) -> str:
    """ToolRL's data names the arguments `parameters`."""
    return completion.replace('"arguments":', '"parameters":')


def scored_by_rewardsmith(samples: list[dict[str, Any]], spec: dict[str, Any]) -> list[float]:
    with Reward.from_spec(spec) as reward:
        return [score.value for score in reward.score(samples)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=256)
    parser.add_argument("--rollouts", type=int, default=16)
    args = parser.parse_args()
    samples = batch(args.requests, args.rollouts)
    paper = {"type": "tool_call", "scale": "toolrl", "extra_calls": "paper", "duplicates": "count"}
    scored_by_rewardsmith(samples[:64], {"type": "tool_call"})  # imports and caches warm
    started = time.perf_counter()
    ours = scored_by_rewardsmith(samples, {"type": "tool_call"})
    ours_seconds = time.perf_counter() - started
    started = time.perf_counter()
    ours_paper = scored_by_rewardsmith(samples, paper)
    paper_seconds = time.perf_counter() - started
    started = time.perf_counter()
    theirs = scored_by_verl(samples)
    theirs_seconds = time.perf_counter() - started
    n = len(samples)
    # rewardsmith's toolrl scale adds R_format (1 for well-formed calls); verl's
    # correctness part is compared with R_correct alone
    ours_correct = [value - 1 if value > -3 else value for value in ours_paper]
    pairs = list(zip(ours_correct, theirs, strict=True))
    agree = sum(abs(a - b) < 1e-6 for a, b in pairs)
    differ: dict[str, list[int]] = {}
    for sample, (a, b) in zip(samples, pairs, strict=True):
        if abs(a - b) >= 1e-6:
            differ.setdefault(sample["kind"], [0, 0])[a > b] += 1
    print(f"{n} samples ({args.requests} requests x {args.rollouts} rollouts)")
    print(f"{'scorer':<46}{'seconds':>9}{'samples/s':>12}")
    for name, seconds in (
        ("rewardsmith tool_call (defaults)", ours_seconds),
        ("rewardsmith tool_call (paper's S_max, toolrl)", paper_seconds),
        ("verl rlla.compute_score, sample by sample", theirs_seconds),
    ):
        print(f"{name:<46}{seconds:>9.2f}{n / seconds:>12.0f}")
    print(f"speed ratio (verl time / rewardsmith time): {theirs_seconds / ours_seconds:.1f}x")
    print(f"R_correct agreement with verl: {agree}/{n}; where they differ (lower, higher here):")
    for kind, (lower, higher) in sorted(differ.items()):
        print(f"  {kind:<12} {lower:>5} {higher:>5}")
    mean = sum(ours) / n
    print(f"mean reward (defaults): {mean:.3f}")


if __name__ == "__main__":
    main()
