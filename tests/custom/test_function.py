"""`python`: plain functions as rewards, from YAML, code, the CLI and an adapter."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from rewardsmith import ConfigError, Reward, Status
from rewardsmith.adapters.trl import trl_reward
from tests.custom.rewards import brevity, exact

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("rewardsmith")


def spec(function, **params):
    return {"type": "python", "function": function, **params}


def score(function, rows, **params):
    with Reward.from_spec(spec(function, **params), workers=2) as reward:
        return reward.score(rows)


def test_a_function_named_in_the_spec_or_passed_scores_each_sample():
    rows = [{"completion": ""}, {"completion": "x" * 100}]
    by_name = score("tests.custom.rewards:brevity", rows)
    by_object = score(brevity, rows)
    assert [s.value for s in by_name] == [s.value for s in by_object] == [1.0, 0.5]
    assert all(s.ok and s.components == {"python": s.value} for s in by_name)


def test_named_arguments_only_those_declared_or_all_with_kwargs():
    rows = [
        {"completion": "4", "reference": "4", "meta": {"step": 7}, "label": 1},
        {"completion": "5", "reference": "4", "label": 0},
    ]
    [right, wrong] = score(exact, rows)
    assert (right.value, wrong.value) == (1.0, 0.0)
    assert right.info == {"python": {"seen": "4", "step": 7}}
    [first, _] = score("tests.custom.rewards:fields", rows)
    assert first.info["python"]["fields"] == ["completion", "label", "meta", "prompt", "reference"]
    assert [s.value for s in score("tests.custom.rewards:labelled", rows)] == [1.0, 0.0]


def test_a_sample_without_a_needed_field_is_invalid_alone():
    rows = [{"completion": "4", "reference": "4"}, {"completion": "4"}]
    [ok, missing] = score(exact, rows, fallback=-1.0)
    assert ok.value == 1.0 and ok.ok
    assert (missing.status, missing.value) == (Status.INVALID, -1.0)
    assert "reference: missing" in missing.info["python"]["error"]


HOSTILE = {
    "raise": (Status.ERROR, "ValueError: boom"),
    "nan": (Status.ERROR, "reward was nan, not finite"),
    "string": (Status.ERROR, "returned '1.0' (str); expected a number"),
    "no-reward": (Status.ERROR, "returned a dict without 'reward'"),
    "object-info": (Status.ERROR, "info that is not JSON data"),
    "sleep": (Status.TIMEOUT, "exceeded its time limit"),
    "invalid": (Status.INVALID, "completion: not what this reward reads"),
    "exit": (Status.ERROR, "raised SystemExit(3)"),
}


def test_each_failure_costs_only_its_own_sample():
    honest = [{"completion": "ab"}, {"completion": "abcd"}]
    hostile = [{"completion": text} for text in HOSTILE]
    function = "tests.custom.rewards:hostile"
    expected = score(function, honest, timeout=2)
    got = score(function, honest[:1] + hostile + honest[1:], timeout=2, fallback=-0.5)
    assert [got[0], got[-1]] == expected
    assert [s.value for s in expected] == [0.2, 0.4]
    for (status, reason), result in zip(HOSTILE.values(), got[1:-1], strict=True):
        assert (result.status, result.value) == (status, -0.5), result.info
        assert reason in result.info["python"]["error"] or reason in str(result.info)


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("tests.custom.rewards", r"reward\.function: expected package\.module:name"),
        ("tests.custom.rewards:", r"expected package\.module:name"),
        ("no_such_module:fn", r"reward\.function: cannot load no_such_module:fn: Module"),
        ("tests.custom.rewards:missing", r"AttributeError"),
        ("tests.custom.rewards:time", r"is a module, not a function"),
        ("tests.custom.rewards:positional", r"takes completion by position only"),
        (lambda completion: 1.0, r"cannot be imported by name; define it at the top level"),
    ],
)
def test_bad_functions_are_config_errors(function, message):
    with pytest.raises(ConfigError, match=message):
        Reward.from_spec(spec(function))


def write_script(path: Path, body: str) -> Path:
    path.write_text(textwrap.dedent(body))
    return path


def test_from_yaml_on_the_command_line_with_the_module_next_to_the_yaml(tmp_path):
    write_script(
        tmp_path / "my_rewards.py",
        """
        def ends_with_answer(completion, reference):
            return {"reward": float(completion.rstrip(".").endswith(str(reference))), "n": 1}
        """,
    )
    config = tmp_path / "reward.yaml"
    config.write_text("reward: {type: python, function: my_rewards:ends_with_answer}\n")
    data = tmp_path / "in.jsonl"
    rows = [{"completion": "It is 4.", "reference": 4}, {"completion": "It is 5.", "reference": 4}]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    out = tmp_path / "out.jsonl"
    result = subprocess.run(
        [str(CLI), "score", str(data), "--reward", str(config), "-o", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,  # not the YAML's directory: the module is found next to the YAML
    )
    assert result.returncode == 0, result.stderr
    scored = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["reward"] for r in scored] == [1.0, 0.0]
    assert scored[0]["info"] == {"python": {"n": 1}}


def test_through_the_trl_adapter():
    accuracy = trl_reward(spec("tests.custom.rewards:exact"), workers=1)
    try:
        values = accuracy(prompts=["2+2?", "2+2?"], completions=["4", "5"], solution=["4", "4"])
    finally:
        accuracy.close()
    assert values == [1.0, 0.0]


SCRIPT = """
from rewardsmith import Reward

def shout(completion):
    return float(completion.isupper())

{guard}
    with Reward.from_spec({{"type": "python", "function": shout}}, workers=2) as reward:
        print([(s.value, s.status.value, s.info) for s in reward.score([{{"completion": "HI"}}])])
"""


def run_script(tmp_path: Path, guard: str) -> subprocess.CompletedProcess:
    script = write_script(tmp_path / "train.py", SCRIPT.format(guard=guard))
    return subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )


def test_a_function_in_a_guarded_script_runs_in_the_workers(tmp_path):
    result = run_script(tmp_path, 'if __name__ == "__main__":')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[(1.0, 'ok', {})]"


def test_a_script_without_the_main_guard_is_told_what_to_do(tmp_path):
    result = run_script(tmp_path, "if True:")
    fix = 'put the script\'s work under `if __name__ == "__main__":`'
    # each worker re-ran the script, and exits at once saying so
    assert f"this worker process is running {tmp_path / 'train.py'} again" in result.stderr
    assert fix in result.stderr
    # the script's own samples fail with the reason and the fix
    assert "'error'" in result.stdout
    assert f'{tmp_path / "train.py"} has no `if __name__ == "__main__":` guard' in result.stdout
    assert "[(1.0, 'ok'" not in result.stdout
