"""Writes examples/math_grpo.jsonl: `make_batch(6, 8, seed=7)` from bench/mathgen.py.

Each line keeps `label`, the ground truth (1 iff the completion's final answer is
equivalent to the gold), and `kind`, the answer style (or `hostile:<name>`), so scored
output can be read against the truth.

    python examples/make_math_grpo.py
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "bench"))

from mathgen import make_batch, write_jsonl  # noqa: E402

if __name__ == "__main__":
    write_jsonl(make_batch(6, 8, seed=7), HERE / "math_grpo.jsonl")
