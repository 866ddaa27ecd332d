"""Normalisation of final math answers, and the fast path that decides plain cases.

Most answers in RL math data are plain numbers (integers, decimals, simple fractions).
Those are compared here exactly, with Fractions, in microseconds; everything else (surds,
expressions, sets, intervals, percentages) is left undecided for math-verify/sympy.
Numbers written as decimals are compared after rounding to 6 places, as math-verify does
with its default `float_rounding=6`.
"""

from __future__ import annotations

import re
from fractions import Fraction

_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_SPACING = re.compile(r"\\[,;:! ]|\\left|\\right|\\displaystyle")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mbox|textnormal)\{([^{}]*)\}")
_UNIT_WORDS = re.compile(r"^(?P<number>[-+]?[\d.,/]+)\s+[A-Za-z]{2,}(?: [A-Za-z]+)*$")
_DEGREE = re.compile(r"\^\s*\{?\\circ\}?|°")
_CURRENCY = re.compile(r"^\\?\$\s*")
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_DECIMAL = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)$")
_SLASH = re.compile(r"^([-+]?\d+)/(\d+)$")
_FRAC = re.compile(r"^([-+]?)\\frac\{([-+]?\d+)\}\{(\d+)\}$|^([-+]?)\\frac(\d)(\d)$")


def normalize(answer: str) -> str:
    """A canonical spelling: no math delimiters, spacing macros, `\\text` units or final dot."""
    text = answer.strip()
    changed = True
    while changed:
        changed = False
        for left, right in _WRAPPERS:
            if len(text) > len(left) + len(right) and text.startswith(left) and text.endswith(right):
                text = text[len(left) : -len(right)].strip()
                changed = True
    text = _SPACING.sub("", text)
    text = _TEXT.sub(r"\1", text)
    text = _DEGREE.sub("", text)
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    text = _CURRENCY.sub("", text).strip()
    text = text.rstrip(".").strip() if not text.endswith("..") else text
    unit = _UNIT_WORDS.match(text)
    if unit and as_number(unit.group("number")) is not None:
        text = unit.group("number")
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    return text


def as_number(text: str) -> Fraction | None:
    """The exact value of a plain number (12, -3.5, 7/2, \\frac{7}{2}), else None."""
    if _DECIMAL.match(text):
        return Fraction(text)
    if match := _SLASH.match(text):
        return Fraction(int(match.group(1)), int(match.group(2))) if int(match.group(2)) else None
    if match := _FRAC.match(text):
        sign, num, den = (match.group(1), match.group(2), match.group(3))
        if num is None:
            sign, num, den = match.group(4), match.group(5), match.group(6)
        if int(den) == 0:
            return None
        value = Fraction(int(num), int(den))
        return -value if sign == "-" else value
    return None


def fast_equal(gold: str, pred: str) -> bool | None:
    """Decide equivalence of two normalised answers without sympy, or None if unsure."""
    if gold == pred or gold.replace(" ", "") == pred.replace(" ", ""):
        return True
    gold_value, pred_value = as_number(gold), as_number(pred)
    if gold_value is None or pred_value is None:
        return None
    if gold_value == pred_value:
        return True
    if "." in gold or "." in pred:
        return round(float(gold_value), 6) == round(float(pred_value), 6)
    return False
