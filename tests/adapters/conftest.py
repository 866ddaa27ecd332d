"""Shared by the adapter tests: the bundled GRPO batch, a hand-written Qwen chat
template, a math reward whose symbolic checks time out after one second, and calls from
a thread and from a running event loop at once."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rewardsmith.core.pipeline import Reward

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "examples" / "math_pipeline.yaml"
# The named parts of PIPELINE below its root, in tree order.
PIPELINE_COMPONENTS = (
    "correct_if_formatted",
    "answer_marked",
    "correct",
    "format_bonus",
    "think_boxed_format",
)
# The TRL reward functions of PIPELINE (`reward_funcs`): the total, then each part.
PIPELINE_NAMES = ("math_pipeline", *(f"math_pipeline/{part}" for part in PIPELINE_COMPONENTS))
# Never finishes in math-verify: the worker is killed at the timeout.
PATHOLOGICAL = "\\boxed{(x+1)^{999999} - (x+2)^{999999}}"


def qwen_prompt(question: str) -> str:
    """The prompt as Qwen2.5's chat template renders it, generation prompt included."""
    return (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. "
        "You are a helpful assistant.<|im_end|>\n"
        f"<|im_start|>user\n{question}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


@pytest.fixture(scope="session")
def rows() -> list[dict]:
    """examples/math_grpo.jsonl: 6 prompts x 8 rollouts, `label` = correct or not."""
    lines = (ROOT / "examples" / "math_grpo.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture(scope="session")
def slow_math():
    """A math reward with a 1 s limit per symbolic check, two workers."""
    with Reward.from_spec({"type": "math", "timeout": 1.0}, workers=2) as reward:
        yield reward


@pytest.fixture(scope="session")
def hung_batch() -> list[dict]:
    """One check that hangs, and correct answers that must keep their reward."""
    return [
        {"prompt": "Expand.", "completion": PATHOLOGICAL, "reference": "(x+1)^{999998}"},
        {"prompt": "Root of 9?", "completion": "\\boxed{\\sqrt{9}}", "reference": "3"},
        {"prompt": "Root of 9?", "completion": "So the answer is $3$.", "reference": "3"},
    ]


def from_a_thread_and_a_running_loop(
    in_thread: Callable[[], Any], in_loop: Callable[[], Any]
) -> tuple[Any, Any]:
    """`in_thread()` in a thread while `in_loop()` runs inside a running event loop (as a
    trainer may call a reward function), both within 20 s; their results."""
    from_thread: list = []
    thread = threading.Thread(target=lambda: from_thread.append(in_thread()))

    async def inside_a_running_loop():
        return in_loop()

    start = time.perf_counter()
    thread.start()
    from_loop = asyncio.run(inside_a_running_loop())
    thread.join(60)
    assert time.perf_counter() - start < 20
    return from_thread[0], from_loop
