"""Group advantages for GRPO-family trainers, from per-sample outcome rewards.

The input is a batch of groups (the samples drawn for one prompt), each a list of scalar
rewards; groups may differ in size.

- grpo (DeepSeekMath, arXiv 2402.03300): (r - mean_g) / (std_g + eps), with Bessel's
  correction (ddof=1), as TRL and verl compute it with `torch.std`.
- dr_grpo (Dr. GRPO, "Understanding R1-Zero-Like Training", arXiv 2503.20783):
  r - mean_g; no division by the std.
- rloo (Ahmadian et al., arXiv 2402.14740): r minus the mean of the *other* samples of
  the group, which equals G / (G - 1) * (r - mean_g).
- reinforce_pp (REINFORCE++, arXiv 2501.03262): with outcome-only rewards the return is
  the reward, and advantages are the rewards whitened over the whole batch:
  (r - mean_batch) / (std_batch + eps), population std (ddof=0). Each sample counts once;
  OpenRLHF whitens over tokens, which weights a sample by its length. A KL penalty, if
  any, is the trainer's business.
- reinforce_pp_baseline (REINFORCE++-baseline, same paper): each group's mean is
  subtracted first, then the centred values are divided by (their batch std + eps); no
  mean is subtracted or added back after centring.

Zero-variance groups (every reward exactly equal after conversion to float, which
includes groups of one sample) carry no learning signal for a group-relative method:
every method gives exactly 0.0 to each of their samples and flags them in
`zero_variance`. In reinforce_pp the batch-whitened value of such a group would generally
not be 0 (a prompt that is always solved would get a positive advantage for every
sample). It is zeroed anyway, so that the same prompts carry signal whatever the method
and the flag means the same thing for every method: a prompt the policy always (or never)
solves should not push it. Such groups still count in the batch mean and std of the two
reinforce_pp methods, like every other group; the cost is that reinforce_pp advantages no
longer have batch mean 0 when a zero-variance group is present.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

METHODS: tuple[str, ...] = ("grpo", "dr_grpo", "rloo", "reinforce_pp", "reinforce_pp_baseline")


@dataclass
class Advantages:
    """Per-sample advantages, shaped like the input groups, and per-group zero-variance flags."""

    values: list[list[float]]
    zero_variance: list[bool]


def compute_advantages(
    rewards: Sequence[Sequence[float]], method: str = "grpo", eps: float = 1e-6
) -> Advantages:
    """Advantages of grouped rewards with one of `METHODS` (see the module docstring).

    `eps` (finite, >= 0) is added to the std before dividing, for grpo and both
    reinforce_pp methods. Raises ValueError for an unknown method, a bad eps, an empty
    group, or a reward that is not a finite number.
    """
    if method not in METHODS:
        raise ValueError(f"method: unknown {method!r}; allowed: {', '.join(METHODS)}")
    if not (math.isfinite(eps) and eps >= 0):
        raise ValueError(f"eps: {eps!r} is not a finite number >= 0")
    groups = [_checked(group, g) for g, group in enumerate(rewards)]
    flat = [bool(np.all(group == group[0])) for group in groups]
    if method.startswith("reinforce_pp"):
        values = _batch_whitened(groups, flat, eps, centre=method == "reinforce_pp_baseline")
    else:
        values = [
            np.zeros_like(group) if is_flat else _group_relative(group, method, eps)
            for group, is_flat in zip(groups, flat, strict=True)
        ]
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
    """grpo, dr_grpo or rloo advantages of a group whose rewards are not all equal."""
    centred = group - group.mean()
    if method == "grpo":
        return centred / (group.std(ddof=1) + eps)
    if method == "rloo":
        return centred * len(group) / (len(group) - 1)
    return centred


def _batch_whitened(
    groups: list[np.ndarray], flat: list[bool], eps: float, centre: bool
) -> list[np.ndarray]:
    """reinforce_pp (or, with `centre`, reinforce_pp_baseline) advantages of the batch."""
    if all(flat):
        return [np.zeros_like(group) for group in groups]
    parts = [group - group.mean() for group in groups] if centre else groups
    batch = np.concatenate(parts)
    mean = 0.0 if centre else batch.mean()
    scale = batch.std() + eps
    return [
        np.zeros_like(part) if is_flat else (part - mean) / scale
        for part, is_flat in zip(parts, flat, strict=True)
    ]
