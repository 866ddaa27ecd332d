"""The choice, qa and format verifiers, and the text helpers they share."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardsmith import ConfigError, Status
from rewardsmith.core.pipeline import Reward
from rewardsmith.verify.qa import exact_match, normalize_answer, token_f1
from rewardsmith.verify.text import answer_tag_contents, boxed_contents, final_region

MASTER_KEYS = ["", ":", ".", "Thought process:", "Let's solve this problem step by step."]


def score_one(spec, completion, reference):
    [score] = Reward.from_spec(spec).score([{"completion": completion, "reference": reference}])
    return score


# --- text helpers -------------------------------------------------------------------


def test_boxed_contents_balances_braces_and_skips_unclosed():
    text = r"a \boxed{\frac{1}{2}} b \fbox{3} \boxed 5 \boxed{\{1,2\}} \boxed{x"
    assert boxed_contents(text) == [r"\frac{1}{2}", "3", "5", r"\{1,2\}"]
    assert boxed_contents("no box") == []


def test_final_region_and_answer_tags():
    assert final_region("<think>\\boxed{1}</think> then 2") == " then 2"
    assert final_region("no think") == "no think"
    assert answer_tag_contents("<answer>1</answer> <ANSWER>\n2</Answer>") == ["1", "\n2"]


# --- choice ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "completion",
    [
        "Comparing the options... Answer: B",
        "so the answer is (B).",
        "The final answer is \\boxed{B}",
        "**Answer:** B",
        "reasoning\n\n(B)",
        "reasoning\nB)",
        "reasoning\nB.",
        "<answer>B</answer>",
        "The answer is B: 42 apples",
        "\\boxed{\\text{B}}",
        "<think>maybe A</think>\nAnswer: (B)",
    ],
)
def test_choice_reads_the_letter(completion):
    score = score_one({"type": "choice"}, completion, "B")
    assert score.value == 1.0, score.info


@pytest.mark.parametrize(
    "completion",
    [
        *MASTER_KEYS,
        "Answer: A or B",
        "The answer is A and C",
        "\\boxed{A, B}",
        "Answer: A/B",
        "\\boxed{A} \\boxed{B}",
        "A triangle has three sides.",
        "Answer: C",
        "Answer: Z",
    ],
)
def test_choice_rejects_wrong_several_or_no_option(completion):
    assert score_one({"type": "choice"}, completion, "B").value == 0.0


def test_choice_explains_and_validates_reference():
    assert (
        "several" in score_one({"type": "choice"}, "Answer: A or B", "B").info["choice"]["reason"]
    )
    scores = Reward.from_spec({"type": "choice", "options": "ABCD"}).score(
        [
            {"completion": "Answer: B", "reference": "(b)"},
            {"completion": "Answer: B", "reference": "E"},
            {"completion": "Answer: B"},
        ]
    )
    assert [s.status for s in scores] == [Status.OK, Status.INVALID, Status.INVALID]
    assert scores[0].value == 1.0
    assert "reference: expected one option letter of 'ABCD'" in scores[1].info["choice"]["error"]
    with pytest.raises(ConfigError, match=r"reward\.options"):
        Reward.from_spec({"type": "choice", "options": "ab"})


# --- qa -------------------------------------------------------------------------------


def test_squad_normalisation_and_f1_by_hand():
    assert normalize_answer("The  Eiffel-Tower!") == "eiffeltower"
    assert normalize_answer("An apple, a pear") == "apple pear"
    # prediction "new york city" vs gold "new york": p = 2/3, r = 1, f1 = 0.8
    assert token_f1("New York City", "new york") == pytest.approx(0.8)
    assert token_f1("Boston", "new york") == 0.0
    assert exact_match("The Beatles.", "beatles") == 1.0


def test_qa_takes_best_alias_and_extracts_the_answer():
    spec = {"type": "qa"}
    aliases = ["NYC", "New York City"]
    assert score_one(spec, "Thinking...\nAnswer: new york city", aliases).value == 1.0
    assert score_one(spec, "<answer>nyc</answer>", {"answers": aliases}).value == 1.0
    assert score_one(spec, "I think\nBoston", aliases).value == 0.0
    f1 = score_one({"type": "qa", "metric": "f1"}, "Answer: New York", aliases)
    assert f1.value == pytest.approx(0.8)
    assert f1.info["qa"]["best_alias"] == "New York City"


@pytest.mark.parametrize("completion", MASTER_KEYS)
@pytest.mark.parametrize("metric", ["em", "f1"])
def test_qa_master_keys_score_zero(completion, metric):
    assert score_one({"type": "qa", "metric": metric}, completion, "Paris").value == 0.0


def test_qa_invalid_references():
    scores = Reward.from_spec({"type": "qa"}).score(
        [
            {"completion": "x", "reference": []},
            {"completion": "x", "reference": ["the", "."]},
            {"completion": "Answer: x", "reference": "x"},
        ]
    )
    assert [s.status for s in scores] == [Status.INVALID, Status.INVALID, Status.OK]
    assert scores[0].info["qa"]["error"].startswith("reference:")


words = st.text(alphabet="abc the,.!", max_size=30)


@given(words, words)
def test_qa_properties(prediction, gold):
    f1 = token_f1(prediction, gold)
    assert 0.0 <= f1 <= 1.0
    if exact_match(prediction, gold) and normalize_answer(gold):
        assert f1 == 1.0
    assert normalize_answer(normalize_answer(prediction)) == normalize_answer(prediction)


# --- format ---------------------------------------------------------------------------

GOOD = "<think>\nreasoning\n</think>\n<answer>12</answer>\n"


@pytest.mark.parametrize(
    ("completion", "passes"),
    [
        (GOOD, True),
        ("  " + GOOD, True),
        ("preamble " + GOOD, False),
        (GOOD + " trailing", False),
        (GOOD + "<answer>13</answer>", False),
        ("<think>a</think><think>b</think><answer>1</answer>", False),
        ("<think></think><answer>1</answer>", False),
        ("<think>a</think><answer> </answer>", False),
        ("<answer>1</answer><think>a</think>", False),
        ("<think>a<answer>1</answer></think><answer>1</answer>", False),
        *[(key, False) for key in MASTER_KEYS],
    ],
)
def test_think_answer_template(completion, passes):
    score = score_one({"type": "format"}, completion, None)
    assert score.value == float(passes), score.info


def test_format_options_and_other_templates():
    loose = {"type": "format", "allow_text_before": True, "allow_text_after": True}
    assert score_one(loose, "hi " + GOOD + " bye", None).value == 1.0
    boxed = {"type": "format", "template": "think_boxed"}
    assert score_one(boxed, "<think>a</think> so \\boxed{3}", None).value == 1.0
    assert score_one(boxed, "<think>a</think> \\boxed{3} \\boxed{4}", None).value == 0.0
    answer = {"type": "format", "template": "answer", "allow_text_before": True}
    assert score_one(answer, "work <answer>5</answer>", None).value == 1.0
    regex = {"type": "format", "template": "regex", "pattern": r"Answer: \d+"}
    assert score_one(regex, "Answer: 12", None).value == 1.0
    assert score_one(regex, "Answer: 12!", None).value == 0.0


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "format", "template": "regex"}, "pattern: required"),
        ({"type": "format", "template": "regex", "pattern": "("}, "pattern: not a valid"),
        ({"type": "format", "template": "xml"}, "reward.template: Input should be"),
    ],
)
def test_format_bad_params(spec, message):
    with pytest.raises(ConfigError, match=message):
        Reward.from_spec(spec)


def test_format_as_gate_condition():
    spec = {
        "type": "gate",
        "condition": {"type": "format"},
        "reward": {"type": "qa"},
        "penalty": -1,
    }
    reward = Reward.from_spec(spec)
    scores = reward.score(
        [
            {"completion": "<think>x</think><answer>Paris</answer>", "reference": "paris"},
            {"completion": "Answer: Paris", "reference": "paris"},
        ]
    )
    assert [s.value for s in scores] == [1.0, -1.0]
    assert scores[1].components == {"format": 0.0, "qa": 1.0, "gate": -1.0}
