"""The core model: samples, groups, scores, the component protocol, configs and pipelines."""

from rewardsmith.core.component import Component, InvalidSample, SampleComponent
from rewardsmith.core.config import REGISTRY, BuildContext, ConfigError, register
from rewardsmith.core.pipeline import InputLimits, Reward
from rewardsmith.core.types import DenseReward, Group, Sample, Score, Status

__all__ = [
    "REGISTRY",
    "BuildContext",
    "Component",
    "ConfigError",
    "DenseReward",
    "Group",
    "InputLimits",
    "InvalidSample",
    "Reward",
    "Sample",
    "SampleComponent",
    "Score",
    "Status",
    "register",
]
