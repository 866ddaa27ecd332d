"""parse_json_answer: strict JSON, fenced blocks, the last object in prose, garbage."""

from __future__ import annotations

import math

import pytest

from rewardsmith.judge import parse_json_answer
from tests.linear_time import ADVERSARIAL_SIZE, assert_linear


def test_strict_json():
    assert parse_json_answer('{"score": 4, "reason": "ok"}', ["score"]) == (
        {"score": 4, "reason": "ok"},
        None,
    )


def test_fenced_json():
    text = 'Here you go:\n```json\n{"score": 2}\n```\nThanks.'
    assert parse_json_answer(text, ["score"]) == ({"score": 2}, None)


def test_last_fenced_block_wins():
    text = '```json\n{"score": 1}\n```\nOn reflection:\n```\n{"score": 3}\n```'
    assert parse_json_answer(text, ["score"]) == ({"score": 3}, None)


def test_last_object_in_prose_with_nesting():
    text = 'First {"score": 1} then {"score": 5, "detail": {"a": {"b": 1}}} done.'
    obj, reason = parse_json_answer(text, ["score"])
    assert reason is None and obj == {"score": 5, "detail": {"a": {"b": 1}}}


def test_unbalanced_braces_before_a_valid_object():
    obj, reason = parse_json_answer('I think {score: bad} so {"score": 0}', ["score"])
    assert (obj, reason) == ({"score": 0}, None)


def test_missing_keys_are_named():
    obj, reason = parse_json_answer('{"reason": "x"}', ["score", "reason", "verdict"])
    assert obj is None and "score" in reason and "verdict" in reason


@pytest.mark.parametrize("text", ["no json here", "{not: json", "[1, 2, 3]", "42"])
def test_garbage(text):
    obj, reason = parse_json_answer(text, ["score"])
    assert obj is None and reason


@pytest.mark.parametrize("text", [None, "", "   "])
def test_empty(text):
    assert parse_json_answer(text, ["score"]) == (None, "empty answer")


def test_no_required_keys():
    assert parse_json_answer('{"anything": true}') == ({"anything": True}, None)


def test_objects_closed_inside_a_broken_one_count_but_not_braces_in_its_strings():
    assert parse_json_answer('{"verdict": {"score": 3}, oops') == ({"score": 3}, None)
    obj, reason = parse_json_answer('{"note": "use {} here", oops')
    assert obj is None and reason == "no JSON object in the answer"
    assert parse_json_answer('{"a": 1} {"b": {"c": 2} x') == ({"c": 2}, None)


def test_deep_nesting_and_long_numbers_are_answers_not_crashes():
    assert parse_json_answer('{"a":' * 20000) == (None, "the JSON answer is nested too deeply")
    obj, reason = parse_json_answer('so {"score": 1' + "0" * 5000 + "}")
    assert reason is None and obj == {"score": math.inf}


def repeat(unit: str, head: str = "", tail: str = "") -> str:
    """`head`, then `unit` repeated to about 100 KB, then `tail`."""
    return head + unit * (ADVERSARIAL_SIZE // len(unit)) + tail


@pytest.mark.parametrize(
    "text",
    [
        repeat(" ", head="```", tail="x"),  # cubic: two [ \t]* around an absent `json`
        repeat("```json "),
        repeat("1,", head='x {"a":' * 800 + "["),  # each of 800 `{` decoded to the end
        repeat('{"a":'),  # deeper than the stack
        repeat("a{", head='x {"'),  # an unterminated string
        repeat('{"a":{"b":1},', head="x"),  # a broken object around each closed one
        repeat('x{"', head='{"a":"'),
        repeat('{"a":' + "1" * 5000),  # numbers too long for int()
    ],
    ids=["fence-spaces", "fences", "nested", "deep", "unterminated", "broken", "keys", "digits"],
)
def test_parse_is_linear(text):
    assert_linear(parse_json_answer, text)


def test_parse_is_linear_on_a_brace_every_few_characters():
    """Each `{` that looks like an object costs one decode attempt, whose exception costs
    a microsecond or two: linear, at about twice the budget's usual constant."""
    assert_linear(parse_json_answer, repeat('{"":1,{', head="x"), factor=100)
