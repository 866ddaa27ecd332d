"""Outcome verifiers: each module registers its component on import."""

from rewardsmith.verify import choice, format, math, qa

__all__ = ["choice", "format", "math", "qa"]
