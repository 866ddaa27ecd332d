"""Normalisation and equivalence of math answers, class by class: matrices, degrees inside
trigonometric functions, function notation, units, number formats, complex numbers,
scientific notation, mixed numbers and clock times; each with accepted and rejected
spellings, properties, and bounds on hostile input."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardsmith import load_reward
from rewardsmith.verify.math_eval import numeric_equal
from rewardsmith.verify.math_forms import clock_time, mixed_number, scientific, times_equal
from rewardsmith.verify.math_normalize import as_number, fast_equal, normalize
from tests.hostile import KB
from tests.linear_time import ADVERSARIAL_SIZE as N
from tests.linear_time import assert_linear

MATRIX = "\\begin{pmatrix}2 & 5 \\\\ 7 & 1\\end{pmatrix}"
CANONICAL_MATRIX = "\\begin{pmatrix}2&5\\\\7&1\\end{pmatrix}"


def decide(gold: str, pred: str, rel_tol: float | None = None) -> bool | None:
    if rel_tol is None:
        return fast_equal(normalize(gold), normalize(pred))
    return fast_equal(normalize(gold), normalize(pred), rel_tol)


# --- normalisation ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        (
            "\\begin{pmatrix} 2 & 5 \\\\ 7 & 1 \\end{pmatrix}",
            "\\begin{pmatrix}2&5\\\\7&1\\end{pmatrix}",
        ),
        ("\\begin{bmatrix}2&5\\\\  7&1\\end{bmatrix}", "\\begin{pmatrix}2&5\\\\7&1\\end{pmatrix}"),
        ("\\begin{matrix} 4 \\\\ -3 \\end{matrix}", "\\begin{pmatrix}4\\\\-3\\end{pmatrix}"),
        ("\\begin{vmatrix}2&5\\\\7&1\\end{vmatrix}", "\\begin{vmatrix}2&5\\\\7&1\\end{vmatrix}"),
        ("\\left[ \\begin{array}{cc} 2 & 5 \\\\ 7 & 1 \\end{array} \\right]", CANONICAL_MATRIX),
        ("1 3/4", "7/4"),
        ("-2\\frac{1}{3}", "-7/3"),
        ("2\\frac{5}{3}", "2\\frac{5}{3}"),  # an improper fraction: not a mixed number
        ("\\left( 3,\\ 4 \\right)", "( 3,4 )"),
        ("23,\\! 456,\\! 789", "23456789"),
        ("4,\\!096", "4096"),
        ("2,500.75", "2500.75"),
        ("2 500 000", "2500000"),
        ("0,250", "0,250"),  # not a thousands number: a list, or a decimal comma
        ("12, 500", "12, 500"),  # a space after the comma: two values
        ("45^\\circ", "45"),
        ("\\cos 60^{\\circ}", "\\cos (\\frac{60\\pi}{180})"),
        ("\\tan(45°)", "\\tan((\\frac{45\\pi}{180}))"),
        ("g(t) = 4t - 1", "4t - 1"),
        ("7\\text{ m}^{3}", "7 m^{3}"),  # one letter: kept
        ("7\\text{ km}^{2}", "7"),
        ("7 \\text{km}^2", "7"),
        ("7\\text{mm}", "7"),
        ("36hours", "36"),
        ("36 Days", "36"),
        ("4\\text{ euros}", "4"),
        ("2,450.50\\$", "2450.50"),
        ("12€", "12"),
        ("36h", "36h"),  # glued letters that are not a unit word may be variables
        ("5 x^2", "5 x^2"),
        ("5 y", "5 y"),
    ],
)
def test_normalize(raw, normal):
    assert normalize(raw) == normal


# --- equivalence, class by class ----------------------------------------------------

ACCEPTED = [
    # matrices and vectors, any row-break spacing and delimiters
    (
        "\\begin{pmatrix}2 & 5 \\\\ 7 & 1\\end{pmatrix}",
        "\\begin{bmatrix} 2&5\\\\7&1 \\end{bmatrix}",
    ),
    ("\\begin{pmatrix}4\\\\ -3\\end{pmatrix}", "\\begin{pmatrix} 4 \\\\-3 \\end{pmatrix}"),
    (
        "\\begin{pmatrix}\\frac{1}{2}&0\\\\0&2\\end{pmatrix}",
        "\\begin{bmatrix}0.5&0\\\\0&2\\\\\\end{bmatrix}",
    ),
    (MATRIX, "(\\begin{array}{cc}2&5\\\\7&1\\end{array})"),
    # degrees: a plain angle keeps its number; inside trig the degrees become radians
    ("45", "45^\\circ"),
    # function notation
    ("g(t) = 4t - 1", "4t - 1"),
    ("h(x) = x^2 - 1", "y = (x-1)(x+1)"),
    ("y = 3x - 2", "f(x) = 3x - 2"),
    # units
    ("7", "7\\text{ km}^{2}"),
    ("7 \\text{km}^2", "7"),
    ("36hours", "36"),
    ("15", "15\\text{ dollars}"),
    ("2450.5", "2,450.50$"),
    # number formats
    ("23456789", "23,\\! 456,\\! 789"),
    ("2500.75", "2,500.75"),
    ("1000", "1 000"),
    # complex numbers
    ("-1", "i^2"),
    ("2i", "(1+i)^2"),
    ("3+4i", "i(4-3i)"),
    ("\\frac{1}{2} - \\frac{1}{2}i", "\\frac{1}{1+i}"),
    ("-i", "i^3"),
    # scientific notation
    ("300000000", "3.0 \\times 10^{8}"),
    ("3/2000", "1.5e-3"),
    ("\\frac{1}{7}", "1.428571428571 \\times 10^{-1}"),
    ("6.02 \\times 10^{23}", "602000000000000000000000"),
    ("4 \\cdot 10^5", "400000"),
    # mixed numbers
    ("1 1/2", "1.5"),
    ("2\\frac{3}{4}", "\\frac{11}{4}"),
    ("-3\\frac12", "-3.5"),
    ("4 2/3", "\\frac{14}{3}"),
    ("1\\frac12", "\\frac{\\sqrt{9}}{2}"),  # not read as 1 * 1/2
    # clock times
    ("9:30", "09:30"),
    ("9:30", "9:30"),
    ("17:05", "17:05:00"),
    ("17:05", "5:05 \\text{ p.m.}"),
    ("4:15", "4:15 AM"),
    ("4:15", "4:15 PM"),  # an unmarked hour of 1-12 is either half of the day
    ("12:10 AM", "00:10"),
]

REJECTED = [
    (
        "\\begin{pmatrix}2 & 5 \\\\ 7 & 1\\end{pmatrix}",
        "\\begin{pmatrix}2 & 7 \\\\ 5 & 1\\end{pmatrix}",
    ),
    ("\\frac{1}{2}", "\\cos 30^\\circ"),
    ("\\frac{1}{2}", "\\cos 60"),  # 60 radians
    ("g(t) = 4t - 1", "4t + 1"),
    ("y = 3x - 2", "f(x) = 3x + 2"),
    ("7", "8\\text{ km}^{2}"),
    ("36hours", "35"),
    ("2450.5", "2,450.05$"),
    ("23456789", "23,\\! 456,\\! 780"),
    ("2500.75", "2500,57"),
    ("2500.75", "250,075"),  # a thousands number
    ("1", "i^2"),
    ("2", "(1+i)^2"),
    ("3+4i", "3-4i"),
    ("300000001", "3.0 \\times 10^{8}"),
    ("299999999", "3 \\times 10^{8}"),
    ("\\frac{1}{7}", "1.43 \\times 10^{-1}"),
    ("3/2000", "1.5e-2"),
    ("1 1/2", "11/2"),
    ("1 1/2", "1/2"),
    ("1 1/2", "\\frac{\\sqrt{1}}{2}"),  # math-verify would read 1 1/2 as 1 * 1/2
    ("2\\frac{3}{4}", "\\frac{3}{2}"),  # 2 times 3/4 is not what a mixed number means
    ("4 2/3", "4.2/3"),
    ("9:30", "9/30"),
    ("9:30", "\\frac{3}{10}"),
    ("9:30", "9:03"),
    ("9:30", "0.3"),
    ("17:05", "5:05"),  # both unmarked: read as written
    ("17:05", "5:05 AM"),
    ("4:15 PM", "4:15 AM"),
    ("12:10 AM", "12:10 PM"),
]


# trigonometric functions are outside the fast layer: math-verify decides them
ACCEPTED_BY_MATH_VERIFY = [
    (MATRIX, CANONICAL_MATRIX),
    ("\\frac{1}{2}", "\\cos 60^\\circ"),
    ("\\frac{\\sqrt{2}}{2}", "\\sin 45^{\\circ}"),
    ("\\frac{\\sqrt{3}}{2}", "\\sin 120^\\circ"),
    ("\\cos(x)", "\\sin(90^\\circ - x)"),
]
REJECTED_BY_MATH_VERIFY = [
    ("\\frac{\\sqrt{3}}{2}", "\\sin 30^\\circ"),
    ("\\cos(x)", "\\sin(90 - x)"),
]


@pytest.mark.parametrize(("gold", "pred"), ACCEPTED)
def test_accepted_spellings_are_decided_equal(gold, pred):
    assert decide(gold, pred) is True
    assert decide(pred, gold) is True


@pytest.mark.parametrize(("gold", "pred"), REJECTED)
def test_rejected_spellings_are_never_decided_equal(gold, pred):
    assert decide(gold, pred) is not True
    assert decide(pred, gold) is not True


@pytest.fixture(scope="module")
def math_reward():
    with load_reward("math", workers=2) as reward:
        yield reward


def test_the_reward_agrees_end_to_end(math_reward):
    """Through extraction and math-verify: what the fast layer leaves undecided too."""
    accepted = ACCEPTED + ACCEPTED_BY_MATH_VERIFY
    rejected = REJECTED + REJECTED_BY_MATH_VERIFY
    cases = [(g, p, 1.0) for g, p in accepted] + [(g, p, 0.0) for g, p in rejected]
    samples = [{"completion": f"\\boxed{{{pred}}}", "reference": gold} for gold, pred, _ in cases]
    got = [s.value for s in math_reward.score(samples)]
    wrong = [(g, p, e) for (g, p, e), v in zip(cases, got, strict=True) if v != e]
    assert not wrong


def test_undecidable_pairs_are_left_to_math_verify():
    assert decide("V_1:V_2 = 7:32", "7:32") is None  # a ratio, not a time
    assert decide("\\frac{7}{32}", "7:32") is False  # a time is no number
    for gold, pred in ACCEPTED_BY_MATH_VERIFY[1:] + REJECTED_BY_MATH_VERIFY:
        assert decide(gold, pred) is None
    assert decide("2 + i", "\\sqrt{i}") is None  # a root of a complex number
    assert decide("x", "i^x") is None
    assert decide("2^{1/2}", "i^{1/2}") is None


def test_an_answer_with_a_decimal_comma_matches_a_decimal_gold():
    assert decide("2500.75", "2500,75") is True
    assert decide("-0.5", "-0,5") is True
    assert decide("2500.75", "2500,7") is False


def test_a_gold_with_a_comma_may_be_a_list():
    assert decide("1,25", "1.25") is None
    assert decide("0,125", "0.125") is None


def test_scientific_tolerance_is_configurable():
    gold, pred = "\\frac{1}{7}", "1.4286 \\times 10^{-1}"
    assert decide(gold, pred) is False
    assert decide(gold, pred, rel_tol=1e-4) is True
    assert decide("100001", "1.0 \\times 10^{5}", rel_tol=0.5) is False  # integers: exact


# --- properties ---------------------------------------------------------------------

NUMBERS = st.one_of(
    st.integers(-(10**6), 10**6).map(str),
    st.fractions(max_denominator=50).map(lambda f: f"\\frac{{{f.numerator}}}{{{f.denominator}}}"),
    st.decimals(-1000, 1000, places=3, allow_nan=False).map(str),
)
FORMS = st.one_of(
    NUMBERS,
    st.builds(lambda m, e: f"{m} \\times 10^{{{e}}}", st.integers(1, 9), st.integers(-8, 8)),
    st.builds(
        lambda w, n, d: f"{w} {n}/{d}", st.integers(1, 9), st.integers(1, 4), st.integers(5, 9)
    ),
    st.builds(lambda h, m: f"{h}:{m:02d}", st.integers(0, 23), st.integers(0, 59)),
    st.builds(lambda a, b: f"{a}+{b}i", st.integers(-5, 5), st.integers(-5, 5)),
)


@given(FORMS, FORMS)
def test_decided_verdicts_are_symmetric(a, b):
    forward, backward = decide(a, b), decide(b, a)
    if forward is not None and backward is not None:
        assert forward == backward


@given(st.integers(-(10**12), 10**12), st.integers(-(10**12), 10**12), st.integers(0, 12))
def test_integers_in_scientific_notation_are_exact(a, b, shift):
    written = f"{Fraction(a, 10**shift)} \\times 10^{{{shift}}}".replace("/", "÷")
    mantissa = f"{a / 10**shift:.{shift}f}" if shift else str(a)
    assert scientific(f"{mantissa} \\times 10^{{{shift}}}") == a, written
    assert decide(str(b), f"{mantissa} \\times 10^{{{shift}}}") is (a == b)


@given(st.integers(0, 99), st.integers(1, 98), st.integers(2, 99))
def test_mixed_numbers_have_their_value(whole, num, den):
    value = mixed_number(f"{whole}\\frac{{{num}}}{{{den}}}")
    assert value == (whole + Fraction(num, den) if num < den else None)
    if num < den:
        assert as_number(f"{whole} {num}/{den}") == value


@given(st.integers(0, 23), st.integers(0, 59), st.integers(0, 23), st.integers(0, 59))
def test_unmarked_clock_times_are_equal_only_when_written_alike(h1, m1, h2, m2):
    verdict = times_equal(f"{h1}:{m1:02d}", f"{h2:02d}:{m2:02d}", as_number)
    assert verdict is ((h1, m1) == (h2, m2))


@given(st.integers(1, 12), st.integers(0, 59), st.sampled_from(["AM", "PM", "a.m.", "P.M."]))
def test_marked_clock_times_convert_to_the_24_hour_clock(hour, minute, half):
    seconds, marked = clock_time(f"{hour}:{minute:02d} {half}")
    assert marked
    assert seconds == ((hour % 12) + (12 if half[0] in "pP" else 0)) * 3600 + minute * 60


# --- bounds and linear time ---------------------------------------------------------


@pytest.mark.parametrize(
    "pred",
    [
        "1.5 \\times 10^{" + "9" * 5000 + "}",
        "1.5e" + "9" * 5000,
        "1." + "5" * 5000 + " \\times 10^{3}",
        "10^{10^{10}}",
        "(1+i)^{10^{10}}",
        "i^{" + "9" * 5000 + "}",
        "(2+3i)^{64} \\cdot (2+3i)^{64} \\cdot (2+3i)^{64}",
        "7" * 5000 + " 1/2",
        "7" * 5000 + "\\frac{1}{2}",
        "7" * 5000 + "weeks",
        "9" * 5000 + ":30",
    ],
)
def test_huge_numbers_in_every_form_are_left_undecided_quickly(pred):
    assert fast_equal(normalize(pred), "12") in (None, False)


def compare_with_twelve(text: str) -> object:
    return fast_equal(normalize(text), "12")


HOSTILE_FORMS = [
    "1" * N + "weeks!",
    "1," * (N // 2),
    "1" * N + ":",
    "1:" * (N // 2),
    "1" + " " * N + "1/",
    "1" + " " * N + "\\frac{1}{2}x",
    "1" * N + "e" + "1" * 10 + "x",
    "1" + " " * N + "\\times 10^{",
    "\\sin " + "1" * N + "x",
    "\\sin " + "1." * (N // 2),
    "\\sin " + "1 " * (N // 2),
    "\\cos " + "x" * N,
    "\\begin{matrix}" + " " * N + "x",
    "\\begin{matrix}" + " \\\\ " * (N // 4),
    " &" * (N // 2),
    "1,\\!" + " " * N + "x",
    "1,\\! " * (N // 5),
    "y=" + "x" * N + "=",
    "y=" + "x=" * (N // 2),
    "f(x)=" + "2" * N + "=",
    "1" * N + " km^{2}/",
    "1" + " " * N + "$!",
    "i" * N,
    "\\begin{pmatrix}" + "&" * N + "\\end{pmatrix}",
    "\\begin{pmatrix}" + "1\\\\" * (N // 3),
    "[\\begin{array}{" + "c" * N + "}",
    "(\\begin{array}{cc}" + "1&" * (N // 2) + "\\end{array}",
    "(1+i)" * (N // 5),
]


@pytest.mark.parametrize("text", HOSTILE_FORMS, ids=[t[:14] for t in HOSTILE_FORMS])
def test_new_notations_parse_in_linear_time(text):
    assert_linear(compare_with_twelve, text)


def test_squeezing_spaces_is_linear():
    for text in ("1 " * (N // 2), "1" + " " * (N - 2) + "1"):
        assert_linear(lambda t: fast_equal(t, t + "x"), text)
        assert_linear(lambda t: fast_equal(t, t.replace(" ", "  ")), text)


def test_complex_evaluation_stays_bounded():
    assert numeric_equal("(1+i)^{64}", "2^{32}") is True
    assert numeric_equal("(1+i)^{63}", "1") is False
    assert numeric_equal("(1+i)^{" + "9" * 3 + "}", "1") is None
    assert len("x" * KB) == KB
