"""Reward-health monitoring while training runs: the per-step counts and signals
(report/monitor.py) computed by hand, added up in the state store by several workers,
exported by `rewardsmith serve --health` as rewardsmith_health gauges on /metrics, and
the shipped Prometheus alert rules checked and unit-tested with promtool (Debian's
prometheus package; `make test` installs it as root)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest

from rewardsmith.core.types import Score, Status
from rewardsmith.report import monitor
from rewardsmith.serve.local import LocalServer
from rewardsmith.state.memory import MemoryStore

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "rewardsmith-alerts.yml"


def score(value: float, status: Status = Status.OK, code: str = "", **components) -> Score:
    info = {"math": {"code": code}} if code else {}
    return Score(value, status, {"root": value, **components}, info)


def test_a_batchs_counts_and_signals():
    completions = ["aa", "aa", "bbbb", "c"]
    groups = ["g1", "g1", "g2", "g2"]
    scores = [
        score(1.0, math=1.0, format=1.0),
        score(1.0, math=1.0, format=1.0),
        score(0.0, Status.ERROR, math=0.0, format=0.0),
        score(0.25, code="hedged_answer", math=0.0, format=1.0),
    ]
    counts = monitor.batch_counts(completions, groups, scores, root="root")
    signals = monitor.signals(counts)
    assert signals["mean_length"] == 9 / 4
    assert signals["error_rate"] == 0.25 and signals["timeout_rate"] == 0.0
    assert signals["hostile_rate"] == 0.25
    assert signals["repeated_share"] == 0.5  # the two "aa"
    assert signals["zero_variance_share"] == 0.5  # g1 all 1.0; g2 0.0 and 0.25
    assert signals["format_rate"] == 0.75
    assert signals["component:math"] == pytest.approx(2 / 5)
    assert signals["component:format"] == pytest.approx(3 / 5)
    assert "component:root" not in signals


def test_workers_sharing_a_store_add_to_the_same_step():
    store = MemoryStore()
    first = monitor.batch_counts(["x" * 10], ["g"], [score(1.0)], root="root")
    second = monitor.batch_counts(["x" * 30], ["h"], [score(0.0, Status.TIMEOUT)], root="root")
    monitor.record(store, "math", 7, first)
    monitor.record(store, "math", 7, second)
    current = monitor.recorded(store, "math", 7)
    assert monitor.signals(current)["mean_length"] == 20.0
    assert monitor.signals(current)["timeout_rate"] == 0.5
    monitor.record(store, "math", 8, first)
    assert monitor.signals(monitor.recorded(store, "math", 8))["mean_length"] == 10.0
    assert monitor.recorded(store, "math", 9) == {}


def test_serve_exports_the_health_gauges(tmp_path):
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    reward = tmp_path / "reward.yaml"
    reward.write_text(f"state: {state}\nreward: {{type: math}}\n")
    with LocalServer(reward, workers=2, options={"health": True}) as server:
        samples = [
            {
                "completion": "So \\\\boxed{4}.",
                "reference": "4",
                "group_id": "q",
                "meta": {"step": 3},
            },
            {
                "completion": "The answer is 4 or 5.",
                "reference": "4",
                "group_id": "q",
                "meta": {"step": 3},
            },
        ]
        for _ in range(2):  # two requests, maybe on two workers: one step's counts
            answer = httpx.post(f"{server.url}/v1/score", json={"samples": samples}, timeout=60)
            assert answer.status_code == 200, answer.text
        metrics = httpx.get(f"{server.url}/metrics", timeout=30).text
    lines = {line.split(" ")[0]: float(line.split(" ")[1]) for line in metrics.splitlines()
             if line.startswith("rewardsmith_health")}  # fmt: skip
    assert lines["rewardsmith_health_step"] == 3.0
    assert lines['rewardsmith_health{component="",signal="hostile_rate"}'] == 0.5
    mean_length = sum(len(sample["completion"]) for sample in samples) / len(samples)
    assert lines['rewardsmith_health{component="",signal="mean_length"}'] == mean_length


PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None and os.environ.get("CI") != "true",
    reason="no promtool (scripts/run_tests.sh installs Debian's prometheus as root)",
)


@needs_promtool
def test_the_alert_rules_are_valid():
    done = subprocess.run([PROMTOOL or "promtool", "check", "rules", str(RULES)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6 rules found" in done.stdout


@needs_promtool
def test_the_alerts_fire_on_drift_and_stay_quiet_otherwise(tmp_path):
    """Recorded metrics, one sample a minute: length growing by 50 characters a minute, variance
    collapsing at minute 30, errors spiking at minute 40, a steady component share."""
    tests = tmp_path / "tests.yml"
    tests.write_text(
        textwrap.dedent(f"""
        rule_files: [{RULES}]
        evaluation_interval: 1m
        tests:
          - interval: 1m
            input_series:
              - series: 'rewardsmith_health{{signal="mean_length",component=""}}'
                values: '1000+50x60'
              - series: 'rewardsmith_health{{signal="zero_variance_share",component=""}}'
                values: '0.1x30 0.8x30'
              - series: 'rewardsmith_health{{signal="error_rate",component=""}}'
                values: '0x40 0.2x20'
              - series: 'rewardsmith_health{{signal="component_share",component="math"}}'
                values: '0.6x60'
            alert_rule_test:
              - eval_time: 20m
                alertname: CompletionLengthDrift
                exp_alerts: []
              - eval_time: 60m
                alertname: CompletionLengthDrift
                exp_alerts:
                  - exp_labels: {{severity: warning, signal: mean_length}}
                    exp_annotations:
                      summary: "Completions grew by half in 30 minutes (now 4000 characters)"
                      description: "A length hack often shows first as a steady climb in length."
              - eval_time: 35m
                alertname: WithinGroupVarianceCollapse
                exp_alerts: []
              - eval_time: 45m
                alertname: WithinGroupVarianceCollapse
                exp_alerts:
                  - exp_labels: {{severity: warning, signal: zero_variance_share}}
                    exp_annotations:
                      summary: "80% of groups have all rewards equal"
                      description: "GRPO learns nothing from a group without variance."
              - eval_time: 50m
                alertname: RewardErrorsSpike
                exp_alerts:
                  - exp_labels: {{severity: critical, signal: error_rate}}
                    exp_annotations:
                      summary: "20% of samples could not be scored (errors)"
              - eval_time: 60m
                alertname: RewardComponentDominates
                exp_alerts: []
    """)
    )
    done = subprocess.run([PROMTOOL or "promtool", "test", "rules", str(tests)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_simulated_run_flags_the_length_hack_then_the_hedging(tmp_path):
    """bench/health_simulation.py: padding from step 5, hedging from step 12."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "health_simulation.py"), "--report", str(tmp_path)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "CompletionLengthDrift: fires at step 8" in done.stdout
    assert "HostileCompletionsRising: fires at step 13" in done.stdout
    assert "WithinGroupVarianceCollapse: never fires" in done.stdout
    page = (tmp_path / "report.html").read_text()
    assert "<h2>Drift over steps</h2>" in page and "step20.jsonl" in page
