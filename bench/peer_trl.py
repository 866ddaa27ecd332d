"""The peer: math-verify, sample by sample, called the way TRL's `accuracy_reward` calls it.

Source: trl/rewards/accuracy_rewards.py in huggingface/trl
(https://github.com/huggingface/trl/blob/main/trl/rewards/accuracy_rewards.py).
The gold is parsed with math-verify's default extraction; the completion with a single
LaTeX extraction (`\\boxed{}` tried first, units normalised, an anchor required) in
"first_match" mode; then `verify`. A gold that does not parse gives `None` (TRL skips the
sample). This runs in the main thread, so the timeouts are on, as in TRL: 10 s per parse,
5 s per verify.

    python bench/peer_trl.py IN.jsonl OUT.jsonl
"""

from __future__ import annotations

import json
import sys

from latex2sympy2_extended import NormalizationConfig
from math_verify import LatexExtractionConfig, parse, verify

PARSING_TIMEOUT = 10
VERIFY_TIMEOUT = 5


def accuracy_reward(completion: str, solution: str) -> float | None:
    gold = parse(solution, parsing_timeout=PARSING_TIMEOUT)
    if len(gold) == 0:
        return None
    answer = parse(
        completion,
        extraction_config=[
            LatexExtractionConfig(
                normalization_config=NormalizationConfig(units=True),
                boxed_match_priority=0,
                try_extract_without_anchor=False,
            )
        ],
        extraction_mode="first_match",
        parsing_timeout=PARSING_TIMEOUT,
    )
    return float(verify(gold, answer, timeout_seconds=VERIFY_TIMEOUT))


def main(source: str, target: str) -> None:
    with open(source) as lines, open(target, "w") as out:
        for line in lines:
            record = json.loads(line)
            reward = accuracy_reward(record["completion"], str(record["reference"]))
            out.write(json.dumps({"reward": reward}) + "\n")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python bench/peer_trl.py IN.jsonl OUT.jsonl")
    main(sys.argv[1], sys.argv[2])
