"""The Python entry points: `load_reward` and `score`."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rewardsmith.core import combinators
from rewardsmith.core.pipeline import Reward
from rewardsmith.core.types import Sample, Score
from rewardsmith.custom import function
from rewardsmith.judge import pairwise as rubric_pairwise
from rewardsmith.judge import pointwise as judge_score
from rewardsmith.judge import reward_model
from rewardsmith.judge import verify as judge_verify
from rewardsmith.noise import components as noise
from rewardsmith.process import likelihood
from rewardsmith.process import reward as process
from rewardsmith.shaping import constrained, length, transforms
from rewardsmith.state import StateStore
from rewardsmith.verify import (
    answered,
    choice,
    code,
    format,
    ifeval,
    majority_vote,
    math,
    qa,
    self_certainty,
    sql,
    tool_call,
    trajectory,
)

# Importing a module registers its components under their config names.
BUILT_IN_MODULES = (
    combinators,
    answered,
    choice,
    code,
    format,
    function,
    judge_score,
    judge_verify,
    ifeval,
    likelihood,
    majority_vote,
    math,
    process,
    qa,
    reward_model,
    rubric_pairwise,
    self_certainty,
    sql,
    tool_call,
    trajectory,
    constrained,
    length,
    noise,
    transforms,
)


def default_workers() -> int:
    """Worker processes for CPU-heavy checks: the machine's cores, at most 8."""
    return max(1, min(8, os.cpu_count() or 1))


def load_reward(
    name_or_path: str | Path, workers: int | None = None, state: str | StateStore | None = None
) -> Reward:
    """A reusable reward: a built-in name (`math`, `choice`, `qa`, `format`) or a YAML file.

    >>> from rewardsmith import load_reward
    >>> with load_reward("qa") as reward:
    ...     [s.value for s in reward.score([{"completion": "Paris", "reference": "paris"}])]
    [1.0]
    """
    return Reward.load(name_or_path, workers=workers or default_workers(), state=state)


def score(
    samples: Sequence[Sample | Mapping[str, Any]],
    reward: str | Path | Reward = "math",
    workers: int | None = None,
) -> list[Score]:
    """Score samples once with a reward (name, YAML path or a loaded Reward).

    >>> from rewardsmith import score
    >>> [s.value for s in score([{"completion": "So \\\\boxed{12}.", "reference": "12"}])]
    [1.0]
    """
    if isinstance(reward, Reward):
        return reward.score(samples)
    with load_reward(reward, workers=workers) as loaded:
        return loaded.score(samples)
