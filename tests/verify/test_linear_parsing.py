"""The verifiers read hostile completions in linear time: each ~100 KB input below is built
to make a backtracking regex over that verifier's text retry (see tests/linear_time.py),
and must cost no more than a few plain scans of it."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardsmith.core.config import BuildContext
from rewardsmith.verify.choice import ChoiceParams, ChoiceVerifier
from rewardsmith.verify.code import extract_program
from rewardsmith.verify.qa import extract_short_answer, normalize_answer, numeric_value
from rewardsmith.verify.sql import extract_query
from rewardsmith.verify.text import fenced_blocks
from tests.linear_time import ADVERSARIAL_SIZE, assert_linear

# The fence regex code.py and sql.py used before fenced_blocks: the specification it keeps.
OLD_FENCE = re.compile(r"```([\w+-]*)[^\n]*\n(.*?)```", re.DOTALL)
CHOICE = ChoiceVerifier(ChoiceParams(), BuildContext(), name="choice", fallback=0.0, path="c")


def repeat(unit: str, head: str = "", tail: str = "") -> str:
    """`head`, then `unit` repeated to about 100 KB, then `tail`."""
    return head + unit * (ADVERSARIAL_SIZE // len(unit)) + tail


def chosen_letter(text: str) -> object:
    return CHOICE.chosen(text)


@pytest.mark.parametrize(
    "text",
    [
        repeat("```"),  # every ``` opens a fence whose info string runs to the end
        repeat("```python "),
        repeat("x = 1\n", head="```python\n"),  # an unclosed fence
        repeat("```\n"),
        repeat("`"),
        repeat("```sql SELECT 1 ", tail="\n"),
    ],
    ids=["backticks", "python-openers", "unclosed", "empty-fences", "one-run", "sql-openers"],
)
@pytest.mark.parametrize("extract", [fenced_blocks, extract_program, extract_query])
def test_fence_readers_are_linear(extract, text):
    assert_linear(extract, text)


@pytest.mark.parametrize(
    ("read", "text"),
    [
        (chosen_letter, repeat("\\text{(A", head="Answer: ")),
        (chosen_letter, repeat("\\text   ", head="<answer>", tail="</answer>")),
        (chosen_letter, repeat("(A) or ", head="\\boxed{", tail="}")),
        (chosen_letter, repeat("A", head="The answer is (", tail="\n")),
        (chosen_letter, repeat(" ", head="A", tail="-")),
        (chosen_letter, repeat("or maybe ", head="The answer is B, ", tail="A")),
        (chosen_letter, repeat("(C) ", head="The answer is B or ")),
        (numeric_value, repeat(",000", head="-1")),
        (extract_short_answer, repeat("\\text {", head="<answer>", tail="</answer>")),
        (extract_short_answer, repeat("\\textbf", head="Answer: ")),
        (normalize_answer, repeat("the a an ")),
        (normalize_answer, repeat("a")),
    ],
    ids=[
        "choice-text-macros",
        "choice-macro-spaces",
        "choice-several",
        "choice-letters",
        "choice-spaces",
        "choice-hedge-words",
        "choice-hedged-options",
        "qa-long-number",
        "qa-text-macros",
        "qa-textbf",
        "qa-articles",
        "qa-one-word",
    ],
)
def test_choice_and_qa_are_linear(read, text):
    assert_linear(read, text)


fence_text = st.text(alphabet=["`", "`", "`", "\n", "p", "y", "+", "-", " ", "é"], max_size=60)


@given(fence_text)
def test_fenced_blocks_finds_what_the_fence_regex_found(text):
    assert fenced_blocks(text) == OLD_FENCE.findall(text)


def test_fenced_blocks():
    text = "a\n```py3 extra\nx\n```\n```c++\ny```\n```\nno close"
    assert fenced_blocks(text) == [("py3", "x\n"), ("c++", "y")]
    assert fenced_blocks("```python") == []
    assert extract_query("```sql\nSELECT 1;\n```") == "SELECT 1"


IFEVAL_ADVERSARIAL = [
    repeat("["),
    repeat("<<"),
    repeat("*"),
    repeat("\n"),
    repeat(" \n"),
    repeat("Section "),
    repeat("p. "),
    repeat("\n\n-"),
    repeat(". "),
    repeat("******"),
]


@pytest.mark.parametrize("text", IFEVAL_ADVERSARIAL)
def test_ifeval_checks_are_linear(text):
    """Every IFEval check (languages aside: langdetect reads a bounded prefix) on one
    adversarial response, with the kwargs its tests use."""
    from rewardsmith.verify.ifeval_checks import CHECKS
    from tests.verify.test_ifeval import CASES

    def every_check(response: str) -> None:
        for name, check in CHECKS.items():
            if "language" not in name and "english" not in name:
                check(response, CASES[name][0])

    assert_linear(every_check, text, factor=200.0)  # 23 checks, each a few scans


@pytest.mark.parametrize(
    "text",
    [
        repeat("<tool_call>"),
        repeat("<think>", tail="<tool_call>"),
        repeat("</tool_call>"),
        repeat("<think><tool_call>{}</tool_call></think>"),
        repeat("{", head="<tool_call>", tail="</tool_call>"),
    ],
)
def test_tool_call_reader_is_linear(text):
    from rewardsmith.verify.tool_calls import calls_in_text

    assert_linear(calls_in_text, text)
