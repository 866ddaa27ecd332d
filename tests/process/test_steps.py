"""Step segmentation: the five ways to cut, spans, and token ranges."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardsmith.process.steps import SegmentationError, segment
from tests.linear_time import ADVERSARIAL_SIZE, assert_linear

TEXT = "Step 1: 3x + 4 = 40.\n\nStep 2: So 3x = 36.\n\n\nStep 3: x = 12.5 kg. Done!"


def texts(text, steps):
    return [text[s.start : s.end] for s in steps]


def test_blank_line():
    assert texts(TEXT, segment(TEXT, "blank_line")) == [
        "Step 1: 3x + 4 = 40.",
        "Step 2: So 3x = 36.",
        "Step 3: x = 12.5 kg. Done!",
    ]


def test_step_markers_skip_the_preamble():
    text = "Let me think.\nstep 1) add\nmore of step one\nSTEP 2. divide\n"
    assert texts(text, segment(text, "step_marker")) == [
        "step 1) add\nmore of step one",
        "STEP 2. divide",
    ]
    assert segment("no markers here", "step_marker") == []


def test_sentences_do_not_split_decimals():
    assert texts(TEXT, segment(TEXT, "sentence"))[-2:] == ["Step 3: x = 12.5 kg.", "Done!"]


def test_regex_separator_and_its_required_pattern():
    assert texts("a ; b;c", segment("a ; b;c", "regex", pattern=r"\s*;\s*")) == ["a", "b", "c"]
    with pytest.raises(SegmentationError, match="pattern"):
        segment("a;b", "regex")


def test_given_steps_are_found_in_order():
    text = "First x = 1. Then x = 1 again."
    steps = segment(text, "given", steps=["x = 1", "x = 1 again"])
    assert [(s.start, s.end) for s in steps] == [(6, 11), (18, 29)]
    with pytest.raises(SegmentationError, match=r"steps\[1\]: not found"):
        segment(text, "given", steps=["Then", "First"])
    with pytest.raises(SegmentationError, match="steps: expected"):
        segment(text, "given", steps=[])


def test_token_ranges_partition_the_tokens():
    text = "ab cd\n\nef"
    offsets = [(0, 2), (2, 5), (5, 7), (7, 9)]  # "ab", " cd", "\n\n", "ef"
    steps = segment(text, "blank_line", token_offsets=offsets)
    assert [(s.token_start, s.token_end) for s in steps] == [(0, 3), (3, 4)]
    with pytest.raises(SegmentationError, match="token_offsets"):
        segment(text, "blank_line", token_offsets=[(5, 7), (0, 2)])


@given(st.lists(st.text("abc .!?\n", min_size=1, max_size=12), min_size=1, max_size=8))
def test_spans_are_ordered_disjoint_and_trimmed(parts):
    text = "\n\n".join(parts)
    for by in ("blank_line", "sentence"):
        steps = segment(text, by)
        for step in steps:
            piece = text[step.start : step.end]
            assert piece and piece == piece.strip()
        for before, after in itertools.pairwise(steps):
            assert before.end <= after.start


def repeat(unit: str, head: str = "", tail: str = "") -> str:
    """`head`, then `unit` repeated to about 100 KB, then `tail`."""
    return head + unit * (ADVERSARIAL_SIZE // len(unit)) + tail


@pytest.mark.parametrize(
    ("by", "text"),
    [
        ("blank_line", repeat("\n \t")),
        ("blank_line", repeat(" \t", head="a\n", tail="b")),
        ("step_marker", repeat("Step 1 \n \t")),
        ("step_marker", repeat("\n", head="step")),
        ("step_marker", repeat("9", head="Step ")),
        ("sentence", repeat(" ", head="a.", tail="b")),
        ("sentence", repeat("a.b")),
    ],
    ids=["blank-spaces", "open-blank", "markers", "newlines", "digits", "spaces", "no-breaks"],
)
def test_segmentation_is_linear(by, text):
    def cut(completion: str) -> list:
        return segment(completion, by)

    assert_linear(cut, text)


def test_token_ranges_are_linear():
    text = repeat("word word. ")  # ~9000 steps and 100 000 tokens
    offsets = [(i, i + 1) for i in range(len(text))]

    def cut(completion: str) -> list:
        return segment(completion, "sentence", token_offsets=offsets)

    assert_linear(cut, text)


def test_token_ranges_of_a_completion_without_steps():
    assert segment("step\n\n", "step_marker", token_offsets=[(0, 4), (4, 6)]) == []
