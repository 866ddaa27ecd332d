"""The reward-health report: its numbers on scored rows built here (zero-variance
groups, repeated completions, rank correlation, the STARC-style distance and its
invariances, Wilson intervals, the label audit, drift across steps), and
`rewardsmith report` writing one self-contained page and its JSON twin."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardsmith.report.health import (
    report_numbers,
    rollout_mismatch,
    spearman,
    starc_distance,
    step_health,
    two_rewards,
    wilson,
)

CLI = Path(sys.executable).with_name("rewardsmith")


def row(group: str, reward: float, completion: str = "x", label: bool | None = None, **components):
    out = {"group_id": group, "completion": completion, "reward": reward, "status": "ok",
           "components": {"reward": reward, **components}, "info": {}}  # fmt: skip
    if reward == 0:
        out["info"] = {"math": {"code": "wrong_answer"}}
    if label is not None:
        out["label"] = label
    return out


def test_groups_without_signal_and_repeated_completions():
    rows = [row("a", 1.0, "same"), row("a", 1.0, "same"), row("b", 1.0, "p"), row("b", 0.0, "q")]
    health = step_health(rows)
    assert (health["groups"], health["zero_variance_groups"]) == (2, 1)
    assert health["identical_completions"] == 0.5
    assert health["zero_reasons"] == {"wrong_answer": 1}
    assert health["reward"]["mean"] == 0.75


def test_rank_correlation_and_its_undefined_cases():
    assert spearman(np.array([1.0, 2, 3, 4]), np.array([10.0, 20, 30, 40])) == pytest.approx(1.0)
    assert spearman(np.array([1.0, 2, 3, 4]), np.array([4.0, 3, 2, 1])) == pytest.approx(-1.0)
    assert spearman(np.array([1.0, 1, 1]), np.array([1.0, 2, 3])) is None  # no spread
    assert spearman(np.array([1.0, 2]), np.array([1.0, 2])) is None  # too few


GROUPS = {"a": [0, 1, 2], "b": [3, 4, 5]}
VALUES = st.lists(st.floats(-5, 5, allow_nan=False), min_size=6, max_size=6).filter(
    lambda v: np.ptp(v[:3]) > 1e-3 and np.ptp(v[3:]) > 1e-3
)


@settings(max_examples=100, deadline=None)
@given(values=VALUES, shift=st.floats(-10, 10), scale=st.floats(0.1, 10))
def test_starc_distance_ignores_per_prompt_shift_and_scale(values, shift, scale):
    a = np.array(values)
    b = a.copy()
    b[:3] = a[:3] * scale + shift  # one prompt's rewards moved and stretched
    assert starc_distance(a, b, GROUPS) == pytest.approx(0.0, abs=1e-9)
    assert starc_distance(a, -a, GROUPS) == pytest.approx(1.0)
    assert 0.0 <= starc_distance(a, a[::-1].copy(), GROUPS) <= 1.0


def test_wilson_intervals():
    low, high = wilson(0, 10)
    assert low == 0.0 and high == pytest.approx(0.2775, abs=1e-3)
    low, high = wilson(5, 10)
    assert (low, high) == pytest.approx((0.2366, 0.7634), abs=1e-3)
    assert wilson(0, 0) == (0.0, 1.0)


def test_the_label_audit_counts_each_verifiers_errors():
    rows = [
        row("a", 1.0, "right", True, verifier=1.0),
        row("a", 1.0, "lucky guess", False, verifier=1.0),  # a false positive
        row("b", 0.0, "missed", True, verifier=0.0),  # a false negative
        row("b", 0.0, "wrong", False, verifier=0.0),
    ]
    audit = step_health(rows)["label_audit"]["verifier"]
    assert audit["false_positive_rate"] == 0.5 and audit["false_negative_rate"] == 0.5
    assert audit["false_positive_examples"] == ["lucky guess"]
    assert audit["false_negative_examples"] == ["missed"]
    assert step_health([row("a", 1.0)])["label_audit"] == {}


def test_drift_across_steps():
    steps = [
        [row("a", 1.0, "x" * 10, fmt_format=1.0), row("a", 0.0, "y" * 10, fmt_format=1.0)],
        [row("a", 1.0, "x" * 50, fmt_format=0.0), row("a", 1.0, "x" * 50, fmt_format=0.0)],
    ]
    numbers = report_numbers(steps, ["step1", "step2"])
    drift = numbers["drift"]
    assert drift["mean_length"] == [10.0, 50.0]
    assert drift["format_rate"] == [1.0, 0.0]
    assert drift["identical_completions"] == [0.0, 1.0]
    assert drift["zero_variance_share"] == [0.0, 1.0]
    assert drift["component_means"]["reward"] == [0.5, 1.0]


def test_cli_writes_a_self_contained_page_and_its_json_twin(tmp_path):
    first, second = tmp_path / "step1.jsonl", tmp_path / "step2.jsonl"
    rows = [
        row("a", 1.0, "so 4", True, answer=1.0),
        row("a", 0.0, "so 5", False, answer=0.0),
        row("b", 1.0, "four", True, answer=1.0),
        row("b", 1.0, "4", False, answer=1.0),
    ]
    for path in (first, second):
        path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    page, twin = tmp_path / "report.html", tmp_path / "report.json"
    command = [str(CLI), "report", str(first), str(second), "-o", str(page), "--json", str(twin)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    text = page.read_text()
    assert text.count("<svg") >= 3 and "<script" not in text.lower()
    assert "http://" not in text.split("<svg", 1)[0] and "https://" not in text.split("<svg", 1)[0]
    for heading in ("Rewards", "Statuses and reasons for 0", "Verifiers against labels",
                    "Drift over steps", "Components against each other"):  # fmt: skip
        assert f"<h2>{heading}</h2>" in text
    numbers = json.loads(twin.read_text())
    assert numbers["files"] == [str(first), str(second)]
    assert numbers["steps"][0]["label_audit"]["answer"]["false_positive_rate"] == 0.5


@pytest.mark.parametrize(
    "content, message",
    [("not json\n", "not a JSON line"), ("[1, 2]\n", "expected a JSON object"), ("", "no scored")],
)
def test_cli_refuses_bad_input_naming_the_line(tmp_path, content, message):
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    done = subprocess.run([str(CLI), "report", str(path), "-o", str(tmp_path / "r.html")],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 2 and message in done.stderr


def test_the_slowest_samples_are_listed_longest_first():
    rows = [dict(row("a", 1.0, "quick"), info={"seconds": 0.01}),
            dict(row("a", 0.0, "slow"), info={"seconds": 2.5}), row("b", 1.0, "untimed"),
            dict(row("b", 0.0, "odd"), info={"seconds": "2"}),
            dict(row("b", 0.0, "odder"), info={"seconds": float("nan")})]  # fmt: skip
    slowest = step_health(rows)["slowest"]
    assert [entry["completion"] for entry in slowest] == ["slow", "quick"]
    assert slowest[0]["seconds"] == 2.5


def test_scored_lines_carry_each_samples_check_time(tmp_path):
    scored = tmp_path / "scored.jsonl"
    done = subprocess.run(
        [str(CLI), "score", str(Path(__file__).resolve().parents[2] / "examples" / "ifeval"
                                / "group.jsonl"),
         "--reward", "ifeval", "-o", str(scored), "--timings"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode in (0, 1), done.stderr
    seconds = [json.loads(line)["info"]["seconds"] for line in scored.read_text().splitlines()]
    assert len(seconds) == 7 and all(isinstance(v, float) and v > 0 for v in seconds)


def test_math_lines_carry_their_reading_and_pool_time(tmp_path):
    """`math` checks samples in batches: each line's time is its own reading plus its
    check in the worker pool, from submission to outcome."""
    scored = tmp_path / "scored.jsonl"
    root = Path(__file__).resolve().parents[2]
    batch, pipeline = (
        root / "examples" / "math_grpo.jsonl",
        root / "examples" / "math_pipeline.yaml",
    )
    command = [str(CLI), "score", str(batch), "--reward", str(pipeline), "-o", str(scored)]
    command.append("--timings")
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode in (0, 1), done.stderr
    seconds = [json.loads(line)["info"].get("seconds") for line in scored.read_text().splitlines()]
    assert len(seconds) == 48 and all(isinstance(v, float) and v > 0 for v in seconds)
    page = tmp_path / "report.html"
    subprocess.run([str(CLI), "report", str(scored), "-o", str(page)], check=True, timeout=300)
    assert "<h2>Slowest samples</h2>" in page.read_text()


def test_two_rewards_on_the_same_rollouts():
    rows = [row("a", 1.0, "a1"), row("a", 0.0, "a2"), row("a", 0.5, "a3"),
            row("b", 1.0, "b1"), row("b", 0.0, "b2")]  # fmt: skip
    same = two_rewards(rows, [dict(r, reward=2 * r["reward"] + 1) for r in rows])
    assert same["spearman"] == pytest.approx(1.0) and same["starc_distance"] == pytest.approx(0.0)
    assert same["only_first_right"] == 0 and same["furthest_apart"] == []
    flipped = two_rewards(rows, [dict(r, reward=1.0 - r["reward"]) for r in rows])
    assert flipped["spearman"] == pytest.approx(-1.0)
    assert flipped["starc_distance"] == pytest.approx(1.0)
    # right by the first only: a1 and b1 (and a3 at 0.5 is right by both)
    assert (flipped["only_first_right"], flipped["only_second_right"]) == (2, 2)
    assert {e["completion"] for e in flipped["furthest_apart"]} <= {"a1", "a2", "b1", "b2"}
    unscored = [dict(r, status="invalid") if r["completion"] == "a3" else r for r in rows]
    assert two_rewards(rows, unscored)["samples"] == 4


def test_rewards_are_compared_only_on_the_same_rollouts():
    rows = [row("a", 1.0, "x"), row("a", 0.0, "y")]
    assert rollout_mismatch(rows, [dict(r) for r in rows]) == ""
    assert "1 scored samples, expected 2" in rollout_mismatch(rows, rows[:1])
    swapped = [rows[1], rows[0]]
    assert rollout_mismatch(rows, swapped) == "line 1: not the same rollout (completion differs)"


def test_cli_compares_two_rewards_scored_on_the_same_rollouts(tmp_path):
    root = Path(__file__).resolve().parents[2]
    batch = root / "examples" / "math_grpo.jsonl"
    outputs = {}
    for name, reward in (
        ("math", "math"),
        ("pipeline", str(root / "examples" / "math_pipeline.yaml")),
    ):
        outputs[name] = tmp_path / f"{name}.jsonl"
        command = [str(CLI), "score", str(batch), "--reward", reward, "-o", str(outputs[name])]
        subprocess.run(command, capture_output=True, timeout=600, check=False)
    page, numbers = tmp_path / "report.html", tmp_path / "report.json"
    command = [str(CLI), "report", str(outputs["pipeline"]), "--versus", str(outputs["math"]),
               "-o", str(page), "--json", str(numbers)]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=300)
    versus = json.loads(numbers.read_text())["versus"]
    assert versus["samples"] == 48 and versus["file"] == str(outputs["math"])
    # the two agree on every right and wrong answer, and order the wrong ones differently:
    # the pipeline pays a format bonus and takes 0.5 off an answer that is not there
    assert versus["only_first_right"] == versus["only_second_right"] == 0
    assert 0.0 < versus["starc_distance"] < 1.0 and versus["spearman"] < 1.0
    assert -0.5 in [entry["reward"] for entry in versus["furthest_apart"]]
    assert "<h2>Two rewards on the same rollouts</h2>" in page.read_text()
    other = tmp_path / "other.jsonl"
    other.write_text("".join(reversed(outputs["math"].read_text().splitlines(keepends=True))))
    command = [
        str(CLI),
        "report",
        str(outputs["pipeline"]),
        "--versus",
        str(other),
        "-o",
        str(page),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and "line 1: not the same rollout" in done.stderr
