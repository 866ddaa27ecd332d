"""The README's verl commands against the real verl: its config schema takes the keys,
its trainer reads rewardsmith as the custom reward function, and the rewards it puts in
its reward tensor are rewardsmith's. verl 0.9 runs in this process, verl 0.7.0 in a
process of its own (`make setup` installs both: see the Makefile)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import rewardsmith.adapters.verl as verl_adapter
from rewardsmith.adapters.verl import verl_sample
from rewardsmith.adapters.verl_check import check, problems
from rewardsmith.api import load_reward
from tests.adapters import verl_reward_run
from tests.adapters.conftest import PIPELINE, ROOT

try:
    import verl  # noqa: F401
except ImportError:
    if os.environ.get("CI") == "true":
        raise
    pytest.skip("verl: not installed (`make setup` installs it)", allow_module_level=True)

pytestmark = pytest.mark.slow

FILE = verl_adapter.__file__
# The README's overrides, per verl version range.
REWARD_LOOP_KEYS = [  # 0.7.1 on
    f"reward.custom_reward_function.path={FILE}",
    "reward.custom_reward_function.name=compute_score_async",
]
BATCH_KEYS = [  # 0.5.0-0.7.0
    "reward_model.reward_manager=batch",
    f"custom_reward_function.path={FILE}",
    "custom_reward_function.name=compute_score_batch",
]
OLD_VERL = Path(sys.prefix) / "verl-0.7.0"


@pytest.fixture
def reward_env(monkeypatch):
    monkeypatch.setenv("REWARDSMITH_REWARD", str(PIPELINE))
    monkeypatch.setenv("REWARDSMITH_WORKERS", "1")


@pytest.fixture(scope="module")
def expected() -> list[float]:
    """rewardsmith's rewards for the batch, scored directly."""
    samples = [
        verl_sample(verl_reward_run.DATA_SOURCE, completion, truth, {"index": row, "question": q})
        for q, truth, completion, row in verl_reward_run.SAMPLES
    ]
    with load_reward(PIPELINE, workers=1) as reward:
        values = [score.value for score in reward.score(samples)]
    assert len(set(values)) >= 3  # right, wrong and unformatted answers differ
    return values


@pytest.mark.parametrize("name", ["compute_score", "compute_score_async"])
def test_reward_loop_puts_rewardsmiths_rewards_in_its_tensor(reward_env, expected, tmp_path, name):
    overrides = [REWARD_LOOP_KEYS[0], f"reward.custom_reward_function.name={name}"]
    assert check(overrides)[0] == []
    rewards = verl_reward_run.verl_rewards(overrides, tmp_path)
    assert rewards == pytest.approx(expected, abs=1e-6)


def test_the_keys_of_verl_0_7_0_are_reported_as_ignored_by_verl_0_9():
    found, reward_fn = check(BATCH_KEYS)
    assert reward_fn is None  # verl's own reading: it would call no custom function
    for key in ("custom_reward_function.path", "custom_reward_function.name"):
        assert any(p.startswith(f"{key}=") and "ignores this key" in p for p in found)
    assert any(p.startswith("reward_model.reward_manager=batch") for p in found)
    assert any(p.startswith("no custom reward function") for p in found)


def test_mismatched_forms_and_managers_are_reported():
    batch_name = "reward.custom_reward_function.name=compute_score_batch"
    found, _ = check([REWARD_LOOP_KEYS[0], batch_name])
    assert found == [
        "the 'naive' reward manager calls the function once per sample, but it is "
        "rewardsmith's batch form: name compute_score or compute_score_async"
    ]
    found, _ = check([*REWARD_LOOP_KEYS, "reward.reward_manager.name=batch"])
    assert len(found) == 1 and found[0].startswith("reward manager 'batch'")


def test_version_rules_without_that_verl_installed():
    scorer = verl_adapter.compute_score
    batch_config = {"reward_model": {"reward_manager": "batch"}}
    assert problems(batch_config, "0.7.0", scorer.batch) == []
    assert "once per batch" in problems(batch_config, "0.6.1", scorer)[0]
    naive_config = {"reward": {"reward_manager": {"name": "naive"}}}
    assert problems(naive_config, "0.8.0", scorer.acall) == []
    assert "built-in rules" in problems(naive_config, "0.8.0", None)[0]


def run_old_verl(*args: str) -> subprocess.CompletedProcess:
    if not OLD_VERL.is_dir():
        reason = f"{OLD_VERL}: missing; `make setup` installs verl 0.7.0 there"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason}; CI must test the verl 0.5-0.7.0 command")
        pytest.skip(reason)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(OLD_VERL), str(ROOT)])}
    return subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, timeout=240
    )


def test_batch_manager_of_verl_0_7_0_puts_rewardsmiths_rewards_in_its_tensor(
    reward_env, expected, tmp_path
):
    checked = run_old_verl("-m", "rewardsmith.adapters.verl_check", *BATCH_KEYS)
    assert checked.returncode == 0, checked.stderr
    assert "verl 0.7.0 calls rewardsmith's batch form" in checked.stdout
    run = run_old_verl(verl_reward_run.__file__, str(tmp_path), *BATCH_KEYS)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout.splitlines()[-1]) == pytest.approx(expected, abs=1e-6)


def test_verl_0_7_0_rejects_the_keys_of_0_7_1():
    checked = run_old_verl("-m", "rewardsmith.adapters.verl_check", *REWARD_LOOP_KEYS)
    assert checked.returncode != 0
    assert "Could not override 'reward.custom_reward_function.path'" in checked.stderr
