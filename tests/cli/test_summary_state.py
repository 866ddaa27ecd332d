"""The summary GRPO users read (std, min, max, zero-std groups, reasons for 0 by code,
where the output and the state went), and state that is fresh unless named."""

from __future__ import annotations

import json
import re

from tests.cli.helpers import flat, read_jsonl, run_cli, write_rows

CEEH = "reward:\n  type: length_ceeh\n  correct: {type: math}\n"


def test_summary_json_has_spread_zero_std_groups_and_reasons_by_code(tmp_path):
    rows = [
        {"completion": "The answer is B.", "reference": "B", "group_id": "a"},
        {"completion": "The answer is C.", "reference": "B", "group_id": "a"},
        {"completion": "B or C, maybe.", "reference": "B", "group_id": "b"},
        {"completion": "I do not know", "reference": "B", "group_id": "b"},
        {"completion": "The answer is D.", "reference": "B", "group_id": "c"},
    ]
    source = write_rows(tmp_path / "in.jsonl", rows)
    out, summary_path = tmp_path / "out.jsonl", tmp_path / "summary.json"
    result = run_cli("score", source, "-r", "choice", "-o", out, "--summary-json", summary_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(summary_path.read_text())
    assert summary["components"]["choice"] == {
        "n": 5,
        "mean": 0.2,
        "std": 0.4,
        "min": 0.0,
        "max": 1.0,
    }
    assert (summary["groups"], summary["zero_std_groups"]) == (3, 2)
    assert summary["frac_reward_zero_std"] == 2 / 3
    assert summary["zero_reasons"] == {"wrong_option": 2, "several_options": 1, "no_option": 1}
    assert summary["output"] == str(out) and summary["state"].startswith("memory://")
    text = flat(result.stdout)
    assert re.search(r"mean ┃ +std ┃ +min ┃ +max ┃ samples", text)
    assert re.search(r"groups with zero std +│ 0\.6667 │.*│ +2/3 │", text)
    assert re.search(r"0 because: wrong_option +│.*│ +2 │", text)
    assert f"output: {out}" in text and "state store: memory:// (fresh" in text


def test_state_is_fresh_per_run_unless_a_store_is_named(tmp_path):
    config = tmp_path / "ceeh.yaml"
    config.write_text(CEEH)
    short = write_rows(
        tmp_path / "short.jsonl", [{"prompt": "q", "completion": "\\boxed{4}", "reference": "4"}]
    )
    long = write_rows(
        tmp_path / "long.jsonl",
        [{"prompt": "q", "completion": "x" * 400 + " \\boxed{4}", "reference": "4"}] * 2,
    )

    def rewards(source, *args):
        out = tmp_path / "out.jsonl"
        result = run_cli("score", source, "-r", config, "-o", out, "--workers", "1", *args)
        assert result.returncode == 0, result.stderr
        return [r["reward"] for r in read_jsonl(out)], flat(result.stdout)

    alone, _ = rewards(long)
    run_cli("score", short, "-r", config, "-o", tmp_path / "o.jsonl")
    assert rewards(long)[0] == alone == [1.0, 1.0]  # the short run left nothing behind
    assert not (tmp_path / ".rewardsmith").exists()

    state = f"sqlite:///{tmp_path / 'state.sqlite'}"
    _, text = rewards(short, "--state", state)
    assert f"state store: {state} (records read: 0, written: 1)" in text
    carried, text = rewards(long, "--state", state)
    assert carried[0] < 1.0  # the remembered shortest correct answer is much shorter
    assert f"state store: {state} (records read: 1, written: 1)" in text


def test_the_reward_files_state_is_used_without_state_option(tmp_path):
    store = tmp_path / "kept.sqlite"
    config = tmp_path / "ceeh.yaml"
    config.write_text(CEEH + f"state: sqlite:///{store}\n")
    source = write_rows(
        tmp_path / "in.jsonl", [{"prompt": "q", "completion": "\\boxed{4}", "reference": "4"}]
    )
    result = run_cli("score", source, "-r", config, "-o", tmp_path / "out.jsonl", "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert store.exists() and f"state store: sqlite:///{store}" in flat(result.stdout)
