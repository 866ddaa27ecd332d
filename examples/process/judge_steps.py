"""A generative step judge for `process`, offline: starts the scripted OpenAI-compatible
server that the tests use (rewardsmith.judge.scripted) as the judge, scripted to call a
step incorrect when its arithmetic is wrong, and scores two solutions with PURE's
min-form credit and the outcome checked by `math`.

    python examples/process/judge_steps.py
"""

from __future__ import annotations

import operator
import re
import tempfile
from pathlib import Path

from rewardsmith import Reward
from rewardsmith.judge.scripted import OpenAIServer, Reply, last_user

OPERATIONS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def arithmetic_judge(body: dict) -> Reply:
    """'correct' for a step whose every `a op b = c` holds, else 'incorrect'."""
    steps = re.findall(r"^Step (\d+): (.*)$", last_user(body).split("Solution steps:\n")[1], re.M)
    lines = []
    for number, text in steps:
        claims = re.findall(r"(\d+) ([-+*/]) (\d+) = (\d+)", text)
        ok = all(OPERATIONS[op](int(a), int(b)) == int(c) for a, op, b, c in claims)
        lines.append(f"Step {number}: {'correct' if ok else 'incorrect'}")
    return Reply.answer("\n".join(lines))


def main() -> None:
    server = OpenAIServer().start()
    server.behaviour = arithmetic_judge
    solutions = {
        "sound": "Step 1: 40 - 4 = 36.\nStep 2: 36 / 3 = 12.\nStep 3: So x = \\boxed{12}.",
        "lucky": "Step 1: 40 - 4 = 34.\nStep 2: 34 / 3 = 12.\nStep 3: So x = \\boxed{12}.",
    }
    with tempfile.TemporaryDirectory() as root:
        judge = {"base_url": server.base_url, "model": "step-judge", "api_key": "k",
                 "cache_path": str(Path(root) / "cache.sqlite")}  # fmt: skip
        spec = {"type": "process", "split": "step_marker", "source": "judge", "judge": judge,
                "credit": "min_form", "outcome": {"type": "math"}}  # fmt: skip
        samples = [
            {"prompt": "Solve 3x + 4 = 40.", "completion": text, "reference": "12"}
            for text in solutions.values()
        ]
        with Reward.from_spec(spec) as reward:
            scores = reward.score(samples)
    server.stop()
    for name, score in zip(solutions, scores, strict=True):
        steps = score.info["process"]["step_scores"]
        print(f"{name}: outcome {score.components['math']}, step verdicts {steps}, "
              f"return {score.value}")  # fmt: skip


if __name__ == "__main__":
    main()
