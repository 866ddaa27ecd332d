"""The alert rules read over a run's step history (report/alerts.py), and the trainer-log
warnings the adapters give through them: each alert at the step its rule says, logged
once when it starts firing, silenced by REWARDSMITH_HEALTH_WARNINGS=0."""

from __future__ import annotations

import logging

from rewardsmith.adapters import score_items
from rewardsmith.core.pipeline import Reward
from rewardsmith.core.types import Score, Status
from rewardsmith.report import monitor
from rewardsmith.report.alerts import HELD, LOOKBACK, HealthWatch, firing
from rewardsmith.state import SqliteStore

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


def test_watches_sharing_a_store_see_the_whole_steps_counts(tmp_path):
    """Two trainer processes (each its own connection to one SQLite file) add to one
    record per step: each watch's signals are the step's, not its own half's."""
    path = tmp_path / "state.sqlite"
    first, second = HealthWatch("root", SqliteStore(path)), HealthWatch("root", SqliteStore(path))
    failed = Score(0.0, Status.ERROR, components={"root": 0.0, "math": 0.0})
    for step in (1, 2):
        first.observe(step, ["a" * 100] * 2, ["g", "g"], [score(1.0), score(0.0)])
        second.observe(step, ["b" * 300] * 2, ["h", "h"], [failed, failed])
    for watch in (first, second):
        watch.observe(3, ["c"], ["k"], [score(1.0)])
        [step_one] = watch.history[:1]
        assert step_one["mean_length"] == 200.0 and step_one["error_rate"] == 0.5
    alone = HealthWatch("root")
    alone.observe(1, ["a" * 100] * 2, ["g", "g"], [score(1.0), score(0.0)])
    alone.observe(2, ["c"], ["k"], [score(1.0)])
    assert alone.history[0]["mean_length"] == 100.0 and alone.history[0]["error_rate"] == 0.0


def item(step: int, answer: int) -> dict:
    return {"prompt": "1+1?", "completion": f"So \\boxed{{{answer}}}.", "reference": "2",
            "group_id": "q", "meta": {"step": step}}  # fmt: skip


def test_the_adapters_count_into_the_chosen_state_store(tmp_path):
    url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    with Reward.from_spec({"type": "math"}, state=url) as reward:
        scores = score_items(reward, [item(4, 2), item(4, 3)])
        assert [s.value for s in scores] == [1.0, 0.0]
        counts = monitor.recorded(reward.context.store(), reward.root.name, 4)
    assert counts["samples"] == 2 and counts["groups"] == 1


def test_without_a_chosen_store_no_state_file_is_made(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REWARDSMITH_STATE", raising=False)
    with Reward.from_spec({"type": "math"}) as reward:
        score_items(reward, [item(1, 2), item(2, 2)])
    assert not (tmp_path / ".rewardsmith").exists()


def test_an_unreachable_store_costs_the_batch_nothing(caplog, monkeypatch):
    monkeypatch.setenv("REWARDSMITH_STATE", "redis://127.0.0.1:1/0")  # nothing listens
    caplog.set_level(logging.WARNING, logger="rewardsmith.health")
    with Reward.from_spec({"type": "math"}) as reward:
        scores = score_items(reward, [item(1, 2), item(1, 3)])
    assert [s.value for s in scores] == [1.0, 0.0]
    assert any("no state store" in r.getMessage() for r in caplog.records)


def test_a_store_that_fails_later_is_given_up_with_one_warning(tmp_path, caplog):
    store = SqliteStore(tmp_path / "state.sqlite")
    watch = HealthWatch("root", store)
    watch.observe(1, ["x"], ["g"], [score(1.0)])
    store.close()  # from here on, every use of it raises
    caplog.set_level(logging.WARNING, logger="rewardsmith.health")
    for step in (2, 3):
        watch.observe(step, ["y" * 10], ["g"], [score(1.0)])
    failures = [r for r in caplog.records if "state store failed" in r.getMessage()]
    assert len(failures) == 1 and watch.store is None
    assert [signals["mean_length"] for signals in watch.history] == [1.0, 10.0]
