"""Group advantages for GRPO-family trainers."""

from rewardsmith.advantage.estimators import METHODS, Advantages, compute_advantages

__all__ = ["METHODS", "Advantages", "compute_advantages"]
