"""parse_json_answer: strict JSON, fenced blocks, the last object in prose, garbage."""

from __future__ import annotations

import pytest

from rewardsmith.judge import parse_json_answer


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
