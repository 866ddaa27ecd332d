"""Input as users have it: other field names, reference aliases, chat completions, one
warning per kind of problem, invalid samples kept out of the statistics, and --fail-on."""

from __future__ import annotations

import json

import pytest

from tests.cli.helpers import flat, read_jsonl, run_cli, write_rows

CHAT = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "1+1?"},
    {"role": "assistant", "content": "So \\boxed{2}"},
]


def score(tmp_path, rows, *args):
    source = write_rows(tmp_path / "in.jsonl", rows)
    out = tmp_path / "out.jsonl"
    summary = tmp_path / "summary.json"
    result = run_cli(
        "score", source, "-r", "math", "-o", out, "--workers", "1", "--summary-json", summary, *args
    )
    scored = read_jsonl(out) if out.exists() else []
    return result, scored, (json.loads(summary.read_text()) if summary.exists() else {})


@pytest.mark.parametrize("alias", ["answer", "solution", "ground_truth"])
def test_reference_aliases_are_used_with_one_notice(tmp_path, alias):
    rows = [{"completion": "\\boxed{2}", alias: "2"}, {"completion": "\\boxed{3}", alias: "3"}]
    result, scored, _ = score(tmp_path, rows)
    assert result.returncode == 0, result.stderr
    assert [r["reward"] for r in scored] == [1.0, 1.0]
    assert flat(result.stderr).count(f"using `{alias}` as the reference (2 lines") == 1


def test_field_options_name_the_completion_and_the_reference(tmp_path):
    rows = [{"response": "\\boxed{5}", "gold": "5", "answer": "4"}]
    result, scored, _ = score(
        tmp_path, rows, "--completion-field", "response", "--reference-field", "gold"
    )
    assert result.returncode == 0, result.stderr
    assert scored[0]["reward"] == 1.0 and scored[0]["response"] == "\\boxed{5}"
    assert "using `answer`" not in result.stderr


def test_chat_completions_and_prompts_are_scored_from_the_last_assistant_message(tmp_path):
    rows = [
        {"prompt": CHAT[:2], "completion": CHAT, "reference": "2"},
        {
            "prompt": "1+1?",
            "completion": [CHAT[2], {"role": "user", "content": "ok"}],
            "reference": "2",
        },
        {"prompt": "1+1?", "completion": CHAT[:2], "reference": "2"},
    ]
    result, scored, _ = score(tmp_path, rows)
    assert [r["reward"] for r in scored] == [1.0, 1.0, None]
    assert scored[0]["completion"] == CHAT  # written back as it came
    assert "1 line: not scored: completion: no assistant message (e.g. line 3)" in flat(
        result.stderr
    )


def test_one_warning_per_kind_with_a_count_the_fields_seen_and_an_example(tmp_path):
    rows = [{"completion": "\\boxed{1}", "question": "q", "refrence": "1"}] * 412
    rows += [{"completion": "\\boxed{1}", "reference": "1"}] * 3 + ["{oops"] * 2
    source = tmp_path / "in.jsonl"
    source.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    result = run_cli("score", source, "-r", "math", "-o", out, "--workers", "1")
    stderr = flat(result.stderr)
    assert (
        "412 samples have no `reference`; fields seen: completion, question, refrence "
        "(e.g. line 1; choose one with --reference-field)" in stderr
    )
    assert stderr.count("have no `reference`") == 1
    assert "2 lines: not scored: not valid JSON" in stderr and "(e.g. line 416)" in stderr
    assert len(read_jsonl(out)) == 417


def test_invalid_samples_are_counted_apart_and_left_out_of_the_statistics(tmp_path):
    rows = [
        {"completion": "\\boxed{1}", "reference": "1", "group_id": "a"},
        {"completion": "\\boxed{2}", "reference": "1", "group_id": "a"},
        {"completion": "\\boxed{1}", "group_id": "b"},
        {"completion": "\\boxed{1}", "group_id": "b"},
    ]
    result, scored, summary = score(tmp_path, rows)
    assert result.returncode == 0
    assert [r["status"] for r in scored] == ["ok", "ok", "invalid", "invalid"]
    assert summary["reward"]["mean"] == 0.5 and summary["reward"]["n"] == 2
    assert summary["components"]["math"]["n"] == 2
    assert summary["statuses"] == {"ok": 2, "invalid": 2} and summary["invalid_samples"] == 2
    assert summary["groups"] == 1  # group b had nothing valid
    assert "status: invalid (excluded)" in result.stdout


def unreachable_judge(tmp_path):
    config = tmp_path / "judge.yaml"
    config.write_text(
        "reward:\n  type: judge_verify\n  judge:\n    base_url: http://127.0.0.1:9/v1\n"
        "    model: m\n    max_retries: 0\n    timeout_seconds: 5\n"
    )
    return config


def test_infrastructure_errors_fail_the_run_by_default(tmp_path):
    rows = [{"prompt": "q", "completion": "Paris", "reference": "Paris"}] * 3
    source = write_rows(tmp_path / "in.jsonl", rows)
    config = unreachable_judge(tmp_path)
    args = ("score", source, "-r", config, "-o", tmp_path / "out.jsonl")
    result = run_cli(*args)
    assert result.returncode == 1, result.stderr
    assert "3 samples: status error, judge_error: judge:" in flat(result.stderr)
    assert run_cli(*args, "--fail-on", "none").returncode == 0
    assert run_cli(*args, "--fail-on", "invalid").returncode == 0


def test_fail_on_invalid_and_a_bad_fail_on_value(tmp_path):
    rows = [{"completion": "\\boxed{1}"}]
    result, _, _ = score(tmp_path, rows, "--fail-on", "invalid")
    assert result.returncode == 1
    result, _, _ = score(tmp_path, rows, "--fail-on", "eror")
    assert result.returncode == 2
    assert "--fail-on: expected 'none' or some of error, timeout, invalid, unparseable" in flat(
        result.stderr
    )
