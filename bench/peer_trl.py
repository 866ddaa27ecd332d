"""The peer: math-verify called sample by sample, the way TRL's `accuracy_reward` does.

Reproduces the calls of trl/rewards/accuracy_rewards.py (huggingface/trl): the gold is
parsed with math-verify's defaults; the completion with a LaTeX extraction that tries
`\\boxed{}` first, normalises units, needs an anchor, and takes the first match; then
`verify`. A gold that cannot be parsed gives `None`. Run in the main thread, so
math-verify's signal-based timeouts (10 s parsing, 5 s verifying) are on, as in TRL.

    python bench/peer_trl.py IN.jsonl OUT.jsonl
"""

from __future__ import annotations

import json
import sys

from latex2sympy2_extended import NormalizationConfig
from math_verify import LatexExtractionConfig, parse, verify


def accuracy(completion: str, solution: str) -> float | None:
    gold = parse(solution, parsing_timeout=10)
    if not gold:
        return None
    config = LatexExtractionConfig(
        normalization_config=NormalizationConfig(units=True),
        boxed_match_priority=0,
        try_extract_without_anchor=False,
    )
    answer = parse(
        completion, extraction_config=[config], extraction_mode="first_match", parsing_timeout=10
    )
    return float(verify(gold, answer, timeout_seconds=5))


def main(source: str, target: str) -> None:
    with open(source) as lines, open(target, "w") as out:
        for line in lines:
            record = json.loads(line)
            reward = accuracy(record["completion"], str(record["reference"]))
            out.write(json.dumps({"reward": reward}) + "\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
