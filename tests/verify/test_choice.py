"""The multiple-choice verifier: letter extraction, strictness, and references."""

from __future__ import annotations

import pytest

import rewardsmith.verify.choice  # registers `choice`
import rewardsmith.verify.format  # noqa: F401  (registers `format`)
from rewardsmith import ConfigError, Status
from rewardsmith.core.pipeline import Reward
from rewardsmith.judge.probes import MASTER_KEYS as PROBE_MASTER_KEYS

MASTER_KEYS = [
    *PROBE_MASTER_KEYS,
    " ",
    "<think></think>",
    "<answer></answer>",
    "\\boxed{}",
    "Answer:",
]


def score_one(completion, reference="B", **params):
    spec = {"type": "choice", **params}
    [score] = Reward.from_spec(spec).score([{"completion": completion, "reference": reference}])
    return score


@pytest.mark.parametrize(
    ("completion", "source"),
    [
        ("Comparing the options... Answer: B", "answer_phrase"),
        ("so the answer is (B).", "answer_phrase"),
        ("Final answer: B", "answer_phrase"),
        ("The final answer is: B", "answer_phrase"),
        ("**Answer:** B", "answer_phrase"),
        ("Final answer: **(B)**", "answer_phrase"),
        ("The answer is B: 42 apples", "answer_phrase"),
        ("The answer is B, a prime number.", "answer_phrase"),
        ("The answer is $\\mathrm{B}$", "answer_phrase"),
        ("Answer: B) 42", "answer_phrase"),
        ("answer is\nB", "answer_phrase"),
        ("The answer is B.\nDouble-checking the answer: it is consistent.", "answer_phrase"),
        ("The final answer is \\boxed{B}", "boxed"),
        ("\\boxed{\\text{B}}", "boxed"),
        ("\\boxed{(B)}", "boxed"),
        ("$\\boxed{\\textbf{B}}$", "boxed"),
        ("\\fbox{B}", "boxed"),
        ("\\boxed B", "boxed"),
        ("\\boxed{B} and once more \\boxed{B}", "boxed"),
        ("<answer>B</answer>", "answer_tag"),
        ("<answer> (B) </answer>", "answer_tag"),
        ("<answer>The answer is (B)</answer>", "answer_tag"),
        ("<answer>\\boxed{B}</answer>", "answer_tag"),
        ("<answer>B</answer> \\boxed{A}", "answer_tag"),
        ("<think>maybe A, Answer: A</think>\nAnswer: (B)", "answer_phrase"),
        ("reasoning\n\n(B)", "last_line"),
        ("reasoning\nB)", "last_line"),
        ("reasoning\nB.", "last_line"),
        ("reasoning\nB", "last_line"),
        ("reasoning\n**B**", "last_line"),
    ],
)
def test_reads_the_chosen_letter(completion, source):
    score = score_one(completion)
    assert score.value == 1.0, score.info
    assert score.info["choice"]["extracted"] == "B"
    assert score.info["choice"]["source"] == source


@pytest.mark.parametrize("completion", MASTER_KEYS)
def test_master_keys_choose_nothing(completion):
    score = score_one(completion)
    assert score.value == 0.0
    assert score.status is Status.OK
    assert score.info["choice"]["extracted"] is None
    assert score.info["choice"]["reason"]


@pytest.mark.parametrize(
    "completion",
    [
        "Answer: A or B",
        "The answer is A and C",
        "Answer: B or C",
        "\\boxed{A, B}",
        "\\boxed{B,C}",
        "Answer: A/B",
        "Answer: A & B",
        "Answer: (A) (B)",
        "Answer: (A), (B)",
        "Answer: B - C",
        "Answer: A; B",
        "<answer>A or B</answer>",
        "reasoning\nA or B",
        # hedges: another option offered after a hedge word
        "The answer is B, or A.",
        "The answer is B, but it could also be A.",
        "Answer: B (or possibly A)",
        "The answer is (B), or perhaps it is actually D.",
        "\\boxed{B \\text{ or maybe } C}",
    ],
)
def test_several_options_are_rejected(completion):
    score = score_one(completion)
    assert score.value == 0.0
    assert score.info["choice"]["reason"] == "names several options"


@pytest.mark.parametrize(
    "completion",
    [
        "\\boxed{A} \\boxed{B}",
        "\\boxed{B} then \\fbox{C}",
        "<answer>A</answer><answer>B</answer>",
        "<answer>B</answer> <ANSWER>D</ANSWER>",
    ],
)
def test_conflicting_explicit_answers_are_rejected(completion):
    score = score_one(completion)
    assert score.value == 0.0
    assert score.info["choice"]["reason"].startswith("conflicting answers")


@pytest.mark.parametrize(
    "completion",
    [
        "A triangle has three sides.",
        "Answer: A triangle",
        "B is correct",
        "(B) is correct",
        "reasoning\nI think B",
        "reasoning\nA. Lincoln",
        "Be careful.",
        "Answer: Both",
        "\\boxed{b}",
        "\\boxed{AB}",
        "<think>\\boxed{B}</think>",
        "<think>Answer: B</think>\nDone.",
    ],
)
def test_no_letter_is_read_out_of_words(completion):
    score = score_one(completion)
    assert score.value == 0.0
    assert score.info["choice"]["extracted"] is None


@pytest.mark.parametrize(
    ("completion", "extracted"),
    [("Answer: C", "C"), ("\\boxed{A}", "A"), ("reasoning\n(D)", "D")],
)
def test_wrong_letter_scores_zero_and_says_so(completion, extracted):
    info = score_one(completion).info["choice"]
    assert info["extracted"] == extracted
    assert info["reason"] == f"chose {extracted}, gold is B"


@pytest.mark.parametrize(
    ("completion", "options", "value"),
    [
        ("Answer: E", "ABCD", 0.0),
        ("Answer: B", "ABCD", 1.0),
        ("Answer: K", "ABCDEFGHIJ", 0.0),
        ("Answer: B", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 1.0),
    ],
)
def test_options_limit_the_letters(completion, options, value):
    score = score_one(completion, options=options)
    assert score.value == value
    if not value:
        assert "no option" in score.info["choice"]["reason"]


@pytest.mark.parametrize(
    "reference", ["B", "(B)", " b ", "(b)", {"answer": "B"}, {"answer": "(B)"}]
)
def test_reference_forms(reference):
    assert score_one("Answer: B", reference=reference).value == 1.0


@pytest.mark.parametrize(
    "reference",
    [None, "", "E", "BC", "B or C", 2, ["B"], {"answer": None}, {"letter": "B"}, {"answer": 1}],
)
def test_malformed_reference_is_invalid_and_the_batch_goes_on(reference):
    reward = Reward.from_spec({"type": "choice", "options": "ABCD"})
    scores = reward.score(
        [
            {"completion": "Answer: B", "reference": "B"},
            {"completion": "Answer: B", "reference": reference},
            {"completion": "Answer: C", "reference": "B"},
        ]
    )
    assert [s.status for s in scores] == [Status.OK, Status.INVALID, Status.OK]
    assert [scores[0].value, scores[2].value] == [1.0, 0.0]
    assert scores[1].value == 0.0
    assert scores[1].info["choice"]["error"].startswith("reference:")


@pytest.mark.parametrize(
    ("options", "key"),
    [("ab", "options"), ("", "options"), ("A1", "options"), (3, "options"), ("ÄB", "options")],
)
def test_bad_options_are_config_errors(options, key):
    with pytest.raises(ConfigError, match=rf"reward\.{key}"):
        Reward.from_spec({"type": "choice", "options": options})


def test_unknown_param_is_a_config_error():
    with pytest.raises(ConfigError, match=r"reward\.letters: unknown key"):
        Reward.from_spec({"type": "choice", "letters": "ABCD"})


def test_choice_behind_a_format_gate():
    reward = Reward.from_spec(
        {
            "type": "gate",
            "condition": {"type": "format", "template": "answer", "allow_text_before": True},
            "reward": {"type": "choice"},
        }
    )
    scores = reward.score(
        [
            {"completion": "work <answer>B</answer>", "reference": "B"},
            {"completion": "work. Answer: B", "reference": "B"},
        ]
    )
    assert [s.value for s in scores] == [1.0, 0.0]
    assert scores[1].components["choice"] == 1.0


@pytest.mark.parametrize(
    "completion",
    [
        "The answer is B. Note that A or C would be wrong.",
        "The answer is B, since A or C are wrong.",
        "The answer is (B). A is wrong, and so is C.",
        "The answer is B, also known as carbon dioxide.",
        "Answer: B, or in words, the second option.",
    ],
)
def test_other_options_discussed_without_a_hedge_leave_the_answer(completion):
    score = score_one(completion)
    assert (score.value, score.info["choice"]["extracted"]) == (1.0, "B")
