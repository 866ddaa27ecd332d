"""Which training-state store `rewardsmith score` uses, and how the summary names it.

A run is reproducible by default: without `--state`, the reward file's `state` or
$REWARDSMITH_STATE, adaptive rewards (difficulty weights, length_ceeh, constrained
multipliers, noise estimates) start from a fresh store that is dropped after the run
(memory://; with Ray, which needs a store its workers share, a temporary SQLite file).
Scoring a file twice gives the same rewards. To carry state across runs, name a store.
"""

from __future__ import annotations

import os
from pathlib import Path

from rewardsmith.core.pipeline import RewardDefinition
from rewardsmith.state import ENV_VAR
from rewardsmith.state.store import redacted


def state_url(option: str | None, reward: str, backend: str, scratch: Path) -> tuple[str, bool]:
    """(the store's URL, whether it is fresh for this run); ConfigError for a bad reward."""
    named = option or RewardDefinition.resolve(reward).state or os.environ.get(ENV_VAR)
    if named:
        return named, False
    if backend == "ray":
        return f"sqlite:///{scratch / 'state.sqlite'}", True
    return "memory://", True


def describe_store(url: str, fresh: bool) -> str:
    """The store as the summary names it (credentials hidden)."""
    note = " (fresh for this run and then dropped; --state keeps it)" if fresh else ""
    return redacted(url) + note
