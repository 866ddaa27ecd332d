"""rewardsmith: rewards for RL post-training of language models.

Correct, fast, explainable and hard-to-hack rewards for GRPO-family trainers:
`load_reward` builds a reward from a built-in name or a YAML pipeline, `score` scores a
batch in one call, and `compute_advantages` turns grouped rewards into advantages.
"""

from rewardsmith.advantage.estimators import Advantages, compute_advantages
from rewardsmith.api import load_reward, score
from rewardsmith.core import ConfigError, Group, Reward, Sample, Score, Status

__all__ = [
    "Advantages",
    "ConfigError",
    "Group",
    "Reward",
    "Sample",
    "Score",
    "Status",
    "compute_advantages",
    "load_reward",
    "score",
]
