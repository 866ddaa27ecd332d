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
    plain_digits,
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
        # cue words in any case, in text that is not ASCII (read from the lower-cased
        # text), also where lower-casing makes the text longer ("İ" -> "i̇")
        ("ОТВЕТ: 12 ✓", ["12 ✓"]),
        ("LA RÉPONSE EST 7", ["7"]),
        ("İstanbul. ANSWER: 9", ["9"]),
        ("İ x. The Answer is 4 and answer: 5", ["4 and ", "5"]),
    ],
)
def test_answer_phrases(text, phrases):
    assert answer_phrases(text) == phrases


CUE_WORDS = ["answer", "respuesta", "réponse", "antwort", "ответ"]
_cue_word_in_some_case = st.tuples(
    st.sampled_from(CUE_WORDS), st.sampled_from([str.lower, str.upper, str.title])
)
_other = st.sampled_from([" is ", ": ", " es ", " est ", " ist ", " — ", "12", "✓", "İ", " ", "\n"])


@given(st.lists(st.one_of(_cue_word_in_some_case, _other), max_size=20))
def test_the_case_of_a_cue_word_never_matters(tokens):
    as_written = "".join(t if isinstance(t, str) else t[1](t[0]) for t in tokens)
    lower_cues = "".join(t if isinstance(t, str) else t[0] for t in tokens)
    found = [phrase.lower() for phrase in answer_phrases(as_written)]
    assert found == [phrase.lower() for phrase in answer_phrases(lower_cues)]


@pytest.mark.parametrize(
    ("text", "plain"),
    [
        ("x = −５ ✓", "x = -5 ✓"),
        ("＋３", "+3"),
        ("✓ nothing to translate: x = 5", "✓ nothing to translate: x = 5"),
        ("ascii -5", "ascii -5"),
    ],
)
def test_plain_digits(text, plain):
    assert plain_digits(text) == plain


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
