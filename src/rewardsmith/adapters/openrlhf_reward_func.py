"""The file to give OpenRLHF's `--remote_rm_url`: `reward_func(queries, prompts, labels)`.

    export REWARDSMITH_REWARD=reward.yaml      # or a built-in name such as math
    FILE=$(python -c 'import rewardsmith.adapters.openrlhf_reward_func as m; print(m.__file__)')
    python -m openrlhf.cli.train_ppo_ray ... --label_key answer --remote_rm_url "$FILE"

OpenRLHF loads this file with `importlib`; 0.8-0.9.0 run `reward_func` in Ray tasks on
chunks of the batch, 0.9.1 and later once per rollout (one query, from a thread of the
rollout worker), so a reward that compares a prompt's rollouts sees groups of one here:
use `rewardsmith serve --group-size` for those. Each process builds the reward named by
`$REWARDSMITH_REWARD` (and `$REWARDSMITH_WORKERS`) once, on its first call, so both must
be set in the Ray workers' environment (`runtime_env.env_vars`). The answer holds
tensors because OpenRLHF 0.8 joins the chunks' answers with `torch.cat` (0.9 also takes
lists). See `rewardsmith.adapters.openrlhf` for how queries are split and failures shown.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from rewardsmith.adapters import LazyReward
from rewardsmith.adapters.openrlhf import score_openrlhf

REWARD = LazyReward()


def reward_func(
    queries: Sequence[str], prompts: Sequence[str], labels: Sequence[Any] | None, **kwargs: Any
) -> dict[str, Any]:
    """{"rewards", "scores", "extra_logs"} as float tensors, one value per query."""
    answer = score_openrlhf(
        REWARD.get(), list(queries), list(prompts), None if labels is None else list(labels)
    )
    return {
        "rewards": _tensor(answer["rewards"]),
        "scores": _tensor(answer["scores"]),
        "extra_logs": {name: _tensor(values) for name, values in answer["extra_logs"].items()},
    }


def _tensor(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.float32)
