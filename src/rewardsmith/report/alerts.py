"""The alerts of deploy/prometheus/rewardsmith-alerts.yml, read over a run's history of
per-step health signals (monitor.py) rather than by Prometheus over time: a step stands
for STEP_MINUTES minutes, so `offset 30m` looks LOOKBACK steps back and `for: 10m`
needs the condition to hold HELD steps in a row. Used by the adapters, to warn in the
trainer's log when one fires (`HealthWatch`), and by bench/health_simulation.py.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from typing import TypeVar

from rewardsmith.core.types import Score
from rewardsmith.report import monitor
from rewardsmith.state.store import StateStore

STEP_MINUTES = 5
LOOKBACK = 30 // STEP_MINUTES  # `offset 30m`
HELD = 10 // STEP_MINUTES  # `for: 10m`
ENV_WARNINGS = "REWARDSMITH_HEALTH_WARNINGS"  # "0" turns the trainer-log warnings off
log = logging.getLogger("rewardsmith.health")

Signals = dict[str, float]
T = TypeVar("T")


def firing(history: Sequence[Signals]) -> list[str]:
    """The alerts whose condition holds now, as long as the rule's `for` asks."""

    def holds(condition: Callable[[int], bool], steps: int) -> bool:
        last = len(history) - 1
        return len(history) >= steps and all(condition(last - k) for k in range(steps))

    def earlier(index: int, signal: str) -> float | None:
        then = index - LOOKBACK
        return history[then].get(signal) if then >= 0 else None

    def length_drift(i: int) -> bool:
        then = earlier(i, "mean_length")
        return then is not None and history[i]["mean_length"] > 1.5 * then

    def hostile_rising(i: int) -> bool:
        then, rate = earlier(i, "hostile_rate"), history[i]["hostile_rate"]
        return then is not None and rate > 0.1 and rate > 2 * then

    names = []
    if holds(length_drift, HELD):
        names.append("CompletionLengthDrift")
    if holds(hostile_rising, 1):  # `for: 5m`
        names.append("HostileCompletionsRising")
    if holds(lambda i: history[i]["zero_variance_share"] > 0.5, HELD):
        names.append("WithinGroupVarianceCollapse")
    if holds(lambda i: history[i]["error_rate"] > 0.05, 1):
        names.append("RewardErrorsSpike")
    if holds(lambda i: history[i]["timeout_rate"] > 0.05, 1):
        names.append("RewardTimeoutsSpike")
    shares = [name for name in (history[-1] if history else {}) if name.startswith("component:")]
    if any(holds(lambda i, s=s: history[i].get(s, 0.0) > 0.8, HELD) for s in shares):
        names.append("RewardComponentDominates")
    return names


class HealthWatch:
    """A trainer process's view of its reward's health: batches are added to their
    step's counts; when a later step begins, the finished step's signals join the
    history and each alert that starts firing is logged once as a warning.

    With a state `store`, the counts are the step's record there (monitor.record), to
    which every process sharing the store adds (a trainer's reward workers, `serve`
    workers), so the signals are the whole step's; a store that fails is given up for
    this process's own counts, with one warning."""

    def __init__(self, root: str, store: StateStore | None = None) -> None:
        self.root = root
        self.store = store
        self.history: list[Signals] = []
        self.steps: list[int] = []
        self.open: dict[int, dict[str, float]] = {}
        self.firing: set[str] = set()

    def observe(
        self, step: int, completions: Sequence[str], groups: Sequence[str], scores: Sequence[Score]
    ) -> list[str]:
        """Add a batch; the alerts that started firing with the step it finished."""
        counts = monitor.batch_counts(completions, groups, scores, self.root)
        record = self.open.setdefault(step, {})
        for name, value in counts.items():
            record[name] = record.get(name, 0.0) + value
        self._shared(lambda store: monitor.record(store, self.root, step, counts))
        started: list[str] = []
        for done in sorted(s for s in self.open if s < step):
            own = self.open.pop(done)
            shared = self._shared(lambda store, done=done: monitor.recorded(store, self.root, done))
            self.history.append(monitor.signals(shared or own))
            self.steps.append(done)
            now = set(firing(self.history))
            for name in sorted(now - self.firing):
                started.append(name)
                if os.environ.get(ENV_WARNINGS, "1") != "0":
                    log.warning("reward health: %s at step %d (%s)", name, done,
                                _signals_text(self.history[-1]))  # fmt: skip
            self.firing = now
        return started

    def _shared(self, use: Callable[[StateStore], T]) -> T | None:
        """`use(store)`, or None without a store or once it has failed (then given up)."""
        if self.store is None:
            return None
        try:
            return use(self.store)
        except Exception as exc:  # health counts must never cost the batch its rewards
            log.warning("reward health: the state store failed (%s: %s); counting this "
                        "process's batches only", type(exc).__name__, exc)  # fmt: skip
            self.store = None
            return None


def _signals_text(signals: Signals) -> str:
    shown = ("mean_length", "hostile_rate", "zero_variance_share", "error_rate")
    return ", ".join(f"{name} {signals[name]:.3g}" for name in shown if name in signals)
