"""Rewards built in Python for the Ray tests, sent to the workers by value.

`scripted_reward` scores each sample with `meta.value`, after doing what the rest of
its meta says: `mark` (write this process's id to that file, so the test can kill the
worker scoring it), `sleep` (seconds), `exit` (end the worker process at once: a group
that kills every worker it meets), `hang` (sleep for an hour).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from rewardsmith.core.component import Params, SampleComponent
from rewardsmith.core.config import BuildContext
from rewardsmith.core.pipeline import Reward
from rewardsmith.core.types import Sample, Score

FALLBACK = -1.0
DRIVER_PID = os.getpid()  # pickled by value: the workers see the test process's id


class Scripted(SampleComponent):
    def score_sample(self, sample: Sample) -> Score:
        meta = sample.meta
        if "mark" in meta:
            Path(meta["mark"]).write_text(str(os.getpid()))
        if meta.get("exit"):
            os._exit(13)
        if meta.get("hang"):
            time.sleep(3600)
        time.sleep(meta.get("sleep", 0.0))
        return Score(float(meta["value"]))


def scripted_reward() -> Reward:
    return Reward(Scripted(Params(), BuildContext(), "scripted", FALLBACK, "reward"))


def reward_that_only_the_driver_can_build() -> Reward:
    if os.getpid() != DRIVER_PID:
        raise RuntimeError("this machine has no GPU for the reward model")
    return scripted_reward()


def group(name: str, *metas: dict) -> list[dict]:
    return [{"prompt": name, "completion": "c", "group_id": name, "meta": m} for m in metas]


class RaisingReward(Reward):
    """A reward with a bug past the components' guards: score_groups itself raises."""

    def score_groups(self, groups):
        raise RuntimeError("bug in a custom reward")


def raising_reward() -> Reward:
    return RaisingReward(Scripted(Params(), BuildContext(), "scripted", FALLBACK, "reward"))
