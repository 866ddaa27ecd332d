"""The format check: templates, options, reasons, bad params and use as a gate."""

from __future__ import annotations

import pytest

import rewardsmith.verify.format  # registers `format`
import rewardsmith.verify.qa  # noqa: F401  (registers `qa`)
from rewardsmith import ConfigError, Status
from rewardsmith.core.pipeline import Reward
from tests.linear_time import ADVERSARIAL_SIZE, assert_linear

GOOD = "<think>\nreasoning\n</think>\n<answer>12</answer>\n"
MASTER_KEYS = ["", " ", ":", ".", "Thought process:", "Let's solve this problem step by step."]


def check(completion, **params):
    [score] = Reward.from_spec({"type": "format", **params}).score([{"completion": completion}])
    assert score.status is Status.OK
    return score


@pytest.mark.parametrize(
    ("completion", "passes"),
    [
        (GOOD, True),
        ("  \n" + GOOD, True),
        ("<think>a</think><answer>b</answer>", True),
        ("<THINK>a</THINK><ANSWER>b</ANSWER>", True),
        ("preamble " + GOOD, False),
        (GOOD + " trailing", False),
        (GOOD + "<answer>13</answer>", False),
        (GOOD + "<ANSWER>13</ANSWER>", False),
        ("<think>a</think><think>b</think><answer>1</answer>", False),
        ("<think><think>a</think></think><answer>1</answer>", False),
        ("<think></think><answer>1</answer>", False),
        ("<think>a</think><answer> </answer>", False),
        ("<answer>1</answer><think>a</think>", False),
        ("<think>a<answer>1</answer></think><answer>1</answer>", False),
        ("<think>a</think>text<answer>1</answer>", False),
        ("<think>a</think><answer>1", False),
        ("<think>a<answer>1</answer>", False),
        ("<answer>1</answer>", False),
        ("<think>a</think>", False),
        *[(key, False) for key in MASTER_KEYS],
    ],
)
def test_think_answer_template(completion, passes):
    score = check(completion)
    assert score.value == float(passes), score.info
    assert ("reason" in score.info["format"]) != passes


@pytest.mark.parametrize(
    ("completion", "reason"),
    [
        (GOOD + "<answer>13</answer>", "tag <answer> appears 2 times; expected 1"),
        ("<answer>1</answer>", "tag <think> appears 0 times; expected 1"),
        ("<think></think><answer>1</answer>", "empty think block"),
        ("<think>a</think><answer>\n</answer>", "empty answer block"),
        ("<answer>1</answer><think>a</think>", "tags out of order or misplaced"),
        ("hi " + GOOD, "no text allowed before or after it"),
    ],
)
def test_reasons(completion, reason):
    score = check(completion)
    assert score.value == 0.0
    assert reason in score.info["format"]["reason"]
    assert score.info["format"]["template"] == "think_answer"


@pytest.mark.parametrize(
    ("completion", "before", "after", "passes"),
    [
        ("hi " + GOOD, True, False, True),
        ("hi " + GOOD, False, True, False),
        (GOOD + " bye", False, True, True),
        (GOOD + " bye", True, False, False),
        ("hi " + GOOD + " bye", True, True, True),
        ("hi <answer>0</answer> " + GOOD, True, False, False),
        (GOOD + "bye <think>again</think>", False, True, False),
    ],
)
def test_text_around_the_blocks(completion, before, after, passes):
    score = check(completion, allow_text_before=before, allow_text_after=after)
    assert score.value == float(passes), score.info


@pytest.mark.parametrize(
    ("completion", "passes"),
    [("<think></think><answer></answer>", True), ("<think> </think><answer>1</answer>", True)],
)
def test_empty_blocks_allowed_when_not_required(completion, passes):
    assert check(completion, require_nonempty=False).value == float(passes)
    assert check(completion).value == 0.0


@pytest.mark.parametrize(
    ("completion", "params", "passes"),
    [
        ("<answer>5</answer>", {}, True),
        (" <answer>5</answer>\n", {}, True),
        ("work <answer>5</answer>", {}, False),
        ("work <answer>5</answer>", {"allow_text_before": True}, True),
        ("<think>a</think><answer>5</answer>", {"allow_text_before": True}, True),
        ("<answer>5</answer> done", {"allow_text_after": True}, True),
        ("<answer>5</answer><answer>6</answer>", {"allow_text_after": True}, False),
        ("<answer><think>a</think>5</answer>", {}, False),
        ("<answer></answer>", {}, False),
        ("<answer></answer>", {"require_nonempty": False}, True),
        ("no tags", {}, False),
    ],
)
def test_answer_template(completion, params, passes):
    score = check(completion, template="answer", **params)
    assert score.value == float(passes), score.info


@pytest.mark.parametrize(
    ("completion", "passes"),
    [
        ("<think>a</think> so \\boxed{3}", True),
        ("<think>a \\boxed{1}</think> so \\boxed{3}.", True),
        ("<think>a</think> \\boxed{3} \\boxed{4}", False),
        ("<think>a</think> \\boxed{3} \\fbox{3}", False),
        ("<think>a</think> no box", False),
        ("<think>a</think> \\boxed{3", False),
        ("<think>a</think> \\boxed{ }", False),
        ("\\boxed{3}", False),
        ("<think>a</think><answer>1</answer> \\boxed{1}", False),
        ("pre <think>a</think> \\boxed{3}", False),
    ],
)
def test_think_boxed_template(completion, passes):
    score = check(completion, template="think_boxed")
    assert score.value == float(passes), score.info


@pytest.mark.parametrize(
    ("pattern", "completion", "passes"),
    [
        (r"Answer: \d+", "Answer: 12", True),
        (r"Answer: \d+", "Answer: 12!", False),
        (r"Answer: \d+", "Say Answer: 12", False),
        (r".*Answer: \d+", "line one\nAnswer: 12", True),
        (r"<think>.+</think>\n.+", "<think>a\nb</think>\nok", True),
        (r"[A-D]", "", False),
    ],
)
def test_regex_template(pattern, completion, passes):
    score = check(completion, template="regex", pattern=pattern)
    assert score.value == float(passes), score.info
    if not passes:
        assert score.info["format"]["reason"] == "does not match the pattern"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"type": "format", "template": "regex"}, r"pattern: required"),
        ({"type": "format", "template": "regex", "pattern": ""}, r"pattern: required"),
        ({"type": "format", "template": "regex", "pattern": "("}, r"pattern: not a valid"),
        ({"type": "format", "pattern": "x"}, r"pattern: only used with template 'regex'"),
        ({"type": "format", "template": "xml"}, r"reward\.template: Input should be"),
        ({"type": "format", "allow_text_before": "perhaps"}, r"reward\.allow_text_before"),
        ({"type": "format", "require_nonempty": []}, r"reward\.require_nonempty"),
        ({"type": "format", "strict": True}, r"reward\.strict: unknown key"),
    ],
)
def test_bad_params_are_config_errors(spec, message):
    with pytest.raises(ConfigError, match=message):
        Reward.from_spec(spec)


def repeat(unit: str, head: str = "", tail: str = "") -> str:
    """`head`, then `unit` repeated to about 100 KB, then `tail`."""
    return head + unit * (ADVERSARIAL_SIZE // len(unit)) + tail


# `ı` and `ſ` match `i` and `s` under re.IGNORECASE but not after str.lower(): tags spelt
# with them were not counted, yet the template regex took each for a tag and rescanned.
HIDDEN_THINK_END, HIDDEN_ANSWER = "</th\u0131nk>", "<an\u017fwer>"
HOSTILE = {
    "openers": ({}, repeat("<think>")),
    "answer-openers": ({}, repeat("<answer>", head="<think>a</think>")),
    "unclosed-boxes": (
        {"template": "think_boxed"},
        repeat("\\boxed{", head="<think>a</think>"),
    ),
    "spaces-before": ({"allow_text_before": True}, repeat(" ", tail="<think>")),
    "spaces-between": ({}, repeat(" ", head="<think>a</think>", tail="x<answer>1</answer>")),
    "hidden-pairs": (
        {},
        repeat(HIDDEN_THINK_END + HIDDEN_ANSWER, head="<think>", tail=GOOD[7:] + "x"),
    ),
    "hidden-openers": (
        {"allow_text_before": True},
        repeat("<th\u0131nk>", tail=GOOD + "x"),
    ),
    "hidden-answer-openers": (
        {"template": "answer", "allow_text_before": True},
        repeat(HIDDEN_ANSWER, tail="<answer>1</answer>x"),
    ),
}


@pytest.mark.parametrize(("params", "hostile"), HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_completions_are_checked_in_linear_time(params, hostile):
    reward = Reward.from_spec({"type": "format", **params})

    def failure(text: str) -> str:
        return reward.root.failure(text)

    assert_linear(failure, hostile)
    [score] = reward.score([{"completion": hostile}])
    assert (score.status, score.value) == (Status.OK, 0.0)


def test_tags_are_ascii_case_insensitive_only():
    assert check("<THINK>a</Think><answer>b</ANSWER>").value == 1.0
    hidden = "<think>a</think><answer>b" + HIDDEN_THINK_END + "</answer>"
    assert check(hidden).value == 1.0  # not a tag, so not a tag nested in the answer
    assert check("<think>a" + HIDDEN_THINK_END + "<answer>b</answer>").value == 0.0


@pytest.mark.parametrize(
    ("completion", "value", "passed"),
    [
        ("<think>x</think><answer>Paris</answer>", 1.0, True),
        ("<think>x</think><answer>Lyon</answer>", 0.0, True),
        ("Answer: Paris", -1.0, False),
        ("<answer>Paris</answer>", -1.0, False),
    ],
)
def test_format_as_gate_condition(completion, value, passed):
    reward = Reward.from_spec(
        {
            "type": "gate",
            "condition": {"type": "format", "name": "shape"},
            "reward": {"type": "qa", "extract": True},
            "penalty": -1,
        }
    )
    [score] = reward.score([{"completion": completion, "reference": "paris"}])
    assert score.value == value
    assert score.components["shape"] == float(passed)
    assert score.info["gate"] == (
        {"passed": True} if passed else {"passed": False, "code": "gate_closed"}
    )
    assert ("reason" in score.info["shape"]) != passed


@pytest.mark.parametrize("template", ["think_answer", "think_boxed"])
@pytest.mark.parametrize(
    ("completion", "passes", "prefilled"),
    [
        ("reasoning...</think>\n\n{}", True, True),  # the prompt ended with <think>
        ("\n</think>\n\n{}", False, True),  # an empty think block is still empty
        ("</think>{}", False, True),
        ("a</think>b</think>{}", False, True),  # closed twice
        ("a</think>{}<think>b", False, False),  # an opening tag: read as written
        ("<think>a</think>{}", True, False),
        ("{}", False, False),  # no think block at all: not a pre-filled one
    ],
)
def test_prefilled_think_block(template, completion, passes, prefilled):
    tail = "<answer>4</answer>" if template == "think_answer" else "So \\boxed{4}"
    text = completion.format(tail)
    score = check(text, template=template)
    assert score.value == float(passes), score.info
    assert score.info["format"].get("prefilled_think", False) == prefilled
    strict = check(text, template=template, prefilled_think=False)
    assert strict.value == float(passes and not prefilled), strict.info


def test_prefilled_think_earns_nothing_an_opening_tag_would_not():
    for body in ("", " ", "x", "<answer>1</answer>", "\\boxed{1} \\boxed{2}"):
        for rest in ("<answer>4</answer>", "\\boxed{4}", "", "<answer></answer>"):
            for template in ("think_answer", "think_boxed"):
                prefilled = check(f"{body}</think>{rest}", template=template).value
                opened = check(f"<think>{body}</think>{rest}", template=template).value
                assert prefilled <= opened, (template, body, rest)


def test_prefilled_think_only_for_think_templates():
    with pytest.raises(ConfigError, match=r"prefilled_think: only used with templates"):
        Reward.from_spec({"type": "format", "template": "answer", "prefilled_think": True})
