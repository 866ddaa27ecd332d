"""Discovering rewards: `components`, `explain NAME`, `schema`, `--version`, and "did
you mean" for misspelt names and keys."""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml

from rewardsmith.catalog import example, families, reward_file_schema
from rewardsmith.core.config import REGISTRY, ConfigError
from rewardsmith.core.pipeline import Reward
from rewardsmith.custom.function import load_function
from tests.cli.helpers import flat, run_cli, write_rows

ROOT = Path(__file__).resolve().parents[2]

# the tests register components of their own, which a `rewardsmith` process does not have
BUILT_IN = sorted(
    kind for kind, cls in REGISTRY.items() if cls.__module__.startswith("rewardsmith.")
)


def test_components_lists_every_component_once_under_its_family():
    result = run_cli("components")
    assert result.returncode == 0, result.stderr
    listed = re.findall(r"^  (\w+) ", result.stdout, flags=re.MULTILINE)
    assert sorted(listed) == BUILT_IN
    headers = [line for line in result.stdout.splitlines() if line and not line[0].isspace()]
    assert headers[:-1] == [label for label in families() if label != "registered by your code"]
    assert "combinators" in headers and "verifiers (rule-based correctness)" in headers


@pytest.mark.parametrize("kind", BUILT_IN)
def test_every_example_builds(kind, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # likelihood's example names a local model directory
    model = tmp_path / "path/to/local/model"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    shutil.copy(ROOT / "examples" / "custom" / "rewards.py", tmp_path)  # python's function
    # python's example names `rewards:concise`: make it this copy, not a module named
    # `rewards` that an earlier test left importable or imported
    monkeypatch.syspath_prepend(tmp_path)
    monkeypatch.delitem(sys.modules, "rewards", raising=False)
    load_function.cache_clear()
    with Reward.from_spec(example(kind)) as reward:
        assert reward.root.kind == kind


def test_explain_prints_parameters_and_a_yaml_example_that_builds(tmp_path):
    result = run_cli("explain", "gate")
    assert result.returncode == 0, result.stderr
    text = flat(result.stdout)
    for expected in [
        "threshold: float = 1.0",
        "penalty: float = 0.0",
        "condition: component node = required",
    ]:
        assert expected in text
    printed = result.stdout[result.stdout.rindex("\nreward:\n") :]
    config = tmp_path / "gate.yaml"
    config.write_text(printed)
    assert yaml.safe_load(printed)["reward"] == example("gate")
    source = write_rows(tmp_path / "in.jsonl", [{"completion": "\\boxed{1}", "reference": "1"}])
    scored = run_cli("score", source, "-r", config, "-o", tmp_path / "out.jsonl")
    assert scored.returncode == 0, scored.stderr


def test_explain_shows_schema_descriptions():
    result = run_cli("explain", "math")
    assert "seconds per symbolic check" in flat(result.stdout)


def test_explain_an_unknown_name_suggests_the_closest():
    result = run_cli("explain", "mth")
    assert result.returncode == 2
    assert "unknown component 'mth'; did you mean 'math'?" in flat(result.stderr)


def test_schema_accepts_every_example_and_rejects_a_misspelt_key(tmp_path):
    result = run_cli("schema", "-o", tmp_path / "schema.json")
    assert result.returncode == 0, result.stderr
    schema = json.loads((tmp_path / "schema.json").read_text())
    assert schema["properties"]["reward"] == reward_file_schema()["properties"]["reward"]
    jsonschema.Draft202012Validator.check_schema(schema)
    for kind in BUILT_IN:
        jsonschema.validate({"reward": example(kind), "workers": 2}, schema)
    jsonschema.validate({"reward": "math"}, schema)
    nested = {"reward": {"type": "weighted_sum", "of": [{"type": "math", "timeout": 2}]}}
    jsonschema.validate(nested, schema)
    for bad in [
        {"reward": {"type": "math", "timout": 2}},
        {"reward": {"type": "weighted_sum", "of": [{"type": "mth"}]}},
        {"reward": "math", "workerz": 2},
    ]:
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.validate(bad, schema)


def test_version():
    result = run_cli("--version")
    assert result.returncode == 0 and re.fullmatch(r"rewardsmith \S+\n", result.stdout)


@pytest.mark.parametrize(
    ("spec", "hint"),
    [
        ({"type": "mth"}, "did you mean 'math'?"),
        ({"type": "math", "timout": 2}, "did you mean 'timeout'?"),
        ({"type": "clip", "of": "math", "hihg": 1}, "did you mean 'high'?"),
        ({"type": "gate", "condition": "format", "reward": "math", "treshold": 1}, "'threshold'"),
    ],
)
def test_config_errors_suggest_the_closest_name(spec, hint):
    with pytest.raises(ConfigError, match=re.escape(hint)):
        Reward.from_spec(spec)


def test_a_misspelt_builtin_reward_name_suggests_the_closest(tmp_path):
    source = write_rows(tmp_path / "in.jsonl", [{"completion": "x"}])
    result = run_cli("score", source, "-r", "choise", "-o", tmp_path / "o.jsonl")
    assert result.returncode == 2 and "did you mean 'choice'?" in flat(result.stderr)
