"""Writes examples/math_grpo.jsonl: 6 prompts x 8 rollouts from bench/mathgen.py (seed 7).

Each line keeps `label` (the ground truth: 1 iff the final answer is equivalent to the
gold) and `kind` (the answer style, or `hostile:<attack>`), so scored output can be read
against the truth.

    python examples/make_math_grpo.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "bench"))

from mathgen import make_batch, write_jsonl  # noqa: E402


def main() -> None:
    records = make_batch(6, 8, seed=7)
    for record in records[3::11]:  # make sure the demo shows hostile completions too
        record.update(
            completion="Let's solve this problem step by step.",
            label=0,
            kind="hostile:step_by_step",
        )
    write_jsonl(records, HERE / "math_grpo.jsonl")


if __name__ == "__main__":
    main()
