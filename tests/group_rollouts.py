"""One prompt's eight rollouts and the rewards that need the whole group, shared by the
gathering tests (in-process and over HTTP)."""

from __future__ import annotations

from typing import Any

# GRPO-lambda length shaping over math correctness: each reward depends on the group's
# lengths and correct ratio, so a group of one gets different rewards than the group.
GROUP_RELATIVE: dict[str, Any] = {
    "type": "length_grpo_lambda",
    "name": "shaped",
    "correct": {"type": "math", "name": "correct"},
}
# Eight rollouts of "What is 2 + 2?": different lengths, half correct.
COMPLETIONS = [f"{'Let me think. ' * (3 * i)}\\boxed{{{4 if i % 2 else 5}}}" for i in range(8)]


def ramped(of: dict[str, Any]) -> dict[str, Any]:
    """`of` times a weight ramping from 1 to 2 over the first 10 training steps."""
    return {
        "type": "schedule",
        "name": "ramp",
        "kind": "linear",
        "start": 1.0,
        "end": 2.0,
        "steps": 10,
        "of": of,
    }
