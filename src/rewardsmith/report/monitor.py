"""Reward-health signals computed online, per training step, from the batches a server or
an adapter scores: the drift signals of the report (health.py), kept in the state store so
that every worker sharing the store adds to the same step's counts.

Per step (the samples' `meta.step`): samples, completion characters, errors, timeouts,
completions that a hostile-completion check caught (the codes in HOSTILE_CODES), samples
repeating another of their group, groups and groups whose rewards are all equal, format
checks passed, and each component's summed value. `signals` turns a step's counts into
the numbers that are exported (serve/metrics.py) and alerted on
(deploy/prometheus/alerts.yml): mean length, error and timeout rates, the hostile-catch
rate, the share of repeated completions and of groups without signal, the format rate,
and each component's share of the components' total.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence

from rewardsmith.core.types import Score, Status
from rewardsmith.report.reasons import reasons
from rewardsmith.state.store import StateStore, Update

NAMESPACE = "health"
HOSTILE_CODES = frozenset({
    "hedged_answer", "negated_answer", "conflicting_answers", "answer_out_of_bounds",
    "malformed_call", "duplicate_call", "over_limit",
})  # fmt: skip
COMPONENT = "component:"


def batch_counts(
    completions: Sequence[str],
    groups: Sequence[str],
    scores: Sequence[Score],
    root: str,
) -> dict[str, float]:
    """One batch's counts (the root component is left out of the shares)."""
    counts: Counter[str] = Counter()
    counts["samples"] = len(scores)
    counts["characters"] = sum(len(text) for text in completions)
    members: dict[str, list[int]] = defaultdict(list)
    for index, group in enumerate(groups):
        members[group].append(index)
    for score in scores:
        counts["errors"] += score.status is Status.ERROR
        counts["timeouts"] += score.status is Status.TIMEOUT
        counts["hostile"] += bool(HOSTILE_CODES & set(reasons(score)))
        for name, value in score.components.items():
            if name != root:
                counts[COMPONENT + name] += abs(value)
            if "format" in name:
                counts["format_checks"] += 1
                counts["format_passed"] += value >= 0.5
    for indices in members.values():
        texts = Counter(completions[i] for i in indices)
        counts["repeated"] += sum(n for n in texts.values() if n > 1)
        if len(indices) > 1:
            counts["groups"] += 1
            values = {scores[i].value for i in indices}
            counts["groups_without_signal"] += len(values) == 1
    return {name: float(value) for name, value in counts.items()}


def record(store: StateStore, reward: str, step: int, counts: dict[str, float]) -> None:
    """Add a batch's counts to its step's record."""
    store.apply([Update(NAMESPACE, _key(reward, step), add=counts)])


def recorded(store: StateStore, reward: str, step: int) -> dict[str, float]:
    """A step's record as it is now (empty when nothing was recorded)."""
    key = _key(reward, step)
    return store.read(NAMESPACE, [key]).get(key, {})


def _key(reward: str, step: int) -> str:
    return f"{reward}:{step}"


def signals(counts: dict[str, float]) -> dict[str, float]:
    """The exported numbers of one step's counts."""
    samples = counts.get("samples", 0.0) or 1.0
    components = {k[len(COMPONENT) :]: v for k, v in counts.items() if k.startswith(COMPONENT)}
    total = sum(components.values()) or 1.0
    out = {
        "mean_length": counts.get("characters", 0.0) / samples,
        "error_rate": counts.get("errors", 0.0) / samples,
        "timeout_rate": counts.get("timeouts", 0.0) / samples,
        "hostile_rate": counts.get("hostile", 0.0) / samples,
        "repeated_share": counts.get("repeated", 0.0) / samples,
        "zero_variance_share": counts.get("groups_without_signal", 0.0)
        / (counts.get("groups", 0.0) or 1.0),
    }
    if counts.get("format_checks"):
        out["format_rate"] = counts.get("format_passed", 0.0) / counts["format_checks"]
    out |= {COMPONENT + name: value / total for name, value in components.items()}
    return out
