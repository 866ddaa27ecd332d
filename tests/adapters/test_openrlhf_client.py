"""The Python-file form (`--remote_rm_url .../openrlhf_reward_func.py`) called by
OpenRLHF 0.11.2's own executor: one query per call, from several threads at once."""

from __future__ import annotations

import pytest

import rewardsmith.adapters.openrlhf_reward_func as reward_func_file
from tests.openrlhf_client import rollouts

pytestmark = pytest.mark.slow

PROMPT = "<|im_start|>user\nWhat is 6 * 7?<|im_end|>\n<|im_start|>assistant\n"


def test_the_file_form_scores_each_rollout_openrlhf_sends(monkeypatch):
    monkeypatch.setenv("REWARDSMITH_REWARD", "math")
    monkeypatch.setenv("REWARDSMITH_WORKERS", "1")
    responses = [
        "Six sevens are forty-two, so \\boxed{42}<|im_end|>",
        "I think it is \\boxed{48}<|im_end|>",
        "It is \\boxed{42} or \\boxed{48}<|im_end|>",  # a hedge
        "<|im_end|>",  # nothing said
    ] * 2
    outputs = rollouts(reward_func_file.__file__, PROMPT, 42, responses)  # a raw int label
    assert [o["reward"].tolist() for o in outputs] == [[1.0], [0.0], [0.0], [0.0]] * 2
    assert [o["extra_logs"]["status_ok"].tolist() for o in outputs] == [[1.0]] * 8


@pytest.mark.parametrize(
    ("label", "reward", "status_ok"),
    [({"answer": 42}, 1.0, 1.0), ({"solution_id": 7}, 0.0, 0.0), ([42], 0.0, 0.0)],
)
def test_labels_of_any_json_type_cost_at_most_their_own_rollout(
    monkeypatch, label, reward, status_ok
):
    monkeypatch.setenv("REWARDSMITH_REWARD", "math")
    monkeypatch.setenv("REWARDSMITH_WORKERS", "1")
    [output] = rollouts(reward_func_file.__file__, PROMPT, label, ["So \\boxed{42}<|im_end|>"])
    assert output["reward"].tolist() == [reward]  # math's fallback when unusable, never None
    assert output["extra_logs"]["status_ok"].tolist() == [status_ok]
