"""Group advantages for GRPO-family trainers, from per-sample outcome rewards.

- grpo (DeepSeekMath, arXiv 2402.03300): (r - mean_g) / (std_g + eps), with Bessel's
  correction (ddof=1), as TRL and verl compute it with `torch.std`.
- dr_grpo (Dr. GRPO, arXiv 2503.20783): r - mean_g; no division by the std.
- rloo (Ahmadian et al., arXiv 2402.14740): r - mean of the *other* samples of the group,
  which equals G / (G - 1) * (r - mean_g).
- reinforce_pp (REINFORCE++, arXiv 2501.03262): with outcome-only rewards the return is
  the reward; advantages are the rewards whitened over the whole batch (population std).
- reinforce_pp_baseline: the group mean is subtracted first, then the centred values
  are divided by their batch std.

Zero-variance groups (every reward equal, or a single sample) carry no signal for a
group-relative method, so every method gives exactly 0 to their samples and flags them
in `zero_variance`. For reinforce_pp the batch-whitened value of such a group would not
be 0; it is zeroed too, so that a prompt the policy always (or never) solves does not
push the policy, the same convention as the group-relative methods.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

METHODS: tuple[str, ...] = ("grpo", "dr_grpo", "rloo", "reinforce_pp", "reinforce_pp_baseline")


@dataclass
class Advantages:
    """Per-sample advantages, shaped like the input groups, and the zero-variance flags."""

    values: list[list[float]]
    zero_variance: list[bool]


def compute_advantages(
    rewards: Sequence[Sequence[float]], method: str = "grpo", eps: float = 1e-6
) -> Advantages:
    """Advantages of grouped rewards (a list of groups, each a list of sample rewards)."""
    if method not in METHODS:
        raise ValueError(f"method: unknown {method!r}; allowed: {', '.join(METHODS)}")
    groups = [_checked(group, g) for g, group in enumerate(rewards)]
    flat = [bool(len(group) < 2 or np.all(group == group[0])) for group in groups]
    if method in ("reinforce_pp", "reinforce_pp_baseline"):
        values = _batch_whitened(groups, eps, centre_groups=method.endswith("baseline"))
    else:
        values = [
            _group_relative(g, method, eps) if not f else g
            for g, f in zip(groups, flat, strict=True)
        ]
    values = [np.zeros_like(v) if f else v for v, f in zip(values, flat, strict=True)]
    return Advantages([v.tolist() for v in values], flat)


def _checked(group: Sequence[float], index: int) -> np.ndarray:
    if len(group) == 0:
        raise ValueError(f"rewards[{index}]: empty group; expected at least one reward")
    array = np.asarray(group, dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise ValueError(f"rewards[{index}][{bad[0]}]: {array[bad[0]]} is not a finite number")
    return array


def _group_relative(group: np.ndarray, method: str, eps: float) -> np.ndarray:
    size = len(group)
    centred = group - group.mean()
    if method == "grpo":
        return centred / (group.std(ddof=1) + eps)
    if method == "rloo":
        return centred * size / (size - 1)
    return centred


def _batch_whitened(groups: list[np.ndarray], eps: float, centre_groups: bool) -> list[np.ndarray]:
    if not groups:
        return []
    parts = [g - g.mean() if centre_groups else g for g in groups]
    batch = np.concatenate(parts)
    mean = 0.0 if centre_groups else batch.mean()
    std = batch.std()
    if math.isclose(std, 0.0, abs_tol=1e-12):
        return [np.zeros_like(p) for p in parts]
    return [(p - mean) / (std + eps) for p in parts]
