"""Exact values of number notations that are not plain numbers: mixed numbers, scientific
notation and clock times.

Rules (each pattern matches a whole normalised answer, in linear time):
- Mixed number: an integer followed by a proper fraction, `1 1/2`, `1\\frac{1}{2}`,
  `-2\\frac58` (= -21/8). An integer written next to a fraction is a mixed number, never a
  product (that is how MATH and math-verify read `2\\frac{1}{2}`); with an improper
  fraction (`2\\frac{3}{2}`) or an explicit operator (`2 \\cdot \\frac12`) it is not one.
- Scientific notation: `3.0 \\times 10^{8}`, `3 \\cdot 10^8`, `1.5e-3`, `2E+5`. The
  exponent is at most `MAX_EXPONENT` in size, so `10^{10^{10}}` is never built.
- Clock time: `H:MM` or `H:MM:SS`, optionally `AM`/`PM` (`a.m.`, `P.M`, any case). A
  marked time is converted to the 24-hour clock; an unmarked one is read as written.
  Seconds of `00` are the same as none: `20:34` is `20:34:00`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from fractions import Fraction

MAX_EXPONENT = 400  # 10^400 is exact and cheap; anything larger is left to sympy
MAX_DIGITS = 300  # digits in a mantissa or a mixed number's parts

_MIXED = re.compile(
    r"^(?P<sign>[-+]?)(?P<whole>\d++)"
    r"(?:\s++(?P<num>\d++)/(?P<den>\d++)|\s*+\\frac\{(?P<fnum>\d++)\}\{(?P<fden>\d++)\}"
    r"|\s*+\\frac(?P<dnum>\d)(?P<dden>\d))$"
)
_SCIENTIFIC = re.compile(
    r"^(?P<mantissa>[-+]?(?:\d++(?:\.\d*+)?|\.\d++))"
    r"(?:\s*+(?:\\times|\\cdot|\*|×)\s*+10\s*+\^\s*+(?:\{\s*+(?P<braced>[-+]?\d++)\s*+\}"
    r"|(?P<bare>[-+]?\d))|[eE](?P<e>[-+]?\d++))$"
)
_TIME = re.compile(
    r"^(?P<hour>\d{1,2}):(?P<minute>\d\d)(?::(?P<second>\d\d))?"
    r"(?:\s*+(?P<half>[ap])\.?\s*+m\.?)?$",
    re.IGNORECASE,
)
_DAY_SECONDS = 24 * 3600


def mixed_number(text: str) -> Fraction | None:
    """The value of a mixed number (`1 1/2` is 3/2), or None for anything else."""
    match = _MIXED.match(text)
    if match is None or len(text) > MAX_DIGITS:
        return None
    num = match["num"] or match["fnum"] or match["dnum"]
    den = match["den"] or match["fden"] or match["dden"]
    if not 0 < int(num) < int(den):
        return None
    value = int(match["whole"]) + Fraction(int(num), int(den))
    return -value if match["sign"] == "-" else value


def scientific(text: str) -> Fraction | None:
    """The exact value of a number in scientific notation, or None (also when the exponent
    is beyond `MAX_EXPONENT` or the mantissa longer than `MAX_DIGITS`)."""
    match = _SCIENTIFIC.match(text)
    if match is None or len(match["mantissa"]) > MAX_DIGITS:
        return None
    exponent = match["braced"] or match["bare"] or match["e"]
    if len(exponent) > 5 or abs(int(exponent)) > MAX_EXPONENT:
        return None
    return Fraction(match["mantissa"]) * Fraction(10) ** int(exponent)


def close(a: Fraction, b: Fraction, rel_tol: float) -> bool:
    """Equal when both are integers; otherwise within `rel_tol` of the larger magnitude."""
    if a.denominator == 1 and b.denominator == 1:
        return a == b
    return abs(a - b) <= Fraction(rel_tol) * max(abs(a), abs(b))


def clock_time(text: str) -> tuple[int, bool] | None:
    """(seconds after midnight, whether AM/PM was written) of a clock time, or None."""
    match = _TIME.match(text)
    if match is None:
        return None
    hour, minute, second = int(match["hour"]), int(match["minute"]), int(match["second"] or 0)
    if minute > 59 or second > 59:
        return None
    half = (match["half"] or "").lower()
    if half:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if half == "p" else 0)
    elif hour > 23:
        return None
    return hour * 3600 + minute * 60 + second, bool(half)


def times_equal(gold: str, pred: str, as_number: Callable[[str], Fraction | None]) -> bool | None:
    """Clock times: the same time of day. A time without AM/PM whose hour is 1-12 matches
    either half of the day when the other side says which (`3:00` = `3:00 PM`); two
    unmarked times are compared as written (`3:30` is not `15:30`). A time against a
    number (`as_number` reads one) is unequal: `9:30` is not the ratio `9/30`. None when
    neither side is a time, or the other side is something else (`V_1:V_2 = 7:32`)."""
    times = clock_time(gold), clock_time(pred)
    if times == (None, None):
        return None
    if None in times:
        other = gold if times[0] is None else pred
        return False if as_number(other) is not None else None
    (a, a_marked), (b, b_marked) = times
    if a_marked != b_marked:
        unmarked = b if a_marked else a
        if 3600 <= unmarked < 13 * 3600:  # 1:00 to 12:59, either half of the day
            return a % (12 * 3600) == b % (12 * 3600)
    return a % _DAY_SECONDS == b % _DAY_SECONDS
