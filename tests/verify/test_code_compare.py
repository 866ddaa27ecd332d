"""How the code verifier compares a program's output and return values with the expected
ones: exactly, except that a float expected value admits its tolerance."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rewardsmith.verify.code import MAX_NUMBER_CHARS, _same_output, _same_token, _same_value


@pytest.mark.parametrize(
    ("got", "expected", "same"),
    [
        ("3", "3", True),
        ("3.0000001", "3", False),  # an integer is printed digit for digit
        ("3.0", "3", False),
        ("03", "3", False),
        ("+3", "3", False),
        ("3", "3.0000001", True),  # a float expected value admits an integer within it
        ("0.3333333", "0.333333", True),
        ("0.3334", "0.333333", False),
        ("3.3e-1", "0.333333", False),
        ("3.33333e-1", "0.333333", True),
        ("18446744073709551617", "18446744073709551616", False),
        ("18446744073709551616.0", "18446744073709551616", False),
        ("1" * 5000, "1" * 4999 + "2", False),  # no int() of 5000 digits, no float() either
        ("nan", "0.5", False),
        ("inf", "1e400", False),  # overflowing doubles compare as text only
        ("1e401", "1e400", False),
        ("1e400", "1e400", True),
        ("1_000.0", "1000.0", False),  # what float() accepts beyond decimal notation is no number
        ("\u0661.5", "1.5", False),
        ("0." + "3" * MAX_NUMBER_CHARS, "0.333333", False),
    ],
)
def test_same_token(got, expected, same):
    assert _same_token(got, expected, 1e-6) is same


def test_same_output_is_exact_without_a_tolerance():
    assert _same_output("3 \n4\n\n", "3\n4", None)
    assert not _same_output("3.0000001\n", "3.0\n", None)
    assert _same_output("3.0000001 4\n", "3.0 4", 1e-6)
    assert not _same_output("3.0000001 4\n", "3.0 4.0 5", 1e-6)


def test_same_value_admits_a_tolerance_only_for_float_expected_values():
    assert _same_value(3.0000000001, 3.0)
    assert _same_value(3, 3.0)
    assert not _same_value(3.0000000001, 3)
    assert not _same_value(3.0, 3)
    assert _same_value([1, 2.0000000001], (1, 2.0))
    assert not _same_value([1.0000000001, 2.0], (1, 2.0))
    assert not _same_value(10**400, 1e300)  # beyond any double: near no float, no OverflowError
    assert not _same_value(2**64 + 1, 2**64)
    assert not _same_value(True, 1) and not _same_value(1, True)


integers = st.integers(min_value=-(10**40), max_value=10**40)


@given(integers, integers)
def test_distinct_integers_never_compare_equal(a, b):
    assert _same_token(str(a), str(b), 0.5) is (a == b)
    assert _same_output(f"{a}\n", f"{b}\n", 0.5) is (a == b)
    assert _same_value(a, b) is (a == b)


@given(integers, st.floats(min_value=-0.49, max_value=0.49).filter(lambda d: d != 0))
def test_no_float_matches_an_integer(a, offset):
    assert not _same_token(repr(a + offset), str(a), 1.0)
    assert not _same_value(a + offset, a)


tolerances = st.sampled_from([1e-9, 1e-6, 1e-3])
floats = st.floats(min_value=-1e12, max_value=1e12)


@given(floats, st.floats(min_value=-0.9, max_value=0.9), tolerances)
def test_a_float_expected_value_matches_within_its_tolerance(expected, share, tolerance):
    got = expected + share * tolerance * max(1.0, abs(expected))
    assert _same_token(f"{got:.17e}", f"{expected:.17e}", tolerance)
    assert _same_output(f"{got!r}\n", f"{expected:.17e}\n", tolerance)
    assert _same_value(got, expected) is math.isclose(got, expected, rel_tol=1e-9)


@given(floats, st.sampled_from([-2.0, 2.0]), tolerances)
def test_a_float_expected_value_rejects_what_is_beyond_its_tolerance(expected, sign, tolerance):
    got = expected + sign * tolerance * max(1.0, abs(expected))
    assert not _same_token(f"{got:.17e}", f"{expected:.17e}", tolerance)
