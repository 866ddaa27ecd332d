"""`answered`: math's own notion of "a final answer was given", as a gate condition."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rewardsmith import ConfigError, Reward, Status

ROOT = Path(__file__).resolve().parents[2]
GATED = {
    "type": "gate",
    "condition": {"type": "answered"},
    "reward": {"type": "math", "timeout": 5},
    "penalty": -0.5,
}
# Correct answers the example pipeline's old regex gate ("\boxed{", "<answer>",
# "The answer is", "####") penalised, though `math` accepts them.
UNMARKED_CORRECT = [
    "Adding them up, 2 + 2 = 4.\nSo the final answer is $4$.",
    "Adding them up gives\n4",
    "Counting on from 2 twice:\nx = 4",
    "Answer: 4",
    "Therefore the final answer is: $\\boxed{4}$",
]


def scores(spec, completions, reference="4", prompt="What is 2+2?"):
    rows = [{"prompt": prompt, "completion": c, "reference": reference} for c in completions]
    with Reward.from_spec(spec, workers=1) as reward:
        return reward.score(rows)


def test_correct_answers_without_the_old_markers_pass_the_gate():
    got = scores(GATED, UNMARKED_CORRECT)
    assert [s.value for s in got] == [1.0] * len(UNMARKED_CORRECT), [s.info for s in got]
    assert all(s.info["gate"]["passed"] for s in got)


@pytest.mark.parametrize(
    ("completion", "reason"),
    [
        ("I am not sure.", "no final answer found"),
        ("It is \\boxed{3} or \\boxed{4}", "conflicting final answers: 3; 4"),
        ("The answer is 3 or 4.", "hedged answer: 3 or 4"),
        ("Thought process:", "no final answer found"),
        ("So \\boxed{" + "9" * 400 + "}", "answer has a number of more than 300 digits"),
    ],
)
def test_no_answer_fails_with_maths_reason(completion, reason):
    [score] = scores({"type": "answered"}, [completion])
    assert (score.value, score.status) == (0.0, Status.OK)
    assert score.info["answered"]["reason"] == reason
    [gated] = scores(GATED, [completion])
    assert gated.value == -0.5 and gated.info["gate"]["passed"] is False


def test_settings_follow_math():
    shotgun = "\\boxed{3} then \\boxed{4}"
    assert scores({"type": "answered"}, [shotgun])[0].value == 0.0
    assert scores({"type": "answered", "on_conflict": "last"}, [shotgun])[0].value == 1.0
    assert scores({"type": "answered", "max_answer_chars": 3}, ["\\boxed{1234}"])[0].value == 0
    # the gold's number of values: a list answer is an answer for a list gold only
    assert scores({"type": "answered"}, ["\\boxed{1, 2}"], reference="1")[0].value == 0.0
    assert scores({"type": "answered"}, ["\\boxed{1, 2}"], reference="1, 2")[0].value == 1.0


def test_needs_no_reference():
    with Reward.from_spec({"type": "answered"}) as reward:
        got = reward.score([{"completion": "So \\boxed{7}."}, {"completion": "no idea"}])
    assert [(s.value, s.status) for s in got] == [(1.0, Status.OK), (0.0, Status.OK)]
    assert got[0].info["answered"] == {"extracted": "7", "source": "boxed"}


def test_params_are_checked_like_maths():
    with pytest.raises(ConfigError, match=r"reward\.on_conflict"):
        Reward.from_spec({"type": "answered", "on_conflict": "first"})
    with pytest.raises(ConfigError, match=r"reward\.timeout: unknown key"):
        Reward.from_spec({"type": "answered", "timeout": 5})


def test_math_is_never_right_where_answered_fails_on_the_bundled_batch():
    rows = [json.loads(line) for line in (ROOT / "examples/math_grpo.jsonl").open()]
    rows += [
        {"prompt": "What is 2+2?", "completion": c, "reference": "4"} for c in UNMARKED_CORRECT
    ]
    with Reward.from_spec({"type": "max", "of": ["answered", "math"]}, workers=2) as reward:
        got = reward.score(rows)
    correct = [s for s in got if s.components["math"] == 1.0]
    assert len(correct) > 20
    assert all(s.components["answered"] == 1.0 for s in correct)


def test_example_pipeline_gates_on_answered():
    with Reward.load(ROOT / "examples/math_pipeline.yaml", workers=1) as reward:
        [score] = reward.score(
            [{"prompt": "What is 2+2?", "completion": UNMARKED_CORRECT[0], "reference": "4"}]
        )
    assert score.components["answer_marked"] == 1.0
    assert score.components["correct_if_formatted"] == 1.0
