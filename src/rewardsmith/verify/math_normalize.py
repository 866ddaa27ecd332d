"""Normalisation of final math answers, and the fast path that decides plain cases.

Most answers in RL math data are plain numbers (integers, decimals, simple fractions).
Those are compared here exactly, with Fractions, in microseconds; closed forms and
polynomials are compared by value (`math_eval`); everything else (sets, intervals,
equations, percentages, functions) is left undecided for math-verify/sympy.
Numbers written as decimals are compared after rounding to 6 places, as math-verify does
with its default `float_rounding=6`, but exactly (Fractions, never floats), so rounding
cannot make two different integers or two huge numbers equal.

Every pattern runs in linear time on any input (possessive quantifiers where a run could
be split between neighbours), and no number longer than `MAX_NUMBER_CHARS` characters is
ever converted; callers bound their answers more tightly (see `math_answer.Limits`).
"""

from __future__ import annotations

import re
from fractions import Fraction

from rewardsmith.verify.math_eval import numeric_equal

_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_SPACING = re.compile(r"\\[,;:! ]|\\left|\\right|\\displaystyle")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mbox|textnormal)\{([^{}]*+)\}")
_UNIT = r"[A-Za-z]++(?:\^\d|/[A-Za-z]++(?:\^\d)?)*+"  # km, km/h, m/s^2, cm^2
_UNIT_WORDS = re.compile(rf"^(?P<number>[-+]?[\d.,/]++)\s++(?P<unit>{_UNIT}(?: {_UNIT})*+)$")
_DEGREE = re.compile(r"\^\s*+\{?\\circ\}?|°")
_CURRENCY = re.compile(r"^\\?\$\s*")
_THOUSANDS = re.compile(r"^[-+]?\d{1,3}(?:,\d{3})++(?:\.\d++)?$")
_DECIMAL = re.compile(r"^[-+]?(?:\d++(?:\.\d*+)?|\.\d++)$")
_SLASH = re.compile(r"^([-+]?\d++)/(\d++)$")
_ASSIGNMENT = re.compile(r"^[a-zA-Z]\s*+=\s*+(?P<value>[^=]++)$")
_PERCENT = re.compile(r"\\?%$")
_BRACKETED = re.compile(r"^(?P<open>[\[(])(?P<items>[^()\[\]]++)(?P<close>[\])])$")
_RELATION = re.compile(r"\\(?:leqslant|geqslant|leq|geq|le|ge|lt|gt)(?![A-Za-z])|<|>|≤|≥")
_CLOSED = {"\\leqslant", "\\geqslant", "\\leq", "\\geq", "\\le", "\\ge", "≤", "≥"}
_GREATER = {"\\geqslant", "\\geq", "\\ge", "\\gt", ">", "≥"}
_VARIABLE = re.compile(r"[A-Za-z]")
_FRAC = re.compile(r"^([-+]?)\\frac\{([-+]?\d++)\}\{(\d++)\}$|^([-+]?)\\frac(\d)(\d)$")
MAX_NUMBER_CHARS = 4000  # int() refuses more than 4300 digits (CPython's default limit)
_MILLIONTHS = 10**6  # rounding to 6 places, as math-verify's float_rounding
_MAX_ITEMS = 16  # larger sets and tuples are left to math-verify


def normalize(answer: str) -> str:
    """A canonical spelling: no math delimiters, spacing macros, `\\text` units or final dot."""
    text = _SPACING.sub("", _unwrap(answer))
    text = _TEXT.sub(r"\1", text)
    text = _DEGREE.sub("", text)
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    text = _CURRENCY.sub("", text).strip()
    text = text.rstrip(".").strip() if not text.endswith("..") else text
    unit = _UNIT_WORDS.match(text)
    if unit and len(unit.group("unit")) > 1 and _plain_number(unit.group("number")):
        text = unit.group("number")  # "3,150 pencils", "77.5 km/h"; not "3 x"
    if _THOUSANDS.match(text):
        text = text.replace(",", "")
    assignment = _ASSIGNMENT.match(text)
    if assignment and as_number(assignment.group("value").strip()) is not None:
        text = assignment.group("value").strip()  # "x = 12": the number is what counts
    return text


def _unwrap(text: str) -> str:
    """`text` stripped of enclosing `$..$`, `$$..$$`, `\\(..\\)`, `\\[..\\]` (any number of
    them, with spaces between); two indices move inwards, so this is one pass."""
    start, end = 0, len(text)
    changed = True
    while changed:
        changed = False
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        for left, right in _WRAPPERS:
            if (
                end - start > len(left) + len(right)
                and text.startswith(left, start, end)
                and text.endswith(right, start, end)
            ):
                start, end = start + len(left), end - len(right)
                changed = True
    return text[start:end]


def _plain_number(text: str) -> bool:
    return as_number(text) is not None or _THOUSANDS.match(text) is not None


def as_number(text: str) -> Fraction | None:
    """The exact value of a plain number (12, -3.5, 7/2, \\frac{7}{2}), else None (also for
    numbers longer than `MAX_NUMBER_CHARS`)."""
    if len(text) > MAX_NUMBER_CHARS:
        return None
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
    for compare in (
        _numbers_equal,
        _sets_equal,
        _bracketed_equal,
        _assignments_equal,
        _interval_equal,
        numeric_equal,
    ):
        verdict = compare(gold, pred)
        if verdict is not None:
            return verdict
    return None


def _numbers_equal(gold: str, pred: str) -> bool | None:
    """Plain numbers; a percentage matches its number or its hundredth, as in math-verify."""
    gold_values, pred_values = _values(gold), _values(pred)
    if gold_values is None or pred_values is None:
        return None
    decimal = "." in gold or "." in pred
    return any(_same(a, b, decimal) for a in gold_values for b in pred_values)


def _values(text: str) -> list[Fraction] | None:
    core = _PERCENT.sub("", text).strip()
    value = as_number(core)
    if value is None:
        return None
    return [value, value / 100] if core != text else [value]


def _same(a: Fraction, b: Fraction, decimal: bool) -> bool:
    """Equal, or, where a decimal is meant, equal once both are rounded to 6 places (exactly:
    18446744073709551100.0 is not 2^64)."""
    return a == b or (decimal and round(a * _MILLIONTHS) == round(b * _MILLIONTHS))


def _sets_equal(gold: str, pred: str) -> bool | None:
    """`\\{a, b\\}` against `\\{b, a\\}`: equal as sets of individually decided items.
    Nested and large sets are left undecided (items are matched pairwise, recursively)."""
    if not all(x.startswith("\\{") and x.endswith("\\}") for x in (gold, pred)):
        return None
    sets = [{item.strip() for item in x[2:-2].split(",")} for x in (gold, pred)]
    if any(len(items) > _MAX_ITEMS or any("\\{" in i for i in items) for items in sets):
        return None
    gold_items, pred_items = sets
    unmatched = set(pred_items)
    for item in gold_items:
        match = next((p for p in unmatched if fast_equal(item, p)), None)
        if match is None:
            undecided = any(fast_equal(item, p) is None for p in unmatched)
            return None if undecided else False
        unmatched.discard(match)
    return not unmatched


def _bracketed_equal(gold: str, pred: str) -> bool | None:
    """Tuples and intervals, `(a, b)`, `[a, b)`, `(-\\infty, 3]`: same brackets, and the
    same items in order (which is equality whether `(a, b)` means a pair or an interval)."""
    parts = [_BRACKETED.match(x.replace(" ", "")) for x in (gold, pred)]
    if not (parts[0] and parts[1]):
        return None
    g, p = parts
    gold_items, pred_items = g["items"].split(","), p["items"].split(",")
    if len(gold_items) < 2 or len(pred_items) < 2:
        return None
    if (g["open"], g["close"]) != (p["open"], p["close"]) or len(gold_items) != len(pred_items):
        return False
    if len(gold_items) > _MAX_ITEMS:
        return None
    verdicts = [fast_equal(_end(a), _end(b)) for a, b in zip(gold_items, pred_items, strict=True)]
    return None if None in verdicts else all(verdicts)


def _assignments_equal(gold: str, pred: str) -> bool | None:
    """`y = 2x + 3` against `y = 3 + 2x`: the same variable, equal right-hand sides."""
    g, p = _ASSIGNMENT.match(gold), _ASSIGNMENT.match(pred)
    if not (g and p) or gold.split("=")[0].strip() != pred.split("=")[0].strip():
        return None
    return fast_equal(g.group("value").strip(), p.group("value").strip())


def _interval_equal(gold: str, pred: str) -> bool | None:
    """A one-variable inequality against an interval, or against another inequality."""
    gold_interval, pred_interval = as_interval(gold), as_interval(pred)
    if gold_interval is None and pred_interval is None:
        return None
    return _bracketed_equal(gold_interval or gold, pred_interval or pred)


def as_interval(text: str) -> str | None:
    """`x < 3` -> `(-\\infty,3)`, `3 \\ge x` -> `(-\\infty,3]`, `-1 \\le x < 2` -> `[-1,2)`;
    None unless `text` bounds exactly one single-letter variable by one or two relations."""
    relations = _RELATION.findall(text)
    terms = [term.strip() for term in _RELATION.split(text)]
    if len(relations) not in (1, 2) or not all(terms):
        return None
    greater = [relation in _GREATER for relation in relations]
    if any(greater) and not all(greater):
        return None  # a chain such as a < x > b bounds nothing
    if all(greater):
        terms, relations = terms[::-1], relations[::-1]
    variables = [i for i, term in enumerate(terms) if _VARIABLE.fullmatch(term)]
    if len(variables) != 1 or (len(terms) == 3 and variables != [1]):
        return None
    closed = [relation in _CLOSED for relation in relations]
    if len(terms) == 3:
        low, high, closed_low, closed_high = terms[0], terms[2], closed[0], closed[1]
    elif variables == [0]:
        low, high, closed_low, closed_high = "-\\infty", terms[1], False, closed[0]
    else:
        low, high, closed_low, closed_high = terms[0], "\\infty", closed[0], False
    return f"{'[' if closed_low else '('}{low},{high}{']' if closed_high else ')'}"


def _end(text: str) -> str:
    return text.replace("+\\infty", "\\infty")
