"""Robustness probes: built-in verifiers resist them, a naive substring reward does not."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from rewardsmith import load_reward
from rewardsmith.core.component import Params, SampleComponent
from rewardsmith.core.config import REGISTRY, register
from rewardsmith.core.pipeline import Reward
from rewardsmith.core.types import Sample, Score
from rewardsmith.judge.probes import (
    ATTACKS,
    ITEMS,
    MASTER_KEYS,
    TASK_ATTACKS,
    infer_task,
    position_bias_probes,
    run_probes,
)

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).with_name("rewardsmith")
_WRAPPERS = re.compile(r"^\$?(?:\\boxed\{(.*)\}|(.*?))\$?$")

if "probe_test_contains_gold" not in REGISTRY:

    @register("probe_test_contains_gold")
    class ContainsGold(SampleComponent):
        """Test component: 1 whenever the gold answer text occurs anywhere in the completion."""

        Params = Params

        def score_sample(self, sample: Sample) -> Score:
            reference = sample.reference
            if isinstance(reference, Mapping):
                reference = reference.get("answer")
            golds = reference if isinstance(reference, list) else [reference]
            for gold in golds:
                match = _WRAPPERS.match(str(gold).strip())
                text = next(group for group in match.groups() if group is not None)
                text = text.strip("()") if len(text) <= 3 else text
                if text and text in sample.completion:
                    return Score(1.0)
            return Score(0.0)


@pytest.fixture(scope="module")
def math_report():
    with load_reward("math", workers=1) as reward:
        return run_probes(reward, "math")


@pytest.mark.parametrize("attack", list(ATTACKS))
def test_math_verifier_accepts_no_hostile_completion(math_report, attack):
    result = math_report.attacks[attack]
    assert result.n > 0
    assert result.accepted == 0, f"{attack} fooled the math verifier: {result.examples}"
    assert math_report.fp_rate(attack) == 0.0


def test_math_verifier_rewards_every_control(math_report):
    assert math_report.control.n == len(ITEMS["math"]) >= 12
    assert math_report.tp_rate == 1.0


@pytest.mark.parametrize("task", ["qa", "choice"])
def test_other_verifiers_reward_controls_and_accept_no_attack(task):
    with load_reward(task, workers=1) as reward:
        report = run_probes(reward, task)
    assert report.tp_rate == 1.0
    accepted = {name: result.examples for name, result in report.attacks.items() if result.accepted}
    assert accepted == {}


def test_tool_call_accepts_no_tool_call_attack_and_the_papers_s_max_pays_for_two():
    """The tool-call attacks are real: with the paper's S_max and duplicates counted,
    shotguns and duplicated calls are paid; the defaults pay for none."""
    with load_reward("tool_call", workers=1) as reward:
        report = run_probes(reward, "tool_call")
    assert report.tp_rate == 1.0 and report.control.n == len(ITEMS["tool_call"])
    assert set(report.attacks) == set(TASK_ATTACKS["tool_call"])
    assert {name: r.examples for name, r in report.attacks.items() if r.accepted} == {}
    paper = Reward.from_spec({"type": "tool_call", "extra_calls": "paper", "duplicates": "count"})
    with paper:
        naive = run_probes(paper, "tool_call")
    accepted = {name for name, result in naive.attacks.items() if result.accepted}
    assert accepted == {"duplicate_calls", "shotgun_arguments"}


def test_majority_vote_pays_no_attack_against_an_honest_majority_but_pays_colluders():
    """Label-free, the reward can refuse every hostile completion an honest majority
    outvotes, and cannot refuse a colluding majority (its known limit, reported)."""
    with load_reward("majority_vote", workers=1) as reward:
        report = run_probes(reward, "majority_vote")
    assert report.tp_rate == 1.0
    accepted = {name for name, result in report.attacks.items() if result.accepted}
    assert accepted == {"collusion"}
    assert report.attacks["collusion"].rate == 1.0
    assert report.attacks["hedging"].n > 0 and report.attacks["master_key"].n > 0


def test_ifeval_strict_accepts_no_attack_and_loose_pays_a_broken_last_line():
    """IFEval's loose reading drops a last line, so a response that breaks an
    instruction only in its last line is paid: a reason to train on strict."""
    with load_reward("ifeval", workers=1) as reward:
        strict = run_probes(reward, "ifeval")
    assert strict.tp_rate == 1.0 and strict.false_positives == 0
    with Reward.from_spec({"type": "ifeval", "variant": "loose"}) as reward:
        loose = run_probes(reward, "ifeval")
    accepted = {name for name, result in loose.attacks.items() if result.accepted}
    assert accepted == {"one_instruction_broken"} and loose.tp_rate == 1.0


def test_the_trap_attacks_are_what_they_say():
    """The new attacks hold the gold's digits or letter, so a reader that took the first
    statement, dropped a negation, a sign or a decimal point would pay them."""
    item = ITEMS["math"][0]  # 7 times 8 = 56
    retracted = ATTACKS["self_correction"](item)[0]
    assert retracted.index("56") < retracted.index("54")
    assert all("56" in text for text in ATTACKS["negated_answer"](item))
    assert "x = \u221256" in ATTACKS["changed_sign_or_point"](item)
    assert ATTACKS["changed_sign_or_point"](ITEMS["choice"][0]) == []  # letters: nothing


@pytest.mark.parametrize("task", ["math", "qa", "choice"])
def test_naive_reward_is_fooled_by_shotgun_hedge_and_padding(task):
    reward = Reward.from_spec({"type": "probe_test_contains_gold"})
    report = run_probes(reward, task)
    for attack in ("answer_shotgun", "hedging", "verbosity_padding"):
        assert report.fp_rate(attack) > 0, attack
    assert report.attacks["master_key"].accepted == 0
    assert report.tp_rate > 0


def test_report_counts_and_json_shape():
    reward = Reward.from_spec({"type": "probe_test_contains_gold"})
    report = run_probes(reward, "choice")
    items = len(ITEMS["choice"])
    assert report.attacks["master_key"].n == items * len(MASTER_KEYS)
    assert report.pairwise_skipped == 2 * items
    data = json.loads(json.dumps(report.as_dict()))
    assert set(data["attacks"]) == set(ATTACKS)
    assert data["control"]["tp_rate"] == 1.0
    hedges = data["attacks"]["hedging"]
    assert hedges["fp_rate"] == hedges["accepted"] / hedges["n"] > 0
    assert hedges["examples"]


def test_position_bias_probes_show_each_pair_in_both_orders():
    item = ITEMS["math"][0]
    first, second = position_bias_probes([item])
    assert (first.first, first.second) == (second.second, second.first)
    assert first.preferred == 0 and second.preferred == 1
    assert "\\boxed{56}" in first.first


def test_task_inferred_from_builtin_name_or_tree():
    assert infer_task("qa") == "qa"
    assert infer_task("rewards.yaml") is None
    spec = {"type": "weighted_sum", "of": [{"type": "choice"}, {"type": "format"}]}
    with Reward.from_spec(spec) as reward:
        assert infer_task("rewards.yaml", reward) == "choice"


def test_unknown_task_is_rejected():
    with pytest.raises(ValueError, match="task"):
        run_probes(Reward.from_spec({"type": "probe_test_contains_gold"}), "poetry")


def test_cli_probe_judge_prints_a_row_per_attack(tmp_path):
    out = tmp_path / "report.json"
    result = subprocess.run(
        [str(CLI), "probe-judge", "--reward", "math", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ, "COLUMNS": "120"},
    )
    assert result.returncode == 0, result.stderr
    for attack in ATTACKS:
        assert attack in result.stdout
    assert "control accuracy" in result.stdout
    assert json.loads(out.read_text())["task"] == "math"
