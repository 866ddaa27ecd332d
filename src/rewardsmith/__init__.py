"""rewardsmith: rewards for RL post-training of language models.

Correct, fast, explainable and hard-to-hack rewards for GRPO-family trainers:
`load_reward` builds a reward from a built-in name or a YAML pipeline, `score` scores a
batch in one call, and `compute_advantages` turns grouped rewards into advantages.

Names are imported on first use, so that worker processes, which need only one module
of the package, start quickly.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rewardsmith.advantage.estimators import Advantages, compute_advantages
    from rewardsmith.api import load_reward, score
    from rewardsmith.core import (
        ConfigError,
        Group,
        InputLimits,
        InvalidSample,
        Reward,
        Sample,
        Score,
        Status,
    )

_HOME = {
    "Advantages": "rewardsmith.advantage.estimators",
    "compute_advantages": "rewardsmith.advantage.estimators",
    "load_reward": "rewardsmith.api",
    "score": "rewardsmith.api",
    "ConfigError": "rewardsmith.core",
    "Group": "rewardsmith.core",
    "InputLimits": "rewardsmith.core",
    "InvalidSample": "rewardsmith.core",
    "Reward": "rewardsmith.api",  # through api, so that the built-ins are registered
    "Sample": "rewardsmith.core",
    "Score": "rewardsmith.core",
    "Status": "rewardsmith.core",
}

__all__ = [
    "Advantages",
    "ConfigError",
    "Group",
    "InputLimits",
    "InvalidSample",
    "Reward",
    "Sample",
    "Score",
    "Status",
    "compute_advantages",
    "load_reward",
    "score",
]


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module 'rewardsmith' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value
