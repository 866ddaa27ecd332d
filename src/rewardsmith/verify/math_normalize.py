"""Normalisation of final math answers, and the fast path that decides plain cases.

Most answers in RL math data are plain numbers (integers, decimals, simple fractions).
Those are compared here exactly, with Fractions, in microseconds; closed forms and
polynomials are compared by value (`math_eval`); everything else (sets, intervals,
equations, percentages, functions) is left undecided for math-verify/sympy.
Numbers written as decimals are compared after rounding to 6 places, as math-verify does
with its default `float_rounding=6`, but exactly (Fractions, never floats), so rounding
cannot make two different integers or two huge numbers equal. Scientific notation, mixed
numbers and clock times are read by `math_forms`; matrices are compared entry by entry.

Rules that keep meaning: a unit is stripped only after a number and only when it cannot
be a variable (two or more letters, `m/s`, or a unit word glued on: `10weeks`; not `3 x`,
`10m`); `f(x) = E` and `y = E` (E in x) state E; degrees inside `\\sin`, `\\cos`, ... become
radians; `,\\!` and `1 000` are thousands separators, while `1,22` and `1, 234` may be
lists and stay as written (an answer `1000,99` against a decimal gold is a decimal comma).

Every pattern runs in linear time on any input (possessive quantifiers where a run could
be split between neighbours), and no number longer than `MAX_NUMBER_CHARS` characters is
ever converted; callers bound their answers more tightly (see `math_answer.Limits`).
"""

from __future__ import annotations

import re
from fractions import Fraction

from rewardsmith.verify.math_eval import numeric_equal
from rewardsmith.verify.math_forms import close, mixed_number, scientific, times_equal

_WRAPPERS = (("$$", "$$"), ("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"))
_MATH_THOUSANDS = re.compile(r"(?<=\d),\\!\s*+(?=\d)")  # MATH's 11,\! 111: one number
_SPACING = re.compile(r"(\\\\)|\\(?:[,;:! ]|left|right|displaystyle)")  # \\ is a row break
_MATRIX = re.compile(r"(?<!\s)\s*+\\(begin|end)\{(?:[pbB]?matrix|smallmatrix)\}\s*+")  # not vmatrix
_CELL_BREAK = re.compile(r"(?<!\s)\s++(?=\\\\|&)|(?:(?<=\\\\)|(?<=&))\s++")
_BODY = r"(?P<body>(?:(?!\\begin|\\end).)*+)"  # no nested environment
_ARRAY = re.compile(rf"^[\[(]\s*+\\begin\{{array\}}\{{[lcr|]*+\}}{_BODY}\\end\{{array\}}\s*+[\])]$")
_PMATRIX = re.compile(rf"^\\begin\{{pmatrix\}}{_BODY}\\end\{{pmatrix\}}$")
_TEXT = re.compile(r"\\(?:text|textbf|mathrm|mbox|textnormal)\{([^{}]*+)\}")
_POWER = r"(?:\^(?:\d|\{\d\})|[²³])"
# a unit: km, m/s^2, cm^{2}; not x or x^2, which may be variables
_UNIT = rf"(?:[A-Za-z]{{2,}}+{_POWER}?|[A-Za-z]{_POWER}?(?=/))(?:/[A-Za-z]++{_POWER}?)*+"
_NUMBER_RUN = r"[-+]?[\d.,/]++"
_UNIT_WORDS = re.compile(rf"^(?P<number>{_NUMBER_RUN})\s++(?P<unit>{_UNIT}(?: {_UNIT})*+)$")
_GLUED_UNIT = re.compile(
    rf"^(?P<number>{_NUMBER_RUN})(?:second|minute|hour|day|week|month|year|dollar|cent|euro"
    r"|unit|meter|metre|mile|yard|inche|feet|foot|gram|liter|litre|degree|person|people)s?$",
    re.IGNORECASE,
)  # 10weeks; glued letters that are not a unit word may be variables (10cm, 10x)
_TRAILING_CURRENCY = re.compile(rf"^(?P<number>{_NUMBER_RUN})\s*+(?:\\?\$|€|£|¥)$")
_TRIG = re.compile(r"\\(?:sin|cos|tan|cot|sec|csc)(?![A-Za-z])")
_DEGREE = re.compile(r"\^\s*+\{?\s*+\\circ\s*+\}?|°")
_DEGREE_ANGLE = re.compile(
    rf"(?<![\d.])(?P<angle>\d++(?:\.\d++)?|(?<![A-Za-z\\])[A-Za-z])\s*+(?:{_DEGREE.pattern})"
)
_CURRENCY = re.compile(r"^\\?\$\s*")
_THOUSANDS = re.compile(r"^[-+]?[1-9]\d{0,2}(?:(?:,\d{3})++|(?: \d{3})++)(?:\.\d++)?$")
_DECIMAL_COMMA = re.compile(r"^[-+]?\d++,\d++$")  # 1000,99: a decimal comma, or two values
_DECIMAL = re.compile(r"^[-+]?(?:\d++(?:\.\d*+)?|\.\d++)$")
_SLASH = re.compile(r"^([-+]?\d++)/(\d++)$")
_ASSIGNMENT = re.compile(r"^[a-zA-Z]\s*+=\s*+(?P<value>[^=]++)$")
_FUNCTION = re.compile(r"^[a-zA-Z]\s*+\(\s*+[a-zA-Z]\s*+\)\s*+=\s*+(?P<value>[^=]++)$")
_PERCENT = re.compile(r"\\?%$")
_SPACES = re.compile(r"\s++")
_DIGIT_GAP = re.compile(r"(?<=\d)\s++(?=\d)")
_DEFINITION = re.compile(r"^y\s*+=\s*+(?P<value>[^=xy]*+x[^=y]*+)$")  # y = 2x + 3
_BRACKETED = re.compile(r"^(?P<open>[\[(])(?P<items>[^()\[\]]++)(?P<close>[\])])$")
_RELATION = re.compile(r"\\(?:leqslant|geqslant|leq|geq|le|ge|lt|gt)(?![A-Za-z])|<=|>=|<|>|≤|≥")
_CLOSED = {"\\leqslant", "\\geqslant", "\\leq", "\\geq", "\\le", "\\ge", "≤", "≥", "<=", ">="}
_GREATER = {"\\geqslant", "\\geq", "\\ge", "\\gt", ">", "≥", ">="}
_VARIABLE = re.compile(r"[A-Za-z]")
_FRAC = re.compile(r"^([-+]?)\\frac\{([-+]?\d++)\}\{(\d++)\}$|^([-+]?)\\frac(\d)(\d)$")
MAX_NUMBER_CHARS = 4000  # int() refuses more than 4300 digits (CPython's default limit)
_MILLIONTHS = 10**6  # rounding to 6 places, as math-verify's float_rounding
_MAX_ITEMS = 16  # larger sets and tuples are left to math-verify
SCIENTIFIC_REL_TOL = 1e-6  # scientific notation against an exact value (integers: exact)


def normalize(answer: str) -> str:
    """A canonical spelling: no math delimiters, spacing macros, `\\text` units, units or
    currency after a number, or final dot; thousands separators dropped; matrices written
    one way; degrees inside trigonometric functions in radians, elsewhere dropped."""
    text = _unwrap(answer)
    if "\\" in text:
        text = _latex(text)
    text = _degrees(text)
    text = text.replace("\\dfrac", "\\frac").replace("\\tfrac", "\\frac")
    text = _CURRENCY.sub("", text).strip()
    text = text.rstrip(".").strip() if not text.endswith("..") else text
    text = _number_without_unit(text)
    if _THOUSANDS.match(text):
        text = text.replace(",", "").replace(" ", "")  # 1,000,000 and 1 000 000
    if function := _FUNCTION.match(text):
        text = function.group("value").strip()  # "f(x) = 2x + 3" states 2x + 3
    assignment = _ASSIGNMENT.match(text)
    if assignment and as_number(assignment.group("value").strip()) is not None:
        text = assignment.group("value").strip()  # "x = 12": the number is what counts
    if (" " in text or "\\frac" in text) and (mixed := mixed_number(text)) is not None:
        text = str(mixed)  # "1 1/2" -> "3/2", which math-verify cannot read as 1 * 1/2
    return text


def _latex(text: str) -> str:
    """Spacing macros dropped, row breaks kept, matrices written one way, `\\text` opened."""
    text = _SPACING.sub(_row_break, _MATH_THOUSANDS.sub(",", text))
    if "\\begin" in text:
        text = _ARRAY.sub(r"\\begin{pmatrix}\g<body>\\end{pmatrix}", text)  # [\begin{array}]
        text = _CELL_BREAK.sub("", _MATRIX.sub(r"\\\1{pmatrix}", text))
    return _TEXT.sub(_text_body, text)


def _row_break(match: re.Match[str]) -> str:
    """A matched row break `\\\\` stays; a spacing macro goes."""
    return match.group(1) or ""


def _text_body(match: re.Match[str]) -> str:
    """`\\text{...}`'s body; after a digit it is set off by a space (`10\\text{cm}` is 10 cm)."""
    body, start = match.group(1), match.start()
    glued = start > 0 and match.string[start - 1].isdigit() and not body[:1].isspace()
    return " " + body if glued else body


def _degrees(text: str) -> str:
    """Inside a trigonometric function an angle in degrees becomes radians (`\\sin 30^\\circ`
    is `\\sin (\\frac{30\\pi}{180})`); any other degree sign is dropped (`30^\\circ` is 30)."""
    if "\\circ" not in text and "°" not in text:
        return text
    if _TRIG.search(text):
        return _DEGREE_ANGLE.sub(r"(\\frac{\g<angle>\\pi}{180})", text)
    return _DEGREE.sub("", text)


def _number_without_unit(text: str) -> str:
    """The number of `3,150 pencils`, `77.5 km/h`, `10 cm^{2}`, `10weeks`, `5 \\$`; a single
    letter after a number is kept (`3 x`, `10m`: it may be a variable)."""
    for pattern in (_UNIT_WORDS, _GLUED_UNIT, _TRAILING_CURRENCY):
        match = pattern.match(text)
        if match and _plain_number(match.group("number")):
            return match.group("number")
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
    """The exact value of a plain number (12, -3.5, 7/2, \\frac{7}{2}, the mixed number
    `1 1/2`), else None (also for numbers longer than `MAX_NUMBER_CHARS`)."""
    if len(text) > MAX_NUMBER_CHARS:
        return None
    if (mixed := mixed_number(text)) is not None:
        return mixed
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


def fast_equal(gold: str, pred: str, rel_tol: float = SCIENTIFIC_REL_TOL) -> bool | None:
    """Decide equivalence of two normalised answers without sympy, or None if unsure.

    `rel_tol` is how far a number in scientific notation may be from the other side's
    exact value, relative to the larger of the two (two integers must be equal)."""
    if gold == pred or _same_but_spaces(gold, pred):
        return True
    verdict = times_equal(gold, pred, as_number) if ":" in gold + pred else None
    for compare in (
        _numbers_equal,
        _decimal_comma_equal,
        _matrices_equal,
        _sets_equal,
        _bracketed_equal,
        _assignments_equal,
        _definitions_equal,
        _interval_equal,
    ):
        if verdict is not None:
            return verdict
        verdict = compare(gold, pred, rel_tol)
    return verdict if verdict is not None else numeric_equal(gold, pred)


def _same_but_spaces(gold: str, pred: str) -> bool:
    """Equal once spaces are dropped, except between two digits (`1 1/2` is not `11/2`)."""
    if gold.replace(" ", "") != pred.replace(" ", ""):
        return False
    return _squeezed(gold) == _squeezed(pred)


def _squeezed(text: str) -> str:
    """`text` without spaces; a run between two digits becomes one mark."""
    return _SPACES.sub("", _DIGIT_GAP.sub("\x01", text))


def _numbers_equal(gold: str, pred: str, rel_tol: float) -> bool | None:
    """Plain numbers; a percentage matches its number or its hundredth, as in math-verify;
    scientific notation within `rel_tol` of the other side."""
    gold_values, pred_values = _values(gold), _values(pred)
    if gold_values is None or pred_values is None:
        return None
    if scientific(gold) is not None or scientific(pred) is not None:
        return any(close(a, b, rel_tol) for a in gold_values for b in pred_values)
    decimal = "." in gold or "." in pred
    return any(_same(a, b, decimal) for a in gold_values for b in pred_values)


def _decimal_comma_equal(gold: str, pred: str, rel_tol: float) -> bool | None:
    """An answer `1000,99` against a gold decimal `1000.99`: the comma is a decimal comma
    (the two values 1000 and 99 could never be one value). Only a decimal gold decides
    this; a gold `1,22` may be a list, so it is left undecided."""
    if "." not in gold or not _DECIMAL_COMMA.match(pred) or _THOUSANDS.match(pred):
        return None
    gold_value = as_number(gold)
    if gold_value is None:
        return None
    return _same(gold_value, Fraction(pred.replace(",", ".")), decimal=True)


def _values(text: str) -> list[Fraction] | None:
    core = _PERCENT.sub("", text).strip()
    value = as_number(core)
    if value is None:
        value = scientific(core)
    if value is None:
        return None
    return [value, value / 100] if core != text else [value]


def _same(a: Fraction, b: Fraction, decimal: bool) -> bool:
    """Equal, or, where a decimal is meant, equal once both are rounded to 6 places (exactly:
    18446744073709551100.0 is not 2^64)."""
    return a == b or (decimal and round(a * _MILLIONTHS) == round(b * _MILLIONTHS))


def _matrices_equal(gold: str, pred: str, rel_tol: float) -> bool | None:
    """Matrices (normalised to `pmatrix`): the same shape and equal entries. A matrix
    against anything else (a tuple may be a vector) and large matrices are left to
    math-verify."""
    matrices = [_PMATRIX.match(x) for x in (gold, pred)]
    if None in matrices:
        return None
    gold_rows, pred_rows = (_rows(m["body"]) for m in matrices)
    if [len(row) for row in gold_rows] != [len(row) for row in pred_rows]:
        return False
    rows = zip(gold_rows, pred_rows, strict=True)
    cells = [pair for g, p in rows for pair in zip(g, p, strict=True)]
    if len(cells) > _MAX_ITEMS:
        return None
    verdicts = [fast_equal(a.strip(), b.strip(), rel_tol) for a, b in cells]
    return None if None in verdicts else all(verdicts)


def _rows(body: str) -> list[list[str]]:
    """A matrix body's cells, row by row (a final row break adds no row)."""
    return [row.split("&") for row in body.split("\\\\") if row.strip()]


def _sets_equal(gold: str, pred: str, rel_tol: float) -> bool | None:
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
        match = next((p for p in unmatched if fast_equal(item, p, rel_tol)), None)
        if match is None:
            undecided = any(fast_equal(item, p, rel_tol) is None for p in unmatched)
            return None if undecided else False
        unmatched.discard(match)
    return not unmatched


def _bracketed_equal(gold: str, pred: str, rel_tol: float) -> bool | None:
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
    verdicts = [
        fast_equal(_end(a), _end(b), rel_tol) for a, b in zip(gold_items, pred_items, strict=True)
    ]
    return None if None in verdicts else all(verdicts)


def _assignments_equal(gold: str, pred: str, rel_tol: float) -> bool | None:
    """`y = 2x + 3` against `y = 3 + 2x`: the same variable, equal right-hand sides."""
    g, p = _ASSIGNMENT.match(gold), _ASSIGNMENT.match(pred)
    if not (g and p) or gold.split("=")[0].strip() != pred.split("=")[0].strip():
        return None
    return fast_equal(g.group("value").strip(), p.group("value").strip(), rel_tol)


def _definitions_equal(gold: str, pred: str, rel_tol: float) -> bool | None:
    """`y = 2x + 3` against `2x + 3`: a function of x is stated by its right-hand side
    (`f(x) = ...` is normalised to that already)."""
    g, p = _DEFINITION.match(gold), _DEFINITION.match(pred)
    if (g is None) == (p is None) or "=" in (pred if g else gold):
        return None
    value = (g or p).group("value").strip()
    return fast_equal(value, pred if g else gold, rel_tol)


def _interval_equal(gold: str, pred: str, rel_tol: float) -> bool | None:
    """A one-variable inequality against an interval, or against another inequality."""
    gold_interval, pred_interval = as_interval(gold), as_interval(pred)
    if gold_interval is None and pred_interval is None:
        return None
    return _bracketed_equal(gold_interval or gold, pred_interval or pred, rel_tol)


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
