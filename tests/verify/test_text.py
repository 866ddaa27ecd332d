"""The answer-locating helpers shared by the verifiers."""

from __future__ import annotations

import re
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardsmith.verify.text import (
    answer_phrases,
    answer_tag_contents,
    boxed_contents,
    final_region,
)


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


@pytest.mark.parametrize(
    "hostile",
    [
        "\\boxed{" * 5000,
        "\\boxed{x}" * 5000,
        "{" * 20000 + "\\boxed{1}",
        "<answer>" * 5000,
        "</answer>" + "<answer>" * 5000,
        "answer " * 5000 + "answer" + " " * 20000,
    ],
)
def test_helpers_stay_fast_on_hostile_input(hostile):
    started = time.perf_counter()
    boxed_contents(hostile)
    answer_tag_contents(hostile)
    answer_phrases(hostile)
    final_region(hostile)
    assert time.perf_counter() - started < 1.0


def test_helpers_are_fast_on_a_batch_of_long_completions():
    completion = "<think>" + "reasoning " * 1500 + "</think>" + "so " * 200 + r"\boxed{\frac{1}{2}}"
    started = time.perf_counter()
    for _ in range(4096):
        region = final_region(completion)
        boxed_contents(region)
        answer_tag_contents(region)
    assert time.perf_counter() - started < 2.0


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
