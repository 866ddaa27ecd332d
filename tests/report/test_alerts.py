"""The alert rules read over a run's step history (report/alerts.py), and the trainer-log
warnings the adapters give through them: each alert at the step its rule says, logged
once when it starts firing, silenced by REWARDSMITH_HEALTH_WARNINGS=0."""

from __future__ import annotations

import logging

from rewardsmith.adapters import score_items
from rewardsmith.core.pipeline import Reward
from rewardsmith.core.types import Score
from rewardsmith.report.alerts import HELD, LOOKBACK, HealthWatch, firing

QUIET = {"mean_length": 100.0, "hostile_rate": 0.0, "zero_variance_share": 0.1,
         "error_rate": 0.0, "timeout_rate": 0.0, "component:math": 0.5}  # fmt: skip


def history_with(**changes_from_step: tuple[int, float]) -> list[dict[str, float]]:
    steps = []
    for step in range(12):
        signals = dict(QUIET)
        for name, (start, value) in changes_from_step.items():
            if step >= start:
                signals[name] = value
        steps.append(signals)
    return steps


def first_firing(history: list[dict[str, float]], name: str) -> int | None:
    return next((i for i in range(1, len(history) + 1) if name in firing(history[:i])), None)


def test_each_alert_fires_when_its_rule_says():
    length = history_with(mean_length=(3, 400.0))
    # over 1.5x the length LOOKBACK steps earlier (there is none before), held HELD steps
    assert first_firing(length, "CompletionLengthDrift") == max(3, LOOKBACK) + HELD
    collapse = history_with(zero_variance_share=(2, 0.9))
    assert first_firing(collapse, "WithinGroupVarianceCollapse") == 2 + HELD
    errors = history_with(error_rate=(5, 0.2))
    assert first_firing(errors, "RewardErrorsSpike") == 6
    hostile = history_with(hostile_rate=(LOOKBACK + 1, 0.3))
    assert first_firing(hostile, "HostileCompletionsRising") == LOOKBACK + 2
    dominance = history_with(**{"component:math": (0, 0.95)})
    assert first_firing(dominance, "RewardComponentDominates") == HELD
    assert all(not firing(history_with()[: i + 1]) for i in range(12))  # quiet stays quiet


def score(value: float) -> Score:
    return Score(value, components={"root": value, "math": value})


def test_a_watch_warns_once_when_an_alert_starts(caplog, monkeypatch):
    watch = HealthWatch("root")
    caplog.set_level(logging.WARNING, logger="rewardsmith.health")
    for step in range(1, 16):
        length = 100 if step < 4 else 100 + 200 * step
        watch.observe(step, ["x" * length, "y" * length], ["g", "g"], [score(1.0), score(0.0)])
    warnings = [r.getMessage() for r in caplog.records if "CompletionLengthDrift" in r.getMessage()]
    assert len(warnings) == 1 and "at step" in warnings[0]
    monkeypatch.setenv("REWARDSMITH_HEALTH_WARNINGS", "0")
    caplog.clear()
    quiet = HealthWatch("root")
    for step in range(1, 16):
        length = 100 if step < 4 else 100 + 200 * step
        quiet.observe(step, ["x" * length], ["g"], [score(1.0)])
    assert "CompletionLengthDrift" in quiet.firing and not caplog.records


def test_the_adapters_warn_in_the_trainers_log(caplog):
    caplog.set_level(logging.WARNING, logger="rewardsmith.health")
    with Reward.from_spec({"type": "math"}) as reward:
        for step in range(1, 14):
            padding = " Let me check." * (0 if step < 4 else 30 * step)
            items = [
                {"prompt": "1+1?", "completion": f"So \\\\boxed{{{answer}}}.{padding}",
                 "reference": "2", "group_id": "q", "meta": {"step": step}}
                for answer in (2, 3)
            ]  # fmt: skip
            score_items(reward, items)
    assert any("CompletionLengthDrift" in r.getMessage() for r in caplog.records)
