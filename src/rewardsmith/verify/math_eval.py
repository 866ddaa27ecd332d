"""Numeric evaluation of simple LaTeX expressions, for the fast path.

Closed forms such as `6\\sqrt{7}` vs `\\sqrt{252}`, `\\frac{\\sqrt{3}}{2}` vs `\\sqrt{3}/2`,
`16\\pi` vs `\\pi \\cdot 16`, and polynomials such as `(x+5)^2` vs `x^2+10x+25` are most
of what a math batch sends to sympy. Two such expressions are compared here by value: at
fixed points when they contain variables (an identity test in the style of
Schwartz-Zippel: different polynomials agree at all of a few generic points only by
accident). Anything outside the small grammar (functions, equations, sets, decimals) is
`Undecided` and goes to math-verify, and so do values that agree only approximately
(a policy could write a rational that approximates `\\pi/4` to nine digits), expressions
longer than `_MAX_LENGTH` characters, and powers and roots out of range. Tokenising and
parsing are linear in the length of the expression.

`i` is the imaginary unit, as in math-verify: `i^2` is -1 and `(1+i)^2` is `2i`. Values
are complex; a complex number raised to a non-integer power, and roots and exponents that
are not real, are `Undecided`.
"""

from __future__ import annotations

import cmath
import math
import re

_TOKEN = re.compile(r"\s*+(\d++|\\[a-zA-Z]++|[a-zA-Z]|[-+*/^(){}\[\]])")
_MULTIPLY = {"*", "\\cdot", "\\times"}
_ATOM_START = {"(", "{", "\\pi", "\\frac", "\\sqrt"}
# Transcendental test points (logarithms of rationals): no polynomial with rational
# coefficients vanishes there, and the grammar has no way to write them.
_POINTS = (math.log(2), -math.log(3), 1 + math.log(5))
_MAX_EXPONENT = 64
_MAX_DIGITS = 6  # longer literals could approximate one closed form by another
_MAX_LENGTH = 256  # characters; honest closed forms are far shorter
_SAME = 1e-13  # relative difference below which two values are equal
_DIFFERENT = 1e-9  # above which they differ; in between, sympy decides
_IMAGINARY = "i"


class Undecided(ValueError):
    """The expression is outside the grammar this evaluator trusts."""


def _tokens(text: str) -> list[str]:
    tokens, position = [], 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise Undecided(f"unsupported character {text[position]!r}")
        tokens.append(match.group(1))
        position = match.end()
    return tokens


class _Parser:
    """Recursive descent over +, -, implicit and explicit products, /, ^, \\frac, \\sqrt."""

    def __init__(self, tokens: list[str], values: dict[str, complex]) -> None:
        self.tokens, self.values, self.index = tokens, values, 0

    def peek(self) -> str | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, expected: str | None = None) -> str:
        token = self.peek()
        if token is None or (expected is not None and token != expected):
            raise Undecided(f"expected {expected or 'more input'}")
        self.index += 1
        return token

    def parse(self) -> complex:
        value = self.expression()
        if self.peek() is not None:
            raise Undecided(f"unexpected {self.peek()!r}")
        return value

    def expression(self) -> complex:
        value = self.term()
        while self.peek() in ("+", "-"):
            value = value + self.term() if self.take() == "+" else value - self.term()
        return value

    def term(self) -> complex:
        value = self.signed()
        while True:
            token = self.peek()
            if token in _MULTIPLY:
                self.take()
                value *= self.signed()
            elif token == "/":
                self.take()
                value = _divide(value, self.signed())
            elif token == "\\frac" and self.tokens[self.index - 1].isdigit():
                raise Undecided("a number before \\frac is a mixed number, not a product")
            elif token is not None and (token in _ATOM_START or token.isalpha()):
                value *= self.power()  # implicit product: 6\sqrt{7}, 2x, 16\pi
            else:
                return value

    def signed(self) -> complex:
        if self.peek() in ("+", "-"):
            return -self.signed() if self.take() == "-" else self.signed()
        return self.power()

    def power(self) -> complex:
        base = self.atom()
        if self.peek() != "^":
            return base
        self.take()
        exponent = self.signed() if self.peek() in ("+", "-") else self.power()
        return _power(base, exponent)

    def atom(self) -> complex:
        token = self.take()
        if token.isdigit():
            if self.peek() is not None and self.peek().isdigit():
                raise Undecided("two numbers in a row")
            return float(token)
        if token in ("(", "{"):
            value = self.expression()
            self.take(")" if token == "(" else "}")
            return value
        if token == "\\pi":
            return math.pi
        if token == _IMAGINARY:
            return 1j
        if token == "\\frac":
            return _divide(self.group(), self.group())
        if token == "\\sqrt":
            return self.root()
        if len(token) == 1 and token.isalpha() and token in self.values:
            return self.values[token]
        raise Undecided(f"unsupported token {token!r}")

    def group(self) -> complex:
        """A `{...}` argument, or a single digit (`\\frac12` is one half)."""
        token = self.peek()
        if token is not None and token.isdigit():
            if len(token) > 1:
                self.tokens[self.index] = token[1:]  # the other digits are the next token
            else:
                self.index += 1
            return float(token[0])
        return self.atom()

    def root(self) -> complex:
        degree = 2.0
        if self.peek() == "[":
            self.take()
            degree = _real(self.expression())
            self.take("]")
        radicand = _real(self.group())
        if radicand < 0 or degree <= 0:
            raise Undecided("root of a negative number")
        return _power(radicand, 1.0 / degree)


def _real(value: complex) -> float:
    """`value` as a real number, or Undecided when it has an imaginary part."""
    if value.imag:
        raise Undecided("not a real number")
    return value.real


def _power(base: complex, exponent: complex) -> complex:
    """`base ** exponent`, or Undecided when the exponent is not real, out of range or not
    finite (`\\sqrt[1/999999]{2}` is 2 to the 999999th), a negative or complex base has a
    fractional exponent, or the result overflows."""
    exponent = _real(exponent)
    if not math.isfinite(exponent) or abs(exponent) > _MAX_EXPONENT:
        raise Undecided("exponent out of range")
    if not exponent.is_integer() and (base.imag or base.real < 0):
        raise Undecided("fractional power of a negative or complex number")
    try:
        if base.imag:
            return base ** int(exponent)
        return base.real**exponent
    except (OverflowError, ZeroDivisionError):
        raise Undecided("power not finite") from None


def _divide(numerator: complex, denominator: complex) -> complex:
    if denominator == 0:
        raise Undecided("division by zero")
    return numerator / denominator


def _variables(tokens: list[str]) -> set[str]:
    return {t for t in tokens if len(t) == 1 and t.isalpha() and t != _IMAGINARY}


def numeric_equal(gold: str, pred: str) -> bool | None:
    """Whether two decimal-free expressions have the same value (at every test point), or
    None when either is outside the grammar."""
    if "." in gold or "." in pred or max(len(gold), len(pred)) > _MAX_LENGTH:
        return None
    try:
        gold_tokens, pred_tokens = _tokens(gold), _tokens(pred)
        if any(t.isdigit() and len(t) > _MAX_DIGITS for t in gold_tokens + pred_tokens):
            return None
        names = _variables(gold_tokens)
        if names != _variables(pred_tokens) or len(names) > 2:
            return None
        points = [
            {name: p * (1 + 0.618 * k) for k, name in enumerate(sorted(names))} for p in _POINTS
        ]
        verdicts = set()
        for values in points:
            a = _Parser(list(gold_tokens), values).parse()
            b = _Parser(list(pred_tokens), values).parse()
            if not (cmath.isfinite(a) and cmath.isfinite(b)):
                return None
            if not cmath.isclose(a, b, rel_tol=_DIFFERENT, abs_tol=_DIFFERENT):
                return False
            verdicts.add(cmath.isclose(a, b, rel_tol=_SAME, abs_tol=_SAME))
        return True if verdicts == {True} else None
    except (Undecided, RecursionError):
        return None
