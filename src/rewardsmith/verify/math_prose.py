"""The one mathematical value a sentence of prose states, for answers given without a
marker ("Therefore $x \\geq 5$ is the solution.", "所以一共有3 + 10 = 13只鸟。").

A sentence is split into math segments (`$..$`, `$$..$$`, `\\(..\\)`, `\\[..\\]`) and
prose. Its values are the math segments that are more than a name (`$n$`, `$f(x)$`,
`$ABCD$` name things) and the numbers and `\\frac{a}{b}` written in prose. When the prose
has a copula ("is", "=", "是", "est", ...), the value is what follows the last one;
otherwise the sentence's own. Exactly one value gives an answer; none or several give
none, and so does a sentence that negates or questions its value ("x is not 5", "is it
5?"). Every pattern here runs in linear time.
"""

from __future__ import annotations

import re
from itertools import pairwise

_CLOSER = {  # math opener -> its closer (an escaped \$ closes nothing)
    "$$": re.compile(r"\$\$"),
    "\\[": re.compile(r"\\\]"),
    "\\(": re.compile(r"\\\)"),
    "$": re.compile(r"(?<!\\)\$"),
}
_MATH_OPEN = re.compile(r"\$\$|(?<!\\)\$|\\[\[(]")
_END = r"(?:[.!?;](?=\s|$)|[。！？；।\n])"
_SENTENCE_END = re.compile(rf"{_END}(?:[ \t]*+{_END})*+")  # a run of ends is one
_COPULA = (
    r"(?<![A-Za-z])(?:is|are|was|equals?|it's|est|es|ist|beträgt|равно|равен)(?![A-Za-z])"
    r"|[=是为為はهو]|等于"
)
_LAST_COPULA = re.compile(rf"(?s:.*)(?:{_COPULA})")  # ends where the last copula ends
_VALUE = re.compile(
    r"\\d?frac\{[^{}]*+\}\{[^{}]*+\}"
    r"|(?<![A-Za-z0-9_.,])[-+]?(?:\d{1,3}(?:,\d{3})++(?:\.\d++)?|\d++(?:\.\d++)?|\.\d++)"
    r"(?:/\d++)?%?"
)
_NAME = re.compile(r"\s*+(?:[A-Za-z](?:_\{?\w++\}?)?(?:\([A-Za-z, ]*+\))?|[A-Z]++)\s*+")
_NEGATION = re.compile(r"(?<![A-Za-z])(?:not|isn't|wrong|incorrect|never)(?![A-Za-z])", re.I)
_STOP_TOKEN = re.compile(r"<\|[A-Za-z_]++\|>")
_LATEX = re.compile(r"\\[A-Za-z]++(?:\{[^{}]*+\})?")
_WORD = re.compile(r"[^\W_]")
_PROSE_WORD = re.compile(r"[^\W\d_]{2}")
_COURTESY = "i hope it is correct"
_MAX_PIECES = 64  # math segments in one closing sentence


def negated(text: str) -> bool:
    """Whether `text` negates or disowns what it states ("not 5", "5 is wrong")."""
    return _NEGATION.search(text) is not None


def closing_value(text: str, prompt: str = "") -> str | None:
    """The one value the closing sentence of `text` states, or None.

    Text from a chat template's stop token on (`<|im_start|>`) is not part of the answer,
    and Minerva's closing "I hope it is correct." is skipped. A value the prompt states
    too counts only when the sentence asserts it with a copula or is the value alone
    ("so x = 2" or "2", not "Compute 2/4 please.").
    """
    if stop := _STOP_TOKEN.search(text, len(text) - len(text.lstrip()) + 1):
        text = text[: stop.start()]
    text = text.rstrip().rstrip(".")
    if text[-len(_COURTESY) :].lower() == _COURTESY:
        text = text[: -len(_COURTESY)]
    sentence = _last_sentence(math_pieces(text))
    value, asserted = _stated(sentence)
    bare = not any(_PROSE_WORD.search(piece) for is_math, piece in sentence if not is_math)
    if value is None or asserted or bare or value not in _values(math_pieces(prompt)):
        return value
    return None


def sentence_value(pieces: list[tuple[bool, str]]) -> str | None:
    """The one value of a sentence given as (is_math, text) pieces, or None."""
    return _stated(pieces)[0]


def _stated(pieces: list[tuple[bool, str]]) -> tuple[str | None, bool]:
    """(the sentence's one value or None, whether a copula asserts it)."""
    if not pieces or (not pieces[-1][0] and pieces[-1][1].rstrip().endswith("?")):
        return None, False
    copula = None
    for index, (is_math, text) in enumerate(pieces):
        if not is_math and (found := _LAST_COPULA.match(text)):
            copula = (index, found.end())
    if copula is not None:
        index, end = copula
        tail = [(False, pieces[index][1][end:]), *pieces[index + 1 :]]
        if values := _values(tail, most=2):
            return _one(values, tail), True
    return _one(_values(pieces, most=2), pieces), False


def _one(values: list[str], pieces: list[tuple[bool, str]]) -> str | None:
    negates = any(negated(text) for is_math, text in pieces if not is_math)
    return values[0] if len(values) == 1 and not negates else None


def reduce_phrase(text: str) -> str:
    """A marked answer written as a sentence ("The largest $n$ is 34") reduced to its
    one value; text that is not such a sentence is returned as it is."""
    pieces = math_pieces(text)
    prose = " ".join(piece for is_math, piece in pieces if not is_math)
    if not _PROSE_WORD.search(_LATEX.sub("", prose)):
        return text
    return sentence_value(pieces) or text


def math_pieces(text: str) -> list[tuple[bool, str]]:
    """`text` as (is_math, text) pieces; an unclosed opener is prose."""
    pieces: list[tuple[bool, str]] = []
    position = 0
    while (opener := _MATH_OPEN.search(text, position)) is not None:
        close = _CLOSER[opener.group()].search(text, opener.end())
        if close is None:
            break
        pieces += [
            (False, text[position : opener.start()]),
            (True, text[opener.end() : close.start()]),
        ]
        position = close.end()
    pieces.append((False, text[position:]))
    return [(is_math, piece) for is_math, piece in pieces if piece.strip()]


def _last_sentence(pieces: list[tuple[bool, str]]) -> list[tuple[bool, str]]:
    """The pieces of the last sentence with any content (sentences end in prose)."""
    found: list[tuple[bool, str]] = []  # the sentence's pieces, last first
    for is_math, text in reversed(pieces):
        if is_math:
            if text.rstrip().endswith(".") and _has_content(found):
                return found[::-1]  # display math ending a sentence: "... = 2.$$ So ..."
            found.append((True, text))
            if len(found) > _MAX_PIECES:
                return []  # no sentence of an honest answer is this long
            continue
        ends = [0, *(m.end() for m in _SENTENCE_END.finditer(text)), len(text)]
        for start, end in reversed(list(pairwise(ends))):
            if text[start:end].strip():
                found.append((False, text[start:end]))
            if start > 0 and _has_content(found):
                return found[::-1]
            if start > 0:
                found = []
    return found[::-1]


def _has_content(pieces: list[tuple[bool, str]]) -> bool:
    return any(is_math or _WORD.search(text) for is_math, text in pieces)


def _values(pieces: list[tuple[bool, str]], most: int | None = None) -> list[str]:
    """The distinct values the pieces state (a value restated is one value), in order;
    with `most`, reading stops once there are that many."""
    values: dict[str, None] = {}
    for is_math, text in pieces:
        found = [text] if is_math and not _NAME.fullmatch(text) else []
        for value in found if is_math else (m.group() for m in _VALUE.finditer(text)):
            values[value.strip()] = None
            if most is not None and len(values) >= most:
                return list(values)
    return list(values)
