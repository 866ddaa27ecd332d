"""Reward.score: grouping, order, malformed samples, and the Python entry points."""

from __future__ import annotations

import asyncio

import pytest

import rewardsmith
from rewardsmith import Sample, Status
from rewardsmith.core.pipeline import Reward, group_key, parse_sample


def test_groups_by_group_id_then_prompt_and_keeps_input_order():
    seen: list[list[str]] = []
    reward = Reward.from_spec({"type": "meta_value"})
    original = reward.root.score_batch

    def spy(groups):
        seen.extend([[s.completion for s in g.samples] for g in groups])
        return original(groups)

    reward.root.score_batch = spy
    samples = [
        {"prompt": "p1", "completion": "a", "meta": {"value": 1}},
        {"prompt": "p2", "completion": "b", "meta": {"value": 2}},
        {"prompt": "p1", "completion": "c", "meta": {"value": 3}},
        {"prompt": "p1", "completion": "d", "group_id": 7, "meta": {"value": 4}},
    ]
    assert [s.value for s in reward.score(samples)] == [1, 2, 3, 4]
    assert seen == [["a", "c"], ["b"], ["d"]]


def test_chat_prompts_and_extra_fields():
    sample = parse_sample(
        {"prompt": [{"role": "user", "content": "hi"}], "completion": "x", "source": "gsm8k"}
    )
    assert sample.prompt_text == "hi"
    assert sample.model_extra == {"source": "gsm8k"}
    assert group_key(sample) == "prompt:hi"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"prompt": "p"}, "completion: missing (expected a string)"),
        ({"completion": None}, "completion: Input should be a valid string"),
        ({"completion": "x", "meta": []}, "meta: Input should be a valid dictionary"),
        ({"completion": "x", "prompt": [{"role": "user"}]}, "prompt:"),
        ("just text", "expected a JSON object, got str"),
        (
            {"completion": "x", "meta": {"step": "never"}},
            "meta.step: expected the training step as an integer, got 'never'",
        ),
        ({"completion": "x", "meta": {"step": float("nan")}}, "meta.step: expected"),
        ({"completion": "x", "meta": {"step": True}}, "meta.step: expected"),
    ],
)
def test_malformed_samples_become_invalid_scores(data, message):
    scores = Reward.from_spec({"type": "meta_value"}).score(
        [data, {"completion": "ok", "meta": {"value": 5}}]
    )
    assert scores[0].status is Status.INVALID
    assert message in scores[0].info["error"]
    assert scores[1].value == 5 and scores[1].ok


def test_score_and_load_reward_entry_points():
    samples = [
        Sample(completion="3x = 36, so \\boxed{12}", reference="12", group_id="q"),
        Sample(completion="The answer is 11 or 12.", reference="12", group_id="q"),
    ]
    scores = rewardsmith.score(samples, reward="math", workers=1)
    assert [s.value for s in scores] == [1.0, 0.0]
    with rewardsmith.load_reward("math", workers=1) as reward:
        again = asyncio.run(reward.ascore(samples))
    assert [s.value for s in again] == [1.0, 0.0]
    assert rewardsmith.score([], reward="qa") == []


def test_public_reward_knows_the_built_ins_in_a_fresh_interpreter():
    import subprocess
    import sys

    code = (
        "import rewardsmith\n"
        "r = rewardsmith.Reward.from_spec({'type': 'weighted_sum', 'of': ['math', 'qa']})\n"
        "print(sorted(rewardsmith.__all__)[0], [p.name for p in r.root.children()])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "Advantages ['math', 'qa']"


def test_a_completion_that_is_not_valid_unicode_is_refused_alone():
    """A JSON `\\udce2` escape decodes to a lone surrogate, which no tokenizer, judge or
    hash can take as text: the sample is refused with the reason, the rest is scored."""
    scores = Reward.from_spec({"type": "meta_value"}).score(
        [
            {"completion": "4 \udce2", "meta": {"value": 1}},
            {"completion": "ok", "meta": {"value": 5}},
        ]
    )
    assert scores[0].status is Status.INVALID
    assert scores[0].info["error"] == (
        "completion: not valid Unicode (a lone surrogate at character 2); "
        "expected text that UTF-8 can encode"
    )
    assert scores[1].value == 5 and scores[1].ok
