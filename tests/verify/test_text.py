"""The answer-locating helpers shared by the verifiers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardsmith.verify.text import (
    answer_phrases,
    answer_tag_contents,
    boxed_contents,
    final_region,
)
from tests.linear_time import assert_linear


@pytest.mark.parametrize(
    ("completion", "region"),
    [
        ("no think at all", "no think at all"),
        ("<think>a</think>b", "b"),
        ("<think>a</think> b </think> c", " c"),
        ("<think>a</think>", ""),
        ("", ""),
        ("<think>unclosed", "<think>unclosed"),
        ("</THINK> upper case is not a closing tag", "</THINK> upper case is not a closing tag"),
    ],
)
def test_final_region(completion, region):
    assert final_region(completion) == region


@pytest.mark.parametrize(
    ("text", "contents"),
    [
        ("no box", []),
        (r"\boxed{5}", ["5"]),
        (r"\fbox{5}", ["5"]),
        (r"\boxed{\frac{1}{2}}", [r"\frac{1}{2}"]),
        (r"a \boxed{1} b \fbox{2} c \boxed{3}", ["1", "2", "3"]),
        (r"\boxed 5", ["5"]),
        (r"\boxed 5.", ["5."]),
        (r"\boxed {7}", ["7"]),
        (r"\boxed{}", [""]),
        (r"\boxed{\{1,2\}}", [r"\{1,2\}"]),
        (r"\boxed{x", []),
        (r"\boxed{a} \boxed{b", ["a"]),
        (r"\boxed{x \boxed{y} \boxed{z", ["y"]),
        (r"\boxed{ \boxed{a} }", [r" \boxed{a} "]),
        (r"\fbox{\boxed{A}} \boxed{B}", [r"\boxed{A}", "B"]),
        (r"\boxed{a}} \boxed{b}", ["a", "b"]),
        ("}{ \\boxed{1}", ["1"]),
        (r"\boxedfoo \boxed{ok}", ["ok"]),
        ("\\boxed\nThe end", []),
        (r"$\boxed{x^{2}+1}$ and $\boxed{\text{B}}$", ["x^{2}+1", r"\text{B}"]),
    ],
)
def test_boxed_contents(text, contents):
    assert boxed_contents(text) == contents


@pytest.mark.parametrize(
    ("text", "contents"),
    [
        ("none", []),
        ("<answer>1</answer>", ["1"]),
        ("<answer>1</answer> <ANSWER>\n2</Answer>", ["1", "\n2"]),
        ("<answer></answer>", [""]),
        ("<answer>unclosed", []),
        ("<answer>a</answer><answer>b</answer>", ["a", "b"]),
        ("<answer>multi\nline</answer>", ["multi\nline"]),
    ],
)
def test_answer_tag_contents(text, contents):
    assert answer_tag_contents(text) == contents


@pytest.mark.parametrize(
    ("text", "phrases"),
    [
        ("The answer is 42.", ["42."]),
        ("Final answer: B\nAnswer = 3", ["B", "3"]),
        ("**Answer:** B", ["** B"]),
        ("I answered it", []),
        ("Thought process:", []),
    ],
)
def test_answer_phrases(text, phrases):
    assert answer_phrases(text) == phrases


def _all_helpers(text: str) -> None:
    region = final_region(text)
    boxed_contents(region)
    answer_tag_contents(region)
    answer_phrases(region)


@pytest.mark.parametrize(
    "hostile",
    [
        "\\boxed{" * 15000,
        "\\boxed{x}" * 11000,
        "{" * 100000 + "\\boxed{1}",
        "<answer>" * 12500,
        "</answer>" + "<answer>" * 12500,
        "answer " * 5000 + "answer" + " " * 70000,
        "<think>" + "reasoning " * 10000 + "</think>" + "so " * 200 + r"\boxed{\frac{1}{2}}",
    ],
)
def test_helpers_are_linear_on_hostile_and_long_input(hostile):
    assert_linear(_all_helpers, hostile)


braceless = st.text(alphabet=st.characters(blacklist_characters="{}\\"), max_size=40)


@given(braceless, braceless)
def test_boxed_round_trip(inner, prose):
    assert boxed_contents(prose + "\\boxed{" + inner + "}" + prose) == [inner]


@given(st.text(max_size=80))
def test_final_region_has_no_closing_think(text):
    assert "</think>" not in final_region(text)
    assert text.endswith(final_region(text))


tag_soup = st.lists(
    st.sampled_from(["<answer>", "</answer>", "<ANSWER>", "</Answer>", "x", "\n", "<", ">"]),
    max_size=30,
).map("".join)


@given(tag_soup)
def test_answer_tags_agree_with_the_lazy_regex(text):
    lazy = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)
    assert answer_tag_contents(text) == lazy.findall(text)
