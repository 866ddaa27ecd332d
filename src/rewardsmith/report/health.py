"""The numbers of the reward-health report (html.py draws them): what scored batches say
about the reward, read from `rewardsmith score` outputs, one file per training step.

Per step: sample, group and status counts; each component's mean, spread and share of
the total; the top reasons for a reward of 0 (the machine-readable codes); the share of
groups whose rewards are all equal (no GRPO signal); completion length against reward;
rank correlation between components, and a STARC-style distance (Skalse et al., arXiv
2309.15257) between every two components: each standardised within its prompt's group
(which removes potential-shaping-like offsets and scale per prompt), the standardised
vectors scaled to unit length, then half the Euclidean distance between them, in
[0, 1] (0: the same ordering and spacing, 1: opposite); with a `label` field, each
component audited against it as a verifier (false-positive and false-negative rates
with Wilson intervals, and examples); and the share of identical completions within
groups; the slowest samples (their checks' `info.seconds`). Across steps: the drift of each
of these.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

import numpy as np

from rewardsmith.core.types import Score, Status
from rewardsmith.report.reasons import reasons

TOP_REASONS = 8
EXAMPLES = 3
SLOWEST = 10
Z_95 = 1.959964


def step_health(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The numbers of one scored file (one training step)."""
    statuses = Counter(str(row.get("status", "ok")) for row in rows)
    scored = [row for row in rows if _scored(row)]
    rewards = np.array([float(row["reward"]) for row in scored])
    lengths = np.array([len(str(row.get("completion", ""))) for row in scored])
    names = sorted({name for row in scored for name in row.get("components", {})})
    matrix = {name: np.array([float(row["components"].get(name, np.nan)) for row in scored])
              for name in names}  # fmt: skip
    groups = _groups(scored)
    zero = Counter(
        reason
        for row in rows
        if float(row.get("reward", 0.0)) == 0.0 or row.get("status", "ok") != "ok"
        for reason in reasons(_score(row))
    )
    total = sum(abs(float(np.nanmean(values))) for values in matrix.values()) or 1.0
    return {
        "samples": len(rows),
        "scored": len(scored),
        "statuses": dict(statuses),
        "reward": _summary(rewards),
        "components": {
            name: {**_summary(values), "share": abs(float(np.nanmean(values))) / total}
            for name, values in matrix.items()
        },
        "zero_reasons": dict(zero.most_common(TOP_REASONS)),
        "groups": len(groups),
        "zero_variance_groups": sum(
            1 for members in groups.values() if len(members) > 1 and np.ptp(rewards[members]) == 0
        ),
        "identical_completions": _identical_share(scored, groups),
        "mean_length": float(lengths.mean()) if len(lengths) else 0.0,
        "length_reward_rank_correlation": spearman(lengths, rewards),
        "format_rate": _format_rate(matrix),
        "correlation": {
            f"{a} ~ {b}": spearman(matrix[a], matrix[b]) for a, b in combinations(names, 2)
        },
        "starc_distance": {
            f"{a} ~ {b}": starc_distance(matrix[a], matrix[b], groups)
            for a, b in combinations(names, 2)
        },
        "label_audit": _label_audit(scored, matrix),
        "slowest": _slowest(rows),
        "length_reward": {"length": lengths.tolist(), "reward": rewards.tolist()},
    }


def report_numbers(
    steps: Sequence[Sequence[Mapping[str, Any]]],
    names: Sequence[str],
    versus: tuple[str, Sequence[Mapping[str, Any]]] | None = None,
) -> dict:
    """Every step's numbers, the drift of the headline ones across steps, and with
    `versus` (a file's name and rows: the last step's rollouts scored by another reward)
    how the two rewards disagree."""
    per_step = [step_health(rows) for rows in steps]
    components = sorted({name for step in per_step for name in step["components"]})
    drift = {
        "mean_length": [step["mean_length"] for step in per_step],
        "mean_reward": [step["reward"]["mean"] for step in per_step],
        "format_rate": [step["format_rate"] for step in per_step],
        "identical_completions": [step["identical_completions"] for step in per_step],
        "zero_variance_share": [
            step["zero_variance_groups"] / step["groups"] if step["groups"] else 0.0
            for step in per_step
        ],
        "component_means": {
            name: [step["components"].get(name, {}).get("mean") for step in per_step]
            for name in components
        },
        "component_shares": {
            name: [step["components"].get(name, {}).get("share") for step in per_step]
            for name in components
        },
    }
    numbers: dict[str, Any] = {"files": list(names), "steps": per_step, "drift": drift}
    if versus is not None:
        numbers["versus"] = two_rewards(steps[-1], versus[1]) | {"file": versus[0]}
    return numbers


def rollout_mismatch(rows: Sequence[Mapping[str, Any]], other: Sequence[Mapping[str, Any]]) -> str:
    """Why `other` is not the same rollouts as `rows`, line by line ('' when it is): the
    same number of lines, and on each the same completion, prompt and group."""
    if len(rows) != len(other):
        return f"{len(other)} scored samples, expected {len(rows)} (the same rollouts)"
    for number, (row, twin) in enumerate(zip(rows, other, strict=True), 1):
        for field in ("completion", "prompt", "group_id"):
            if row.get(field) != twin.get(field):
                return f"line {number}: not the same rollout ({field} differs)"
    return ""


def two_rewards(rows: Sequence[Mapping[str, Any]], other: Sequence[Mapping[str, Any]]) -> dict:
    """Two rewards of the same rollouts (row i of each: the same sample), over the samples
    both scored: rank correlation, STARC-style distance (per prompt), how often one says
    right (>= 0.5) where the other says wrong, and the samples they rank furthest apart."""
    pairs = enumerate(zip(rows, other, strict=True))
    both = [i for i, (row, twin) in pairs if _scored(row) and _scored(twin)]
    first = np.array([float(rows[i]["reward"]) for i in both])
    second = np.array([float(other[i]["reward"]) for i in both])
    groups = _groups([rows[i] for i in both])
    right_first, right_second = first >= 0.5, second >= 0.5
    apart = np.abs(_ranks(first) - _ranks(second))
    furthest = [both[k] for k in np.argsort(-apart, kind="stable")[:EXAMPLES] if apart[k] > 0]
    return {
        "samples": len(both),
        "spearman": spearman(first, second),
        "starc_distance": starc_distance(first, second, groups),
        "only_first_right": int((right_first & ~right_second).sum()),
        "only_second_right": int((right_second & ~right_first).sum()),
        "furthest_apart": [
            {"reward": float(rows[i]["reward"]), "other_reward": float(other[i]["reward"]),
             "completion": str(rows[i].get("completion", ""))[:300]}
            for i in furthest
        ],
        "points": {"reward": first.tolist(), "other_reward": second.tolist()},
    }  # fmt: skip


def _scored(row: Mapping[str, Any]) -> bool:
    return row.get("status", "ok") != "invalid" and isinstance(row.get("reward"), int | float)


def spearman(first: np.ndarray, second: np.ndarray) -> float | None:
    """Spearman's rank correlation (average ranks for ties), None when undefined."""
    keep = ~(np.isnan(first) | np.isnan(second))
    if keep.sum() < 3:
        return None
    a, b = _ranks(first[keep]), _ranks(second[keep])
    if a.std() == 0 or b.std() == 0:
        return None
    return float(np.corrcoef(a, b)[0, 1])


def starc_distance(
    first: np.ndarray, second: np.ndarray, groups: Mapping[str, list[int]]
) -> float | None:
    """Half the distance between the two rewards, each standardised within its group
    and scaled to unit length: 0 for rewards equal up to per-prompt shift and scale."""
    a, b = _standardised(first, groups), _standardised(second, groups)
    norm_a, norm_b = np.linalg.norm(a), np.linalg.norm(b)
    if norm_a == 0 or norm_b == 0:
        return None
    return float(np.linalg.norm(a / norm_a - b / norm_b) / 2)


def wilson(successes: int, trials: int) -> tuple[float, float]:
    """The 95% Wilson score interval of a proportion."""
    if trials == 0:
        return 0.0, 1.0
    p = successes / trials
    denominator = 1 + Z_95**2 / trials
    centre = (p + Z_95**2 / (2 * trials)) / denominator
    half = Z_95 * math.sqrt(p * (1 - p) / trials + Z_95**2 / (4 * trials**2)) / denominator
    return max(0.0, centre - half), min(1.0, centre + half)


def _summary(values: np.ndarray) -> dict[str, float | None]:
    values = values[~np.isnan(values)]
    if not len(values):
        return {"mean": None, "std": None, "min": None, "max": None, "n": 0}
    return {"mean": float(values.mean()), "std": float(values.std()),
            "min": float(values.min()), "max": float(values.max()), "n": len(values),
            "values": values.tolist()}  # fmt: skip


def _groups(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = defaultdict(list)
    for index, row in enumerate(rows):
        groups[str(row.get("group_id") or row.get("prompt", ""))].append(index)
    return dict(groups)


def _identical_share(rows: Sequence[Mapping[str, Any]], groups: Mapping[str, list[int]]) -> float:
    """The share of samples whose completion another sample of its group repeats."""
    repeated = 0
    for members in groups.values():
        counts = Counter(str(rows[i].get("completion", "")) for i in members)
        repeated += sum(count for count in counts.values() if count > 1)
    return repeated / len(rows) if rows else 0.0


def _format_rate(matrix: Mapping[str, np.ndarray]) -> float | None:
    formats = [values for name, values in matrix.items() if "format" in name]
    if not formats:
        return None
    return float(np.nanmean(np.concatenate(formats) >= 0.5))


def _ranks(values: np.ndarray) -> np.ndarray:
    """0-based ranks, tied values sharing their average rank (one sort)."""
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts  # the rank of each distinct value's first copy
    return (first + (counts - 1) / 2)[inverse]


def _standardised(values: np.ndarray, groups: Mapping[str, list[int]]) -> np.ndarray:
    out = np.zeros(len(values))
    for members in groups.values():
        part = np.nan_to_num(values[members])
        spread = part.std()
        out[members] = (part - part.mean()) / spread if spread > 0 else 0.0
    return out


def _label_audit(rows: Sequence[Mapping[str, Any]], matrix: Mapping[str, np.ndarray]) -> dict:
    labelled = [i for i, row in enumerate(rows) if isinstance(row.get("label"), bool | int)]
    if not labelled:
        return {}
    truth = np.array([bool(rows[i]["label"]) for i in labelled])
    audit = {}
    for name, values in matrix.items():
        said = values[labelled] >= 0.5
        negatives, positives = int((~truth).sum()), int(truth.sum())
        false_pos = [labelled[k] for k in np.flatnonzero(said & ~truth)]
        false_neg = [labelled[k] for k in np.flatnonzero(~said & truth)]
        audit[name] = {
            "false_positive_rate": len(false_pos) / negatives if negatives else None,
            "false_positive_interval": wilson(len(false_pos), negatives),
            "false_negative_rate": len(false_neg) / positives if positives else None,
            "false_negative_interval": wilson(len(false_neg), positives),
            "negatives": negatives,
            "positives": positives,
            "false_positive_examples": _examples(rows, false_pos),
            "false_negative_examples": _examples(rows, false_neg),
        }
    return audit


def _seconds(row: Mapping[str, Any]) -> float | None:
    """The time the sample's checks took (`info.seconds`, from `score --timings`)."""
    info = row.get("info")
    seconds = info.get("seconds") if isinstance(info, Mapping) else None
    valid = isinstance(seconds, int | float) and not isinstance(seconds, bool)
    return float(seconds) if valid and math.isfinite(seconds) else None


def _slowest(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The samples whose checks took longest, longest first."""
    timed = [(seconds, row) for row in rows if (seconds := _seconds(row)) is not None]
    timed.sort(key=lambda pair: -pair[0])
    return [
        {"seconds": seconds, "reward": row.get("reward"),
         "status": row.get("status", "ok"), "completion": str(row.get("completion", ""))[:200]}
        for seconds, row in timed[:SLOWEST]
    ]  # fmt: skip


def _examples(rows: Sequence[Mapping[str, Any]], indices: Iterable[int]) -> list[str]:
    return [str(rows[i].get("completion", ""))[:300] for i in list(indices)[:EXAMPLES]]


def _score(row: Mapping[str, Any]) -> Score:
    status = Status(row["status"]) if row.get("status") in set(Status) else Status.OK
    return Score(float(row.get("reward", 0.0)), status, info=dict(row.get("info") or {}))
