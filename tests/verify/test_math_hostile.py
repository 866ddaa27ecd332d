"""The math reward against completions written to break it: oversized numbers, regex
bombs, overflowing closed forms, huge answers. One hostile sample never changes another
sample's Score; every parser of completion text runs in linear time; answers are bounded
with a stated reason; integers are compared exactly; caches stay bounded in bytes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardsmith import Status, load_reward
from rewardsmith.core.pipeline import Reward
from rewardsmith.core.types import Group, Sample
from rewardsmith.verify import math as math_reward_module
from rewardsmith.verify.math import MathVerifier
from rewardsmith.verify.math_answer import Limits, Rules, extract_answer
from rewardsmith.verify.math_eval import numeric_equal
from rewardsmith.verify.math_normalize import as_number, fast_equal, normalize
from rewardsmith.verify.text import (
    answer_phrases,
    answer_tag_contents,
    boxed_contents,
    final_region,
)
from tests.linear_time import ADVERSARIAL_SIZE, assert_linear

N = ADVERSARIAL_SIZE
TOO_LONG = "answer longer than 1000 characters"
TOO_MANY_DIGITS = "answer has a number of more than 300 digits"

HONEST = [
    {"completion": "So the answer is \\boxed{12}.", "reference": "12", "group_id": "a"},
    {"completion": "\\boxed{\\frac{1}{2}}", "reference": "0.5", "group_id": "a"},
    {"completion": "\\boxed{13}", "reference": "12", "group_id": "a"},
    {"completion": "\\boxed{\\sin(\\pi/6)}", "reference": "1/2", "group_id": "b"},
    {"completion": "The answer is 11 or 12.", "reference": "12", "group_id": "b"},
    {"completion": "#### 1,234", "reference": "1234", "group_id": "b"},
]

# (completion, the reason it gets, or None where a plain wrong verdict is the outcome)
REPORTED = {
    "boxed_5000_digits": ("\\boxed{" + "7" * 5000 + "}", TOO_LONG),
    "decimal_400_digits": ("\\boxed{" + "9" * 400 + ".5}", TOO_MANY_DIGITS),
    "tiny_root_degree": ("\\boxed{\\sqrt[1/999999]{2}}", None),
    "boxed_20k_digits_then_x": ("\\boxed{" + "1" * 20_000 + "x}", TOO_LONG),
    "boxed_40k_digits_then_x": ("\\boxed{" + "1" * 40_000 + "x}", TOO_LONG),
    "assignment_20k_spaces": ("\\boxed{x=" + " " * 20_000 + "=}", TOO_LONG),
    "phrase_40k_spaces": ("The answer is x=" + " " * 40_000 + "=", TOO_LONG),
    "digits_joined_by_thin_spaces": ("\\boxed{" + "1\\," * 301 + "}", TOO_MANY_DIGITS),
}


@pytest.fixture(scope="module")
def math_reward():
    with load_reward("math", workers=2) as reward:
        yield reward


@pytest.mark.parametrize("name", REPORTED)
def test_a_hostile_sample_leaves_the_honest_batch_exactly_as_it_was(math_reward, name):
    completion, reason = REPORTED[name]
    math_reward.score(HONEST)  # symbolic verdicts are cached from here on
    alone = math_reward.score(HONEST)
    hostile = {"completion": completion, "reference": "12", "group_id": "a"}
    mixed = math_reward.score([*HONEST[:2], hostile, *HONEST[2:]])
    assert [*mixed[:2], *mixed[3:]] == alone
    score = mixed[2]
    info = score.info["math"]
    assert score.value == 0.0
    if reason is None:
        assert score.ok and info["path"] in ("fast", "symbolic", "cache")
    else:
        assert score.status is Status.INVALID
        assert info["reason"] == reason
        assert info["extracted"] is None


def test_judging_isolates_a_sample_that_raises(math_reward, monkeypatch):
    """Even a bug that raises in planning or the fast path costs only its own sample."""
    real = math_reward_module.fast_equal

    def explode_on_13(gold: str, pred: str, rel_tol: float) -> bool | None:
        if pred == "13":
            raise OverflowError("boom")
        return real(gold, pred, rel_tol)

    monkeypatch.setattr(math_reward_module, "fast_equal", explode_on_13)
    verifier = math_reward.root
    assert isinstance(verifier, MathVerifier)
    samples = [Sample(**{k: v for k, v in s.items() if k != "group_id"}) for s in HONEST[:3]]
    [[right, half, wrong]] = verifier.score_batch([Group("g", samples)])
    assert (right.value, half.value) == (1.0, 1.0)
    assert wrong.status is Status.ERROR
    assert wrong.info["error"] == "OverflowError: boom"


def test_caps_are_configurable_and_name_themselves():
    with Reward.from_spec(
        {"type": "math", "max_answer_chars": 10, "max_number_digits": 3, "fallback": -1.0}
    ) as reward:
        long_, digits, fine = reward.score(
            [
                {"completion": "\\boxed{x+x+x+x+x+x}", "reference": "6x"},
                {"completion": "\\boxed{1234}", "reference": "1234"},
                {"completion": "\\boxed{123}", "reference": "123"},
            ]
        )
    assert (long_.status, long_.value) == (Status.INVALID, -1.0)
    assert long_.info["math"]["reason"] == "answer longer than 10 characters"
    assert digits.info["math"]["reason"] == "answer has a number of more than 3 digits"
    assert fine.value == 1.0


@pytest.mark.parametrize(
    ("completion", "reason"),
    [
        ("\\boxed{" + "1" * 301 + "}", TOO_MANY_DIGITS),
        ("\\boxed{" + "1" * 300 + "}", ""),
        ("\\boxed{1} " * 3 + "\\boxed{" + "x" * 1001 + "}", TOO_LONG),
        ("Answer: " + "y" * 2000 + "\nFinal answer: 12", ""),  # only the last phrase counts
        ("<answer>" + "2" * 1200 + "</answer>", TOO_LONG),
        ("#### " + "3" * 1200, TOO_LONG),
    ],
)
def test_extraction_bounds_only_the_answers_that_count(completion, reason):
    found = extract_answer(completion)
    assert found.reason == reason
    assert found.out_of_bounds is bool(reason)


def test_gold_is_not_capped(math_reward):
    gold = "1" + "0" * 400
    [score] = math_reward.score([{"completion": f"\\boxed{{{gold}}}", "reference": gold}])
    assert score.status is Status.INVALID  # the completion's number is over the cap
    [score] = math_reward.score([{"completion": "\\boxed{12}", "reference": gold}])
    assert score.ok and score.value == 0.0


# --- exact numbers ------------------------------------------------------------------

TWO_TO_64 = str(2**64)


def test_integers_are_compared_exactly_even_against_decimals(math_reward):
    assert fast_equal(TWO_TO_64, "18446744073709551100.0") is False
    assert fast_equal(TWO_TO_64, "18446744073709551616.0") is True
    assert fast_equal("1" + "0" * 200, "1" + "0" * 199 + "1.0") is False
    [score] = math_reward.score(
        [{"completion": "\\boxed{18446744073709551100.0}", "reference": TWO_TO_64}]
    )
    assert score.value == 0.0


def test_decimals_still_round_to_six_places():
    assert fast_equal("\\frac{1}{3}", "0.333333") is True
    assert fast_equal("\\frac{1}{3}", "0.33333") is False
    assert fast_equal("0.5", "0.5000004") is True
    assert fast_equal("9" * 400 + ".5", "9" * 400 + ".5000001") is True  # no float overflow
    assert fast_equal("9" * 400 + ".5", "9" * 399 + "8.5") is False


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**40), 10**40), st.integers(-(10**40), 10**40))
def test_different_integers_are_never_equal(a, b):
    for pred in (str(b), f"{b}.0"):
        assert fast_equal(str(a), pred) is (a == b)


def six_places(millionths: int) -> str:
    """The decimal with exactly six places whose value is `millionths` / 10^6."""
    whole, part = divmod(abs(millionths), 10**6)
    return f"{'-' if millionths < 0 else ''}{whole}.{part:06d}"


@settings(max_examples=300, deadline=None)
@given(st.integers(-(10**30), 10**30), st.integers(-(10**30), 10**30))
def test_six_place_decimals_are_equal_only_when_their_values_are(a, b):
    assert fast_equal(six_places(a), six_places(b)) is (a == b)
    assert fast_equal(six_places(a * 10**6), str(b)) is (a == b)


def test_numbers_past_the_conversion_limit_are_not_converted():
    assert as_number("7" * 5000) is None
    assert fast_equal("7" * 5000, "12") in (False, None)
    assert fast_equal("9" * 5000 + ".5", "12") in (False, None)


@pytest.mark.parametrize(
    "expression",
    [
        "\\sqrt[1/999999]{2}",
        "\\sqrt[1/65]{2}",
        "(-2)^{" + "10^{60}\\cdot" * 5 + "10^{60}-" + "10^{60}\\cdot" * 5 + "10^{60}}",  # inf-inf
        "(10^{60})^{6}",
    ],
)
def test_overflowing_closed_forms_are_left_to_sympy(expression):
    assert numeric_equal(expression, "2") is None


# --- linear time --------------------------------------------------------------------

OPEN = Limits(max_chars=10**9, max_digits=10**9)  # the parsers themselves, uncapped


def extract_all(text: str) -> object:
    return extract_answer(text, 1, "", Rules(limits=OPEN))


def extract_last(text: str) -> object:
    return extract_answer(text, 1, "", Rules(on_conflict="last", limits=OPEN))


def normalize_and_compare(text: str) -> object:
    return fast_equal(normalize(text), "12")


def compare_with_a_variant(text: str) -> object:
    return fast_equal(text, text[:-3] + "9" + text[-2:])


def compare_numerically(text: str) -> object:
    return numeric_equal(text, "1")


def check_limits(text: str) -> object:
    return Limits().exceeded(text)


def listing(opener: str, closer: str) -> str:
    return opener + ",".join(str(i) for i in range(N // 5)) + closer


ADVERSARIAL = {
    boxed_contents: [
        "\\boxed{" * (N // 7),
        "\\boxed{" + "{" * N,
        "\\boxed{" + "{" * (N // 2) + "}" * (N // 2) + "}",
        "\\boxed " + " " * N + "\n",
        "\\boxed{x}" * (N // 9),
        "\\fbox" * (N // 5),
    ],
    answer_phrases: [
        "answer:" + "\n" * N + "<a>",
        "answer" + " " * N + "x",
        "the answer is " * (N // 14),
        "final answer " * (N // 13),
        "answer is <" + "a" * N,
        "answer is " + "<a" * (N // 2),
    ],
    final_region: ["</think>" * (N // 8), "</think" * (N // 7)],
    answer_tag_contents: ["<answer>" * (N // 8), "</answer>" + "<answer>" * (N // 8)],
    extract_all: [
        "####" + "\n" * N + "<",
        "#### " * (N // 5),
        "1" + " " * N,
        "1." * (N // 2),
        "\n" * N + "1",
        "The answer is " + "1" * N + "x",
        "The answer is " + "1," * (N // 2) + "x",
        "The answer is x=" + " " * N + "=",
        "\\boxed{" + "1" * N + "x}",
        "".join(f"\\boxed{{{i}}}" for i in range(N // 11)),
        "\\boxed{1}" * (N // 9),
        "\\boxed{" + "\\frac12" * (N // 7) + "}",
        "\\boxed{" + "1 or " * (N // 5) + "}",
        "<answer>" + "\\boxed{1}" * (N // 9) + "</answer>",
        "\\boxed{" + "\\text{" * (N // 6) + "}",
        "\\boxed{" + "," * N + "}",
    ],
    extract_last: ["".join(f"\\boxed{{{i}}}" for i in range(N // 11)), "\\boxed{}" * (N // 8)],
    normalize_and_compare: [
        "1" * N + "x",
        "x=" + " " * N + "=",
        "$" * N,
        "$ " * (N // 2),
        "\\(" * (N // 4) + "1" + "\\)" * (N // 4),
        "1 " + "km/" * (N // 3) + "1",
        "1 " + "km " * (N // 3) + "1",
        "^ " * (N // 2),
        "1" + ",000" * (N // 4) + "x",
        "0." + "3" * N,
        "\\frac{" + "1" * N + "}{",
        "\\{" + "1," * (N // 2) + "\\}",
        "\\{" * (N // 4) + "\\}" * (N // 4),
        "(" + "1," * (N // 2) + "1)",
        "<" * N,
        "x<" * (N // 2),
        "1/" + "2" * N,
        "\\frac" * (N // 5),
    ],
    compare_with_a_variant: [
        listing("\\{", "\\}"),
        listing("(", ")"),
        listing("x = (", ")"),
        listing("[", ")"),
    ],
    compare_numerically: [
        "\\frac12" * (N // 7),
        "x" * N,
        "(" * (N // 2) + "1" + ")" * (N // 2),
        "{" * N,
        "\\sqrt" * (N // 5),
    ],
    check_limits: ["1" * N, "1 " * (N // 2)],
}


CASES = [(parse, text) for parse, texts in ADVERSARIAL.items() for text in texts]


@pytest.mark.parametrize(
    ("parse", "text"), CASES, ids=[f"{parse.__name__}:{text[:12]!r}" for parse, text in CASES]
)
def test_parsers_of_completion_text_are_linear(parse, text):
    assert_linear(parse, text)


# --- bounded caches -----------------------------------------------------------------


def test_oversized_answers_never_reach_the_caches(math_reward):
    verifier = math_reward.root
    entries, nbytes = len(verifier._verdicts), verifier._verdicts.nbytes
    gold_bytes = math_reward_module._gold.cache.nbytes
    samples = [
        {"completion": "\\boxed{" + chr(0x4E00 + i) + "@" * N + "}", "reference": "12"}
        for i in range(20)
    ]
    scores = math_reward.score(samples)
    assert {s.info["math"]["reason"] for s in scores} == {TOO_LONG}
    assert (len(verifier._verdicts), verifier._verdicts.nbytes) == (entries, nbytes)
    assert math_reward_module._gold.cache.nbytes - gold_bytes < 10_000


def test_huge_golds_are_not_cached(math_reward):
    before = math_reward_module._gold.cache.nbytes
    gold = "\\boxed{12} " + "." * (1 << 20)
    [score] = math_reward.score([{"completion": "\\boxed{12}", "reference": gold}])
    assert score.value == 1.0
    assert math_reward_module._gold.cache.nbytes - before < 10_000
