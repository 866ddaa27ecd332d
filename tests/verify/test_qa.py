"""The short-answer QA verifier: SQuAD normalisation, EM, token F1 and aliases."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rewardsmith.verify.format  # registers `format`
import rewardsmith.verify.qa  # noqa: F401  (registers `qa`)
from rewardsmith import ConfigError, Status
from rewardsmith.core.pipeline import Reward
from rewardsmith.judge.probes import MASTER_KEYS as PROBE_MASTER_KEYS
from rewardsmith.verify.qa import (
    exact_match,
    extract_short_answer,
    normalize_answer,
    numeric_value,
    token_f1,
)

MASTER_KEYS = [
    *PROBE_MASTER_KEYS,
    " ",
    "<answer></answer>",
    "<answer>the</answer>",
    "\\boxed{}",
    "Answer: .",
]


def score_one(completion, reference="Paris", **params):
    [score] = Reward.from_spec({"type": "qa", **params}).score(
        [{"completion": completion, "reference": reference}]
    )
    return score


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("Paris", "paris"),
        ("The  Eiffel-Tower!", "eiffeltower"),
        ("An apple, a pear", "apple pear"),
        ("  THE\tBeatles.\n", "beatles"),
        ("Theatre", "theatre"),
        ("a", "a"),  # nothing left without the article: kept (option A)
        ("", ""),
        ("...", ""),
        ("U.S.A.", "usa"),
        ("an  the a", "an the a"),
        ("Anne's cat", "annes cat"),
    ],
)
def test_squad_normalisation(text, normalized):
    assert normalize_answer(text) == normalized


@pytest.mark.parametrize(
    ("prediction", "gold", "f1"),
    [
        # common 2; p = 2/3, r = 2/2 -> 2 * (2/3) / (5/3) = 0.8
        ("New York City", "new york", 0.8),
        # common 1; p = 1/2, r = 1/1 -> 2/3
        ("Paris France", "Paris", 2 / 3),
        # common 1; p = 1/1, r = 1/3 -> 0.5
        ("George", "George Washington Carver", 0.5),
        # articles and punctuation vanish first: "eiffel tower" vs "eiffel tower"
        ("The Eiffel Tower.", "eiffel tower", 1.0),
        # common 2 (the two "a"s are articles; "b b" vs "b"): p = 1/2, r = 1 -> 2/3
        ("b b", "a b", 2 / 3),
        # counts are clipped: pred "x x y", gold "x y y": common 2, p = r = 2/3
        ("x x y", "x y y", 2 / 3),
        ("Boston", "new york", 0.0),
        ("", "new york", 0.0),
        ("the", "new york", 0.0),
    ],
)
def test_token_f1_by_hand(prediction, gold, f1):
    assert token_f1(prediction, gold) == pytest.approx(f1)


@pytest.mark.parametrize(
    ("prediction", "gold", "em"),
    [
        ("The Beatles.", "beatles", 1.0),
        ("beatles!!", "The Beatles", 1.0),
        ("Beatles band", "The Beatles", 0.0),
        ("1,000", "1000", 1.0),
        ("1 000", "1000", 0.0),
        # a numeric gold is compared by value: sign and decimal point count
        ("-7", "7", 0.0),
        ("7", "-7", 0.0),
        ("\u22127", "-7", 1.0),  # U+2212 minus
        ("3.14", "314", 0.0),
        ("314.", "314", 1.0),
        ("0.50", ".5", 1.0),
        ("\uff13\uff11\uff14", "314", 1.0),  # full-width digits
        ("$2,500", "2500", 1.0),
        ("2500 dollars", "2500", 0.0),
        ("A", "A", 1.0),  # an option letter as the gold: the article is kept
        ("the a", "A", 0.0),
    ],
)
def test_exact_match(prediction, gold, em):
    assert exact_match(prediction, gold) == em


@pytest.mark.parametrize(
    ("region", "answer"),
    [
        ("<answer> Paris </answer>", "Paris"),
        ("<answer>\\boxed{Paris}</answer>", "Paris"),
        ("Work... \\boxed{\\text{Paris}}", "Paris"),
        ("Thinking...\nThe answer is Paris.", "Paris."),
        ("Final answer: Paris", "Paris"),
        ("**Answer:** Paris", "** Paris"),
        ("Thinking...\n\nParis\n\n", "Paris"),
        ("<answer>Paris</answer>\nAnswer: London", "Paris"),
        ("\\boxed{Paris} \\boxed{paris.}", "paris."),
    ],
)
def test_extract_short_answer(region, answer):
    assert extract_short_answer(region) == (answer, "")


@pytest.mark.parametrize(
    "completion",
    [
        "<answer>Paris</answer><answer>London</answer>",
        "\\boxed{Paris} or \\boxed{London}",
        "<answer>Paris</answer> <ANSWER>Lyon</ANSWER>",
    ],
)
@pytest.mark.parametrize("metric", ["em", "f1"])
def test_conflicting_explicit_answers_score_zero(completion, metric):
    score = score_one(completion, metric=metric)
    assert score.value == 0.0
    assert score.info["qa"]["reason"].startswith("conflicting answers")


@pytest.mark.parametrize(
    ("completion", "reference", "metric", "value", "best"),
    [
        ("Answer: new york city", ["NYC", "New York City"], "em", 1.0, "New York City"),
        ("<answer>nyc</answer>", {"answers": ["NYC", "New York City"]}, "em", 1.0, "NYC"),
        ("Answer: New York", ["NYC", "New York City"], "f1", 0.8, "New York City"),
        ("Answer: New York", ["NYC", "New York City"], "em", 0.0, "New York City"),
        ("Answer: Boston", ["NYC", "New York City"], "f1", 0.0, "NYC"),
        ("Answer: 42", 42, "em", 1.0, "42"),
        ("Answer: Paris", {"answers": {"text": ["Paris", "Paris, France"]}}, "em", 1.0, "Paris"),
        ("Answer: Paris", {"answer": "paris"}, "em", 1.0, "paris"),
        (
            "Answer: George",
            ["George Washington Carver", "Carver"],
            "f1",
            0.5,
            "George Washington Carver",
        ),
    ],
)
def test_best_alias_wins(completion, reference, metric, value, best):
    score = score_one(completion, reference, metric=metric)
    assert score.value == pytest.approx(value)
    info = score.info["qa"]
    assert info["best_alias"] == best
    assert set(info) >= {"extracted", "normalized", "best_alias", "em", "f1"}


def test_info_explains_the_verdict():
    info = score_one("Let me think.\nThe answer is The Paris, France!", metric="f1").info["qa"]
    assert info == {
        "extracted": "The Paris, France!",
        "normalized": "paris france",
        "best_alias": "Paris",
        "em": 0.0,
        "f1": pytest.approx(2 / 3),
    }


@pytest.mark.parametrize(
    ("completion", "extract", "value"),
    [
        ("Answer: Paris", True, 1.0),
        ("Answer: Paris", False, 0.0),
        ("<think>Lyon?</think>\n Paris \n", False, 1.0),
        ("<think>Lyon?</think>\n Paris \n", True, 1.0),
        ("I am sure.\nParis", False, 0.0),
        ("I am sure.\nParis", True, 1.0),
    ],
)
def test_extract_switch(completion, extract, value):
    assert score_one(completion, extract=extract).value == value


@pytest.mark.parametrize("completion", MASTER_KEYS)
@pytest.mark.parametrize("metric", ["em", "f1"])
@pytest.mark.parametrize("extract", [True, False])
def test_master_keys_score_zero(completion, metric, extract):
    score = score_one(completion, ["Paris", "City of Light"], metric=metric, extract=extract)
    assert score.value == 0.0
    assert score.status is Status.OK


def test_hedging_gets_partial_f1_only():
    score = score_one("Answer: Paris or London or Rome", metric="f1")
    # common 1; p = 1/5, r = 1 -> 1/3
    assert score.value == pytest.approx(1 / 3)
    assert score_one("Answer: Paris or London or Rome").value == 0.0


@pytest.mark.parametrize(
    "reference",
    [None, "", [], [".", "?!"], {"aliases": ["x"]}, {"answers": []}, [["x"]], [{"a": 1}], True],
)
def test_malformed_reference_is_invalid_and_the_batch_goes_on(reference):
    scores = Reward.from_spec({"type": "qa"}).score(
        [
            {"completion": "Answer: x", "reference": "x"},
            {"completion": "Answer: x", "reference": reference},
            {"completion": "Answer: y", "reference": "x"},
        ]
    )
    assert [s.status for s in scores] == [Status.OK, Status.INVALID, Status.OK]
    assert [s.value for s in scores] == [1.0, 0.0, 0.0]
    assert scores[1].info["qa"]["error"].startswith("reference:")


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ({"type": "qa", "metric": "accuracy"}, "metric"),
        ({"type": "qa", "extract": "sometimes"}, "extract"),
        ({"type": "qa", "normalise": True}, "normalise"),
    ],
)
def test_bad_params_are_config_errors(spec, key):
    with pytest.raises(ConfigError, match=rf"reward\.{key}"):
        Reward.from_spec(spec)


def test_qa_behind_a_format_gate():
    reward = Reward.from_spec(
        {"type": "gate", "condition": {"type": "format"}, "reward": {"type": "qa"}, "penalty": -1}
    )
    scores = reward.score(
        [
            {"completion": "<think>x</think><answer>Paris</answer>", "reference": "paris"},
            {"completion": "Answer: Paris", "reference": "paris"},
        ]
    )
    assert [s.value for s in scores] == [1.0, -1.0]
    assert scores[1].components == {"format": 0.0, "qa": 1.0, "gate": -1.0}


words = st.lists(
    st.sampled_from(["a", "an", "the", "The", "paris", "Paris!", "new", "york", "x", ",", "."]),
    max_size=8,
).map(" ".join)


@given(st.one_of(words, st.text(max_size=30)), st.one_of(words, st.text(max_size=30)))
def test_f1_and_em_properties(prediction, gold):
    f1 = token_f1(prediction, gold)
    assert 0.0 <= f1 <= 1.0
    if numeric_value(gold) is None and numeric_value(prediction) is None:
        assert f1 == token_f1(gold, prediction)
    if exact_match(prediction, gold) and normalize_answer(gold):
        assert f1 == pytest.approx(1.0)


@given(st.text(max_size=40))
def test_normalisation_is_idempotent(text):
    once = normalize_answer(text)
    assert normalize_answer(once) == once


@pytest.mark.parametrize("metric", ["em", "f1"])
def test_a_numeric_gold_is_not_matched_by_another_number_with_its_digits(metric):
    completions = ["Answer: -42", "The answer is 4.2", "x = .42", "Answer: 420", "Answer: 42.0"]
    values = [score_one(c, reference="42", metric=metric).value for c in completions]
    assert values == [0.0, 0.0, 0.0, 0.0, 1.0]


@given(st.integers(-(10**12), 10**12), st.integers(0, 6))
def test_numbers_match_by_value_whatever_their_digits_look_like(number, places):
    written = f"{number:,}" if places == 0 else f"{number}.{'0' * places}"
    assert exact_match(written, str(number)) == 1.0
    assert exact_match(str(-number - 1), str(number)) == 0.0
