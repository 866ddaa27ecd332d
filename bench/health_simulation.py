"""A simulated training run drifting toward reward hacks, watched by the health monitor.

20 steps of 8 prompts x 8 rollouts, scored by the real `math` reward. The scripted
policy is right with probability 0.6 throughout; from step 5 its completions grow by
about 200 characters a step ("Let me double-check." padding, a length hack), and from
step 12 a growing share of them hedge ("The answer is 12 or 13.", a shotgun the reward
refuses). Each step's counts go through report/monitor.py exactly as `rewardsmith serve
--health` records them; the alert conditions of deploy/prometheus/rewardsmith-alerts.yml
are then read step by step (report/alerts.py: a step stands for 5 minutes, so `offset
30m` is 6 steps back and `for: 10m` two steps held). It prints each step's signals and
the step at which each alert first fires, and with `--report DIR` writes the steps'
scored files and their reward-health report there.

    python bench/health_simulation.py [--report DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

from rewardsmith import Reward
from rewardsmith.report import alerts, monitor
from rewardsmith.state.memory import MemoryStore

STEPS, PROMPTS, ROLLOUTS = 20, 8, 8


def rollout(rng: random.Random, answer: int, step: int) -> str:
    padding = " Let me double-check." * (max(0, step - 4) * 10 + rng.randint(0, 3))
    hedge_share = 0.0 if step < 12 else min(0.6, 0.08 * (step - 11))
    if rng.random() < hedge_share:
        return f"The answer is {answer} or {answer + 1}.{padding}"
    value = answer if rng.random() < 0.6 else answer + rng.randint(1, 5)
    return f"Working it out step by step.{padding} So the answer is \\boxed{{{value}}}."


def run(report_dir: Path | None) -> None:
    rng = random.Random(0)
    store = MemoryStore()
    history: list[dict[str, float]] = []
    fired: dict[str, int] = {}
    with Reward.from_spec({"type": "math"}) as reward:
        for step in range(1, STEPS + 1):
            samples = [
                {
                    "prompt": f"What is {7 + prompt} + 3?",
                    "reference": str(10 + prompt),
                    "completion": rollout(rng, 10 + prompt, step),
                    "group_id": f"p{prompt}",
                    "meta": {"step": step},
                }
                for prompt in range(PROMPTS)
                for _ in range(ROLLOUTS)
            ]
            scores = reward.score(samples)
            texts, groups = [s["completion"] for s in samples], [s["group_id"] for s in samples]
            counts = monitor.batch_counts(texts, groups, scores, "math")
            monitor.record(store, "math", step, counts)
            signals = monitor.signals(monitor.recorded(store, "math", step))
            history.append(signals)
            for name in alerts.firing(history):
                fired.setdefault(name, step)
            print(
                f"step {step:2d}: length {signals['mean_length']:6.0f}  hostile "
                f"{signals['hostile_rate']:.2f}  no-signal groups "
                f"{signals['zero_variance_share']:.2f}  errors {signals['error_rate']:.2f}"
            )
            if report_dir is not None:
                report_dir.mkdir(parents=True, exist_ok=True)
                rows = [{**sample, "reward": score.value, "components": score.components,
                         "status": str(score.status), "info": score.info}
                        for sample, score in zip(samples, scores, strict=True)]  # fmt: skip
                text = "\n".join(json.dumps(row) for row in rows) + "\n"
                (report_dir / f"step{step:02d}.jsonl").write_text(text)
    for name in ("CompletionLengthDrift", "HostileCompletionsRising", "WithinGroupVarianceCollapse",
                 "RewardErrorsSpike", "RewardComponentDominates"):  # fmt: skip
        print(f"{name}: {'fires at step ' + str(fired[name]) if name in fired else 'never fires'}")
    if report_dir is not None:
        files = sorted(str(path) for path in report_dir.glob("step*.jsonl"))
        cli = Path(sys.executable).with_name("rewardsmith")
        page = report_dir / "report.html"
        subprocess.run([str(cli), "report", *files, "-o", str(page)], check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--report", type=Path, default=None, help="write scored steps and a report here"
    )
    run(parser.parse_args().report)


if __name__ == "__main__":
    main()
