"""Deterministic GRPO-shaped math batches with ground-truth labels.

`make_batch(n_prompts, group_size, seed)` draws problems from parameterised templates
(word problems with integer answers, money, percentages, fractions, decimals, linear
equations, surds, exact trigonometry, radians, polynomials, intervals, solution sets,
ordered pairs, lines) and computes each gold answer. Every completion is a long chain of
thought ending in one answer style (`kind`): correct ones write the gold in an equivalent,
often different, spelling; wrong ones a plausible slip; about 4% are hostile
(`kind` "hostile:<name>", label 0). `label` is 1 iff the final answer is mathematically
equivalent to the gold.
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import NamedTuple


class Step(NamedTuple):
    say: str
    lhs: str
    value: str | None  # None: the final answer
    rel: str = "="


@dataclass
class Problem:
    prompt: str
    gold: str  # canonical spelling, the way a dataset writes it
    right: list[str]  # spellings equivalent to the gold
    wrong: list[str]  # plausible mistakes, none equivalent to the gold
    steps: list[Step]
    plan: str
    difficulty: str
    unit: str = ""
    notes: list[str] = field(default_factory=list)


_PLAIN = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?|-?\d+(?:\.\d+)?")
_INTEGER = re.compile(r"-?\d+")


def _others(gold_key: object, pairs: list[tuple[object, str]]) -> list[str]:
    """Spellings of the candidate mistakes whose value differs from the gold's."""
    seen = {gold_key}
    out = []
    for key, text in pairs:
        if key not in seen:
            seen.add(key)
            out.append(text)
    return out


def _decimal(value: Fraction) -> str | None:
    """`value` as a finite decimal, or None when it has none."""
    digits = 0
    while (value * 10**digits).denominator != 1:
        digits += 1
        if digits > 6:
            return None
    scaled = abs(value.numerator * 10**digits // value.denominator)
    text = str(scaled).rjust(digits + 1, "0")
    if digits:
        text = f"{text[:-digits]}.{text[-digits:]}"
    return f"-{text}" if value < 0 else text


def _frac(value: Fraction, command: str = "\\frac") -> str:
    if value.denominator == 1:
        return str(value.numerator)
    sign = "-" if value < 0 else ""
    return f"{sign}{command}{{{abs(value.numerator)}}}{{{value.denominator}}}"


def _fraction_spellings(value: Fraction) -> list[str]:
    spellings = [_frac(value), f"{value.numerator}/{value.denominator}", _frac(value, "\\dfrac")]
    if value.denominator != 1 and value < 0:
        spellings.append(f"\\frac{{{value.numerator}}}{{{value.denominator}}}")
    decimal = _decimal(value)
    if decimal is not None and value.denominator != 1:
        spellings.append(decimal)
    return spellings


def _numbers(gold: Fraction | int, values: list[Fraction | int]) -> list[str]:
    return _others(Fraction(gold), [(Fraction(v), _frac(Fraction(v))) for v in values])


def _signed(coefficient: int, term: str = "") -> str:
    """` + 3x` or ` - 3x`: a term after the first."""
    sign = "-" if coefficient < 0 else "+"
    size = abs(coefficient)
    return f" {sign} {'' if size == 1 and term else size}{term}"


def _poly(c1: int, c0: int, spaced: bool = True) -> str:
    text = "x^2"
    if c1:
        text += _signed(c1, "x")
    if c0:
        text += _signed(c0)
    return text if spaced else text.replace(" ", "")


def _factor(root: int) -> str:
    """`(x - root)`."""
    return f"(x{'-' if root > 0 else '+'}{abs(root)})"


def _linear_expr(slope: int, intercept: int) -> str:
    head = {1: "x", -1: "-x"}.get(slope, f"{slope}x")
    return head + (_signed(intercept) if intercept else "")


# --- problem templates -------------------------------------------------------------------


def _apples(rng: random.Random) -> Problem:
    baskets, per, extra = rng.randint(3, 19), rng.randint(4, 24), rng.randint(1, 30)
    filled = baskets * per
    total = filled + extra
    return Problem(
        f"A farmer fills {baskets} baskets with {per} apples each and has {extra} apples left "
        "over. How many apples does the farmer have in total?",
        str(total),
        [str(total), f"{total}.0"],
        _numbers(total, [total + 1, total - 1, filled, filled - extra, baskets * (per + extra)]),
        [
            Step("The apples in the full baskets come to", f"{baskets} \\times {per}", str(filled)),
            Step(f"Adding the {extra} loose apples gives", f"{filled} + {extra}", None),
        ],
        "I need the apples in the baskets first and then the ones left over.",
        "easy",
        "apples",
        ["Every basket holds the same number, so this is a multiplication followed by an add."],
    )


def _pencils(rng: random.Random) -> Problem:
    boxes = rng.choice([b for b in range(12, 49) if b % 10])
    per = rng.choice([24, 36, 48, 72, 125, 144, 150, 250])
    total = boxes * per
    tens, ones = boxes - boxes % 10, boxes % 10
    right = [str(total), f"{total:,}"] if total >= 1000 else [str(total), f"{total}.0"]
    return Problem(
        f"A school orders {boxes} boxes of pencils, and each box holds {per} pencils. How many "
        "pencils does the school order?",
        str(total),
        right,
        _numbers(total, [total - per, total + per, total + 10, total - 100, per * tens]),
        [
            Step(
                "Splitting the boxes into tens and ones,",
                f"{per} \\times {boxes}",
                f"{per} \\times {tens} + {per} \\times {ones}",
            ),
            Step("The first part is", f"{per} \\times {tens}", str(per * tens)),
            Step("and the second part is", f"{per} \\times {ones}", str(per * ones)),
            Step("Together that makes", f"{per * tens} + {per * ones}", None),
        ],
        "The total is the number of boxes times the pencils per box.",
        "easy",
        "pencils",
        ["Multiplying by a two-digit number is easier if I split it into tens and ones."],
    )


def _cents(value: int) -> str:
    return f"{'-' if value < 0 else ''}{abs(value) // 100}.{abs(value) % 100:02d}"


def _change(rng: random.Random) -> Problem:
    price, count = rng.randint(105, 1495), rng.randint(2, 6)
    cost = price * count
    bill = next(b for b in (20, 50, 100) if b * 100 > cost)
    change = bill * 100 - cost
    gold = _cents(change)
    right = [gold, f"\\${gold}"]
    if change % 10 == 0:
        right.append(f"{change / 100:g}")
    return Problem(
        f"Maya buys {count} notebooks that cost ${_cents(price)} each and pays with a ${bill} "
        "bill. How much change does she get, in dollars?",
        gold,
        right,
        _others(
            change,
            [(v, _cents(v)) for v in (change + 100, change - price, cost, change + 10) if v > 0],
        ),
        [
            Step("The notebooks cost", f"{count} \\times {_cents(price)}", _cents(cost)),
            Step(f"The change from ${bill} is", f"{bill} - {_cents(cost)}", None),
        ],
        "First the total cost of the notebooks, then subtract it from the bill.",
        "easy",
        "dollars",
        ["Money has two decimal places, so I will keep the cents throughout."],
    )


def _probability(rng: random.Random) -> Problem:
    red, blue = rng.randint(1, 12), rng.randint(1, 12)
    total = red + blue
    p = Fraction(red, total)
    right = _fraction_spellings(p)
    if math.gcd(red, total) > 1:
        right.append(f"\\frac{{{red}}}{{{total}}}")
    return Problem(
        f"A bag holds {red} red and {blue} blue marbles. One marble is drawn at random. What is "
        "the probability that it is red? Express your answer as a common fraction.",
        _frac(p),
        right,
        _numbers(
            p,
            [
                Fraction(red, blue),
                Fraction(blue, total),
                Fraction(red + 1, total),
                Fraction(red, total + 1),
            ],
        ),
        [
            Step("The number of marbles in the bag is", f"{red} + {blue}", str(total)),
            Step("so the probability of red is", "P(\\text{red})", None),
        ],
        "Probability is favourable outcomes over total outcomes.",
        "medium",
        notes=["Each marble is equally likely to be drawn, so counting is enough."],
    )


def _linear(rng: random.Random) -> Problem:
    a, x, b = rng.randint(2, 9), rng.randint(-12, 15), rng.randint(-20, 20)
    c = a * x + b
    candidates = [x + 1, x - 1, -x, c - b]
    if (c + b) % a == 0:
        candidates.append((c + b) // a)
    return Problem(
        f"Solve for $x$: ${a}x{_signed(b) if b else ''} = {c}$.",
        str(x),
        [str(x), f"x = {x}", f"{x}.0"],
        _numbers(x, candidates),
        [
            Step("Moving the constant to the right,", f"{a}x", str(c - b)),
            Step(f"Dividing both sides by {a},", f"x = \\frac{{{c - b}}}{{{a}}}", None),
        ],
        "This is a linear equation, so isolate $x$.",
        "easy",
        notes=["Whatever I do to one side of the equation I must do to the other."],
    )


def _linear_fraction(rng: random.Random) -> Problem:
    while True:
        a, b, c = rng.randint(2, 9), rng.randint(-15, 15), rng.randint(-15, 15)
        if (c - b) % a:
            break
    x = Fraction(c - b, a)
    return Problem(
        f"Solve ${a}x{_signed(b) if b else ''} = {c}$ for $x$. Express your answer as a "
        "common fraction.",
        _frac(x),
        [*_fraction_spellings(x), f"x = {_frac(x)}"],
        _numbers(x, [Fraction(a, c - b), Fraction(c + b, a), -x, Fraction(c - b, a + 1)]),
        [
            Step("Subtracting the constant from both sides,", f"{a}x", str(c - b)),
            Step(f"and dividing by {a},", "x", None),
        ],
        "A linear equation: isolate $x$, the result need not be an integer.",
        "medium",
        notes=["I should reduce the fraction at the end."],
    )


def _squarefree(n: int) -> tuple[int, int]:
    """n = k^2 m with m square-free."""
    k = max(d for d in range(1, math.isqrt(n) + 1) if n % (d * d) == 0)
    return k, n // (k * k)


def _surd(rng: random.Random) -> Problem:
    while True:
        dx, dy = rng.randint(1, 9), rng.randint(1, 9)
        k, m = _squarefree(dx * dx + dy * dy)
        if k > 1 and m > 1:
            break
    s = dx * dx + dy * dy
    gold = f"{k}\\sqrt{{{m}}}"
    x1, y1 = rng.randint(-5, 5), rng.randint(-5, 5)
    right = [gold, f"\\sqrt{{{s}}}", f"{k} \\cdot \\sqrt{{{m}}}"]
    if m < 10:
        right.append(f"{k}\\sqrt{m}")
    value = k * math.sqrt(m)
    return Problem(
        f"Find the distance between the points $({x1}, {y1})$ and $({x1 + dx}, {y1 + dy})$. "
        "Express your answer in simplest radical form.",
        gold,
        right,
        _others(
            round(value, 9),
            [
                (round((k + 1) * math.sqrt(m), 9), f"{k + 1}\\sqrt{{{m}}}"),
                (round(m * math.sqrt(k), 9), f"{m}\\sqrt{{{k}}}"),
                (round(math.sqrt(dx + dy), 9), f"\\sqrt{{{dx + dy}}}"),
                (s, str(s)),
            ],
        ),
        [
            Step("The horizontal change is", f"{x1 + dx} - ({x1})", str(dx)),
            Step("and the vertical change is", f"{y1 + dy} - ({y1})", str(dy)),
            Step("The squared distance is", f"{dx}^2 + {dy}^2", str(s)),
            Step(f"Since ${s} = {k * k} \\cdot {m}$,", f"\\sqrt{{{s}}}", None),
        ],
        "Use the distance formula and then simplify the radical.",
        "medium",
        notes=["The distance formula is just the Pythagorean theorem on the coordinate grid."],
    )


_EXACT = {  # |value|: spellings, the canonical one first
    0.5: ["\\frac{1}{2}", "0.5", "1/2", "\\dfrac{1}{2}"],
    math.sqrt(2) / 2: ["\\frac{\\sqrt{2}}{2}", "\\sqrt{2}/2", "\\frac{1}{\\sqrt{2}}"],
    math.sqrt(3) / 2: [
        "\\frac{\\sqrt{3}}{2}",
        "\\sqrt{3}/2",
        "\\frac{1}{2}\\sqrt{3}",
        "\\dfrac{\\sqrt3}{2}",
    ],
    1.0: ["1", "1.0"],
    math.sqrt(3): ["\\sqrt{3}", "3^{1/2}"],
    math.sqrt(3) / 3: ["\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", "\\sqrt{3}/3"],
}


def _exact(value: float) -> list[str]:
    size = next(v for v in _EXACT if math.isclose(v, abs(value)))
    return _EXACT[size] if value > 0 else [f"-{text}" for text in _EXACT[size]]


def _trig(rng: random.Random) -> Problem:
    fn = rng.choice(["sin", "cos", "tan"])
    angle = rng.choice([30, 45, 60, 120, 135, 150, 210, 225, 240, 300, 315, 330])
    turns = rng.choice([-1, 0, 0, 1])
    value = getattr(math, fn)(math.radians(angle))
    shown = angle + 360 * turns
    given = f"\\{fn}({shown}^\\circ)" if shown < 0 else f"\\{fn} {shown}^\\circ"
    steps = [Step("Removing full turns,", given, f"\\{fn} {angle}^\\circ")] if turns else []
    quadrant = angle // 90 + 1
    if quadrant > 1:
        big, small = (angle, 180) if quadrant == 3 else (180 if quadrant == 2 else 360, angle)
        reference = f"{big}^\\circ - {small}^\\circ"
        steps.append(Step("The reference angle is", reference, f"{big - small}^\\circ"))
    family = [0.5, math.sqrt(2) / 2, math.sqrt(3) / 2]
    if fn == "tan":
        family = [1.0, math.sqrt(3), math.sqrt(3) / 3]
    candidates = [-value] + [math.copysign(v, value) for v in family]
    spellings = _exact(value)
    if value < 0 and spellings[0].startswith("-\\frac{"):
        spellings.append("\\frac{-" + spellings[0][len("-\\frac{") :])
    sign = "positive" if value > 0 else "negative"
    name = {"sin": "sine", "cos": "cosine", "tan": "tangent"}[fn]
    return Problem(
        f"Compute ${given}$.",
        _exact(value)[0],
        spellings,
        _others(round(value, 9), [(round(v, 9), _exact(v)[0]) for v in candidates]),
        [*steps, Step(f"In quadrant {quadrant} the {name} is {sign}, so", given, None)],
        "Reduce to the reference angle and fix the sign by the quadrant.",
        "medium",
        notes=["The signs by quadrant follow 'All Students Take Calculus'."],
    )


def _pi(value: Fraction) -> str:
    p, q = value.numerator, value.denominator
    if q == 1:
        return "\\pi" if p == 1 else f"{p}\\pi"
    return f"\\frac{{{'' if p == 1 else p}\\pi}}{{{q}}}"


_INVERSE = [  # (expression, angle in degrees)
    ("\\arctan 1", 45),
    ("\\arcsin \\frac{1}{2}", 30),
    ("\\arccos \\frac{1}{2}", 60),
    ("\\arctan \\sqrt{3}", 60),
    ("\\arccos\\left(-\\frac{1}{2}\\right)", 120),
    ("\\arcsin \\frac{\\sqrt{2}}{2}", 45),
    ("\\arccos\\left(-\\frac{\\sqrt{2}}{2}\\right)", 135),
    ("\\arctan \\frac{1}{\\sqrt{3}}", 30),
    ("\\arccos\\left(-\\frac{\\sqrt{3}}{2}\\right)", 150),
]


def _radians(rng: random.Random) -> Problem:
    if rng.random() < 0.5:
        expr, degrees = rng.choice(_INVERSE)
        prompt = f"Compute ${expr}$. Express your answer in radians."
        first = Step("In degrees this angle is", expr, f"{degrees}^\\circ")
    else:
        degrees = 15 * rng.randint(1, 47)
        prompt = f"Convert ${degrees}^\\circ$ to radians."
        first = Step(
            "Multiplying by $\\frac{\\pi}{180}$,",
            f"{degrees}^\\circ",
            f"\\frac{{{degrees}\\pi}}{{180}}",
        )
    value = Fraction(degrees, 180)
    p, q = value.numerator, value.denominator
    right = [_pi(value)]
    if q > 1:
        right += [f"\\frac{{{p}}}{{{q}}}\\pi", f"{'' if p == 1 else p}\\pi/{q}"]
        if _decimal(value) is not None:
            right.append(f"{_decimal(value)}\\pi")
    return Problem(
        prompt,
        _pi(value),
        right,
        _others(
            ("pi", value),
            [
                (key, _pi_text(key))
                for key in [
                    ("pi", Fraction(degrees, 90)),
                    ("pi", Fraction(degrees, 360)),
                    ("pi", Fraction(180, degrees)),
                    ("number", Fraction(degrees)),
                ]
            ],
        ),
        [
            first,
            Step(
                "The common factor of the degrees and 180 is",
                f"\\gcd({degrees}, 180)",
                str(math.gcd(degrees, 180)),
            ),
            Step("so in radians the angle is", f"{degrees}^\\circ", None),
        ],
        "Radians and degrees are related by $180^\\circ = \\pi$.",
        "medium",
        notes=["A full turn is $2\\pi$ radians, which is a good sanity check on the size."],
    )


def _pi_text(key: tuple[str, Fraction]) -> str:
    kind, value = key
    return _pi(value) if kind == "pi" else _frac(value)


def _expand(rng: random.Random) -> Problem:
    a, b = rng.choice([v for v in range(-9, 10) if v]), rng.choice([v for v in range(-9, 10) if v])
    factored = _factor(-a) + ("^2" if a == b else _factor(-b))
    swapped = _factor(-b) + ("^2" if a == b else _factor(-a))
    gold = _poly(a + b, a * b, spaced=False)
    reversed_terms = f"{a * b}{_signed(a + b, 'x') if a + b else ''} + x^2".replace(" ", "")
    return Problem(
        f"Expand ${factored}$.",
        gold,
        [gold, _poly(a + b, a * b), factored, swapped, reversed_terms],
        _others(
            (a + b, a * b),
            [
                ((a + b, -a * b), _poly(a + b, -a * b, spaced=False)),
                ((-(a + b), a * b), _poly(-(a + b), a * b, spaced=False)),
                ((0, a * b), _poly(0, a * b, spaced=False)),
                ((a * b, a + b), _poly(a * b, a + b, spaced=False)),
            ],
        ),
        [
            Step("Using FOIL,", factored, f"x^2{_signed(b, 'x')}{_signed(a, 'x')}{_signed(a * b)}"),
            Step("The coefficient of $x$ is", f"{a} + ({b})", str(a + b)),
            Step("and the constant term is", f"{a} \\cdot ({b})", str(a * b)),
            Step("Collecting like terms,", factored, None),
        ],
        "Multiply out the product term by term and collect like terms.",
        "medium",
        notes=["The square of $x$ appears once, the $x$ terms twice, and one constant term."],
    )


def _roots(rng: random.Random) -> Problem:
    r, s = sorted(rng.sample([v for v in range(-9, 10) if v], 2))

    def spell(values: tuple[int, ...]) -> str:
        return "\\{" + ", ".join(map(str, values)) + "\\}"

    candidates = [(-r, -s), (r, -s), (r,), (s,)]
    if s + 1 != r:
        candidates.append((r, s + 1))
    return Problem(
        f"Find all real solutions of ${_poly(-(r + s), r * s)} = 0$. Write your answer as a set.",
        spell((r, s)),
        [spell((r, s)), spell((s, r)), f"\\{{{r},{s}\\}}", f"\\left\\{{{r}, {s}\\right\\}}"],
        _others(
            frozenset((r, s)), [(frozenset(c), spell(tuple(sorted({*c})))) for c in candidates]
        ),
        [
            Step("I need two numbers whose product is", "c", str(r * s)),
            Step("and whose sum is", "-b", str(r + s)),
            Step("So the quadratic factors as", _poly(-(r + s), r * s), _factor(r) + _factor(s)),
            Step("Setting each factor to zero, the solution set is", "x", None, "\\in"),
        ],
        "Factor the quadratic, or use the quadratic formula if it does not factor nicely.",
        "medium",
        notes=["By Vieta's formulas the roots add up to $-b$ and multiply to $c$."],
    )


def _interval_text(below: bool, k: int, closed: bool, compact: bool = False) -> str:
    sep = "," if compact else ", "
    if below:
        return f"(-\\infty{sep}{k}{']' if closed else ')'}"
    return f"{'[' if closed else '('}{k}{sep}\\infty)"


def _interval(rng: random.Random) -> Problem:
    a = rng.choice([-6, -5, -4, -3, -2, 2, 3, 4, 5, 6])
    k, b = rng.randint(-9, 9), rng.randint(-15, 15)
    op = rng.choice(["<", "\\le", ">", "\\ge"])
    c = a * k + b
    below = op in ("<", "\\le")
    if a < 0:
        below = not below
    closed = "le" in op or "ge" in op
    gold = _interval_text(below, k, closed)
    relation = {
        (True, True): "\\le",
        (True, False): "<",
        (False, True): "\\ge",
        (False, False): ">",
    }[below, closed]
    if below:
        spelled = f"\\left(-\\infty, {k}\\right{']' if closed else ')'}"
    else:
        spelled = f"\\left{'[' if closed else '('}{k}, \\infty\\right)"
    keys = [(not below, k, closed), (below, k, not closed), (below, k + 1, closed)]
    if k:
        keys.append((below, -k, closed))
    flip = " Dividing by a negative number flips the inequality." if a < 0 else ""
    return Problem(
        f"Solve the inequality ${a}x{_signed(b) if b else ''} {op} {c}$. Express your answer "
        "in interval notation.",
        gold,
        [gold, _interval_text(below, k, closed, compact=True), spelled, f"x {relation} {k}"],
        _others((below, k, closed), [(key, _interval_text(*key)) for key in keys]),
        [
            Step("Moving the constant to the right-hand side,", f"{a}x", str(c - b), op),
            Step(f"Now divide by {a}.{flip} So", "x", str(k), relation),
            Step("In interval notation,", "x", None, "\\in"),
        ],
        "Isolate $x$, remembering what happens when dividing by a negative number.",
        "medium",
        notes=["A strict inequality gives an open endpoint, a non-strict one a closed endpoint."],
    )


def _percent(rng: random.Random) -> Problem:
    whole, pct = rng.choice(
        [
            (w, p)
            for w in (20, 40, 50, 80, 120, 200, 250, 400)
            for p in range(5, 100, 5)
            if w * p % 100 == 0
        ]
    )
    part = whole * pct // 100
    if rng.random() < 0.5:
        prompt = (
            f"In a club of {whole} students, {part} chose chess as their favourite game. "
            "What percent of the students chose chess?"
        )
    else:
        prompt = (
            f"A jacket's price was cut from ${whole} to ${whole - part}. By what percent was "
            "the price reduced?"
        )
    ratio = _decimal(Fraction(part, whole))
    return Problem(
        prompt,
        str(pct),
        [str(pct), f"{pct}\\%", f"{pct}.0"],
        _numbers(pct, [part, 100 - pct, pct + 5, whole - part]),
        [
            Step("The part out of the whole is", f"\\frac{{{part}}}{{{whole}}}", ratio),
            Step("As a percent,", f"{ratio} \\times 100", None),
        ],
        "A percent is a fraction of 100.",
        "easy",
        "percent",
        ["Percent means per hundred, so I scale the fraction to a denominator of 100."],
    )


def _circle(rng: random.Random) -> Problem:
    r = rng.randint(2, 25)
    size = f"radius {r}" if rng.random() < 0.6 else f"diameter {2 * r}"
    if rng.random() < 0.5:
        what, n, formula, mistakes = "area", r * r, "A = \\pi r^2", [2 * r, r, 2 * r * r]
        first = Step("Squaring the radius,", f"{r}^2", str(r * r))
    else:
        what, n, formula, mistakes = "circumference", 2 * r, "C = 2\\pi r", [r, r * r, 4 * r]
        first = Step("Doubling the radius,", f"2 \\cdot {r}", str(2 * r))
    return Problem(
        f"A circle has {size}. What is its {what}? Express your answer in terms of $\\pi$.",
        f"{n}\\pi",
        [f"{n}\\pi", f"{n} \\pi", f"\\pi \\cdot {n}"],
        _others(
            ("pi", n),
            [*[(("pi", m), f"{m}\\pi") for m in mistakes], (("number", n), str(n))],
        ),
        [first, Step(f"so with ${formula}$ the {what} is", what[0].upper(), None)],
        f"The {what} of a circle comes straight from the formula ${formula}$.",
        "easy",
        notes=["Leaving the answer in terms of $\\pi$ means no decimal approximation."],
    )


def _intersection(rng: random.Random) -> Problem:
    x, y = rng.randint(-6, 6), rng.randint(-6, 6)
    m1 = rng.choice([v for v in range(-4, 5) if v not in (0, 1, -1)])
    m2 = rng.choice([v for v in range(-4, 5) if v not in (0, m1)])
    b1, b2 = y - m1 * x, y - m2 * x
    pairs = [
        ((y, x), f"({y}, {x})"),
        ((x, y + 1), f"({x}, {y + 1})"),
        ((-x, y), f"({-x}, {y})"),
        ((x, -y), f"({x}, {-y})"),
    ]
    return Problem(
        f"Find the point where the lines $y = {_linear_expr(m1, b1)}$ and "
        f"$y = {_linear_expr(m2, b2)}$ intersect. Give your answer as an ordered pair.",
        f"({x}, {y})",
        [f"({x}, {y})", f"({x},{y})", f"\\left({x}, {y}\\right)"],
        _others((x, y), pairs),
        [
            Step("Setting the right-hand sides equal,", _linear_expr(m1, b1), _linear_expr(m2, b2)),
            Step("Collecting terms,", f"{m1 - m2}x", str(b2 - b1)),
            Step("so", "x", str(x)),
            Step("Substituting back,", f"y = {m1} \\cdot ({x}){_signed(b1) if b1 else ''}", str(y)),
            Step("The lines meet at", "(x, y)", None),
        ],
        "The intersection satisfies both equations, so set them equal.",
        "medium",
        notes=["Two lines with different slopes meet in exactly one point."],
    )


def _line(rng: random.Random) -> Problem:
    m = rng.choice([v for v in range(-5, 6) if v not in (0, 1, -1)])
    x0 = rng.choice([v for v in range(-5, 6) if v])
    b = rng.choice([v for v in range(-9, 10) if v not in (0, m, -m)])
    y0 = m * x0 + b

    def spell(slope: int, intercept: int) -> str:
        return f"y = {_linear_expr(slope, intercept)}"

    point_slope = f"y{_signed(-y0) if y0 else ''} = {m}(x{_signed(-x0)})"
    return Problem(
        f"Find the equation of the line with slope ${m}$ that passes through $({x0}, {y0})$. "
        "Write it in slope-intercept form.",
        spell(m, b),
        [
            spell(m, b),
            f"y={_linear_expr(m, b).replace(' ', '')}",
            f"y = {b}{_signed(m, 'x')}",
            point_slope,
        ],
        _others(
            (m, b),
            [
                ((m, -b), spell(m, -b)),
                ((b, m), spell(b, m)),
                ((-m, b), spell(-m, b)),
                ((m, y0 + m * x0), spell(m, y0 + m * x0)),
            ],
        ),
        [
            Step("In point-slope form,", f"y{_signed(-y0) if y0 else ''}", f"{m}(x{_signed(-x0)})"),
            Step("The intercept is", f"{y0} - ({m})({x0})", str(b)),
            Step("so the line is", "", None, ""),
        ],
        "Start from the point-slope form and solve for $y$.",
        "hard",
        notes=["The intercept is where the line crosses the $y$-axis, at $x = 0$."],
    )


def _fraction_sum(rng: random.Random) -> Problem:
    while True:
        b, d = rng.sample(range(2, 13), 2)
        a, c = rng.randint(1, b - 1), rng.randint(1, d - 1)
        sign = rng.choice([1, -1])
        value = Fraction(a, b) + sign * Fraction(c, d)
        if value.denominator > 1:
            break
    op = "+" if sign > 0 else "-"
    lcm = b * d // math.gcd(b, d)
    top = a * lcm // b + sign * c * lcm // d
    right = _fraction_spellings(value)
    if lcm != value.denominator:  # not reduced, still equal
        right.append(f"{'-' if top < 0 else ''}\\frac{{{abs(top)}}}{{{lcm}}}")
    return Problem(
        f"Compute $\\frac{{{a}}}{{{b}}} {op} \\frac{{{c}}}{{{d}}}$. Express your answer as a "
        "fraction in lowest terms.",
        _frac(value),
        right,
        _numbers(
            value,
            [
                Fraction(a + sign * c, b + d),
                Fraction(a + sign * c, b * d),
                -value,
                Fraction(a, b) - sign * Fraction(c, d),
            ],
        ),
        [
            Step("The least common denominator is", f"\\operatorname{{lcm}}({b}, {d})", str(lcm)),
            Step(
                "Rewriting both fractions,",
                f"\\frac{{{a}}}{{{b}}} {op} \\frac{{{c}}}{{{d}}}",
                f"\\frac{{{a * lcm // b}}}{{{lcm}}} {op} \\frac{{{c * lcm // d}}}{{{lcm}}}",
            ),
            Step("Combining and reducing,", f"\\frac{{{top}}}{{{lcm}}}", None),
        ],
        "Bring both fractions to a common denominator.",
        "easy",
        notes=["Adding the denominators would be a classic mistake, so I will not do that."],
    )


def _hours(count: int) -> str:
    return f"{count} hour{'s' if count > 1 else ''}"


def _average_speed(rng: random.Random) -> Problem:
    while True:
        v1, v2 = rng.randrange(30, 95, 5), rng.randrange(30, 95, 5)
        t1, t2 = rng.randint(1, 4), rng.randint(1, 4)
        d1, d2 = v1 * t1, v2 * t2
        speed = Fraction(d1 + d2, t1 + t2)
        if v1 != v2 and speed.denominator > 1 and _decimal(speed) is not None:
            break
    gold = _decimal(speed)
    return Problem(
        f"A bus travels {d1} km in {_hours(t1)} and then {d2} km in {_hours(t2)}. What is its "
        "average speed for the whole trip, in km/h?",
        gold,
        [gold, f"{gold}0", _frac(speed)],
        _others(
            speed,
            [
                (s, _decimal(s) or _frac(s))
                for s in (
                    Fraction(v1 + v2, 2),
                    Fraction(d1 + d2, t1 + t2 + 1),
                    speed + 1,
                    Fraction(d1 + d2, 2),
                )
            ],
        ),
        [
            Step("The total distance is", f"{d1} + {d2}", str(d1 + d2)),
            Step("and the total time is", f"{t1} + {t2}", str(t1 + t2)),
            Step("so the average speed is", f"\\frac{{{d1 + d2}}}{{{t1 + t2}}}", None),
        ],
        "Average speed is total distance over total time, not the mean of the two speeds.",
        "medium",
        "km/h",
        ["The two legs take different times, so the plain average of speeds would be wrong."],
    )


def _missing_score(rng: random.Random) -> Problem:
    while True:
        n, mean = rng.randint(4, 6), rng.randint(70, 92)
        given = [rng.randint(60, 100) for _ in range(n - 1)]
        last = n * mean - sum(given)
        if 50 <= last <= 100:
            break
    listed = ", ".join(map(str, given))
    return Problem(
        f"The mean of {n} test scores is {mean}. {n - 1} of the scores are {listed}. What is "
        "the remaining score?",
        str(last),
        [str(last), f"{last}.0"],
        _numbers(last, [last + 1, last - 1, last + 10, mean]),
        [
            Step("All the scores must add up to", f"{n} \\times {mean}", str(n * mean)),
            Step("The known scores add up to", " + ".join(map(str, given)), str(sum(given))),
            Step("so the missing one is", f"{n * mean} - {sum(given)}", None),
        ],
        "The mean times the count gives the total of all the scores.",
        "easy",
        "points",
        ["A missing score must lie between 0 and 100, which is a useful check."],
    )


GENERATORS = [
    _apples,
    _pencils,
    _change,
    _probability,
    _linear,
    _linear_fraction,
    _surd,
    _trig,
    _radians,
    _expand,
    _roots,
    _interval,
    _percent,
    _circle,
    _intersection,
    _line,
    _fraction_sum,
    _average_speed,
    _missing_score,
]

# --- completions -------------------------------------------------------------------------

_OPENINGS = [
    "Okay, let me work through this carefully.\n\nThe problem says: {prompt}",
    "We are asked: {prompt}",
    "Let me restate the problem to make sure I understand it. {prompt}",
    "Alright, so the question is: {prompt}",
    "Let's see. {prompt}\n\nI'll go step by step.",
]
_BRIDGES = [
    "Let me keep track of each intermediate value.",
    "That part is straightforward.",
    "Hmm, I should be careful with the signs here.",
    "Good, that matches what I expected.",
    "Now for the next piece.",
    "Let me write this out explicitly so I don't slip.",
]
_RECHECKS = [
    "Wait, let me double-check that.",
    "Wait, that doesn't look right. Let me double-check.",
    "Hmm, wait. Let me redo that more carefully.",
]
_RECAPS = [
    "Let me double-check the whole computation once more.",
    "Let me verify by going through it again.",
    "Before I commit, a quick recap of the steps:",
    "Going back over it:",
]
_CLOSERS = [
    "Everything is consistent.",
    "That all checks out.",
    "I don't see any arithmetic slip.",
    "Each line follows from the previous one.",
]
_MUSINGS = [
    "Is there another way to read the question? I don't think so; the wording is clear about "
    "what is being asked.",
    "Sometimes these problems hide a trick, like a quantity that is easy to overlook, so let me "
    "reread the statement. No, nothing is hidden here.",
    "It is worth checking whether the result has a sensible size compared with the numbers in "
    "the problem. It does.",
    "I could also approach this differently, but the direct method is the most reliable here, "
    "and it avoids introducing extra quantities I would have to keep track of.",
    "Let me also make sure the result is in the form the question asks for.",
    "One more consideration: did I copy every number from the problem correctly? Checking "
    "against the statement, yes.",
    "Hmm, let me think about whether any step could have gone wrong. The place where mistakes "
    "usually happen is the arithmetic in the middle, so that is where I looked most carefully.",
    "A common mistake with this kind of problem is to rush the last step, so I will not simplify "
    "anything in my head; every line above is written out.",
    "I also want to make sure I didn't mix up the order of operations anywhere. Multiplication "
    "and division come before addition and subtraction, and I respected that.",
    "If I had made a sign error, the result would look quite different, so this also acts as a "
    "rough check on the signs.",
    "The problem gives all the information needed, and I have used each piece of it.",
    "Let me pause and think about whether the question could be asking for something else, "
    "like an intermediate quantity instead of the final one. No, it asks for the final result.",
    "Writing the steps in a different order would give the same thing, which is reassuring.",
    "Nothing in the problem suggests that a special case, like zero or a negative value, needs "
    "separate treatment here.",
]
_SUMMARIES = ["", "Summing up the work above.\n\n", "So, putting it together:\n\n"]
_NUMBER = re.compile(r"(?<![\w^])-?\d+(?:\.\d+)?")

STYLE_WEIGHTS = {  # kind: weight
    "boxed": 40,
    "answer_is": 18,
    "answer_tag": 12,
    "gsm8k": 20,  # these five need a plain number
    "final_number": 16,
    "boxed_period": 8,
    "boxed_text_units": 8,
    "answer_tag_plain": 8,
}
_PLAIN_STYLES = {"gsm8k", "final_number", "boxed_period", "boxed_text_units", "answer_tag_plain"}

HOSTILE_SHARE = 0.04
HOSTILE = [
    "empty",
    "colon",
    "period",
    "thought_process",
    "step_by_step",
    "shotgun",
    "hedge",
    "lor",
    "restate",
]

_ACCURACY = {  # per-group accuracy of the policy, by difficulty
    "easy": [0.375, 0.5, 0.75, 0.875, 1.0],
    "medium": [0.0, 0.25, 0.5, 0.625, 0.75, 1.0],
    "hard": [0.0, 0.0, 0.125, 0.25, 0.5],
}


def _equation(step: Step, value: str) -> str:
    if not step.lhs:
        return value
    return f"{step.lhs} {step.rel} {value}" if step.rel else f"{step.lhs} {value}"


def _show(rng: random.Random, text: str) -> str:
    return f"\\[\n{text}\n\\]" if rng.random() < 0.4 else f"${text}$"


def _chain(rng: random.Random, problem: Problem, final: str) -> str:
    """The reasoning: restatement, worked steps (maybe with a corrected slip), checks."""
    values = [final if step.value is None else step.value for step in problem.steps]
    parts = [rng.choice(_OPENINGS).format(prompt=problem.prompt)]
    given = list(dict.fromkeys(_NUMBER.findall(problem.prompt)))
    if len(given) > 1 and rng.random() < 0.6:
        listed = ", ".join(f"${n}$" for n in given[:-1]) + f" and ${given[-1]}$"
        parts.append(f"The numbers given are {listed}.")
    parts.append(problem.plan)
    slips = [i for i, v in enumerate(values[:-1]) if _INTEGER.fullmatch(v)]
    slip_at = rng.choice(slips) if slips and rng.random() < 0.45 else None
    for i, (step, value) in enumerate(zip(problem.steps, values, strict=True)):
        shown = _show(rng, _equation(step, value))
        if i == slip_at:
            wrong = str(int(value) + rng.choice([-10, -2, -1, 1, 2, 10]))
            shown = (
                f"${_equation(step, wrong)}$.\n\n{rng.choice(_RECHECKS)} Recomputing, "
                f"${_equation(step, value)}$, not ${wrong}$. So {shown}"
            )
        parts.append(f"{step.say} {shown}")
        if rng.random() < 0.4:
            parts.append(rng.choice(_BRIDGES))
    lines = [_equation(s, v) for s, v in zip(problem.steps, values, strict=True)]
    recaps = [
        f"{rng.choice(_RECAPS)} "
        + ", then ".join(f"${x}$" for x in lines)
        + f". {rng.choice(_CLOSERS)}",
        "Checking each line again:\n" + "\n".join(f"- ${x}$ ✓" for x in lines),
    ]
    extras = [*problem.notes, *_MUSINGS, *recaps]
    rng.shuffle(extras)
    size, target = sum(len(p) + 2 for p in parts), rng.randint(1550, 3400)
    while size < target and extras:
        chunk = extras.pop()
        if size + len(chunk) <= 3700:
            parts.append(chunk)
            size += len(chunk) + 2
    return "\n\n".join(parts)


def _ending(rng: random.Random, kind: str, answer: str, unit: str) -> str:
    plain = _PLAIN.fullmatch(answer) is not None
    endings = {
        "boxed": [
            f"Therefore, the final answer is $\\boxed{{{answer}}}$.",
            f"\\[\n\\boxed{{{answer}}}\n\\]",
            f"**Final Answer**\n\\[ \\boxed{{{answer}}} \\]",
        ],
        "answer_is": [f"The answer is ${answer}$.", f"So the final answer is ${answer}$."]
        + ([f"The answer is {answer}."] * 2 if plain else []),
        "answer_tag": [f"<answer>${answer}$</answer>", f"<answer>\n${answer}$\n</answer>"],
        "gsm8k": [f"#### {answer}"],
        "final_number": [f"So the result is:\n{answer}", answer],
        "boxed_period": [f"Final answer: $\\boxed{{{answer}.}}$"],
        "boxed_text_units": [f"So we get $\\boxed{{\\text{{{answer} {unit}}}}}$."],
        "answer_tag_plain": [f"<answer>{answer}</answer>"],
    }
    return rng.choice(endings[kind])


def _style(rng: random.Random, spellings: list[str], unit: str) -> tuple[str, str]:
    """An answer style allowed for these spellings, and the spelling it writes."""
    plain = [s for s in spellings if _PLAIN.fullmatch(s)]
    pools = {kind: spellings for kind in STYLE_WEIGHTS}
    for kind in _PLAIN_STYLES:
        pools[kind] = plain
    pools["boxed_period"] = [s for s in plain if _INTEGER.fullmatch(s)]
    if not unit:
        pools["boxed_text_units"] = []
    kinds = [k for k in STYLE_WEIGHTS if pools[k]]
    kind = rng.choices(kinds, [STYLE_WEIGHTS[k] for k in kinds])[0]
    return kind, rng.choice(pools[kind])


def _completion(rng: random.Random, problem: Problem, correct: bool) -> tuple[str, str]:
    canonical = problem.gold if correct else rng.choice(problem.wrong)
    spellings = problem.right if correct else [canonical]
    kind, answer = _style(rng, spellings, problem.unit)
    reasoning = _chain(rng, problem, canonical)
    ending = _ending(rng, kind, answer, problem.unit)
    if rng.random() < 0.35:
        return kind, f"<think>\n{reasoning}\n</think>\n\n{rng.choice(_SUMMARIES)}{ending}"
    return kind, f"{reasoning}\n\n{ending}"


def _inline(text: str) -> str:
    return text if _PLAIN.fullmatch(text) else f"${text}$"


def _hostile(rng: random.Random, name: str, problem: Problem) -> str:
    gold, first, second = problem.gold, *rng.sample(problem.wrong * 2, 2)
    if name == "shotgun":
        boxes = [first, gold, second] if first != second else [first, gold]
        rng.shuffle(boxes)
        return "The answer is one of these: " + " ".join(f"$\\boxed{{{b}}}$" for b in boxes)
    if name == "hedge":
        options = [_inline(first), _inline(gold)]
        rng.shuffle(options)
        return f"The answer is {options[0]} or {options[1]}."
    if name == "lor":
        return f"Final answer: $\\boxed{{{first} \\lor {gold}}}$"
    if name == "restate":
        return f"{rng.choice(_OPENINGS).format(prompt=problem.prompt)}\n\n{problem.plan}"
    return {
        "empty": "",
        "colon": ":",
        "period": ".",
        "thought_process": "Thought process:",
        "step_by_step": "Let's solve this problem step by step.",
    }[name]


def _reference(rng: random.Random, gold: str) -> str:
    """The gold as a dataset writes it: bare, in `$...$`, or boxed."""
    return rng.choices([gold, f"${gold}$", f"\\boxed{{{gold}}}"], [5, 2, 3])[0]


def _fresh(rng: random.Random, template: Callable, seen: set[str]) -> Problem:
    """A problem from `template` whose prompt is not in `seen` (if one turns up soon)."""
    for _ in range(50):
        problem = template(rng)
        if problem.prompt not in seen:
            break
    seen.add(problem.prompt)
    return problem


def make_batch(n_prompts: int, group_size: int, seed: int = 0) -> list[dict]:
    """`n_prompts` groups of `group_size` labelled completions."""
    rng = random.Random(seed)
    total = n_prompts * group_size
    hostile_at = set(rng.sample(range(total), round(HOSTILE_SHARE * total)))
    hostile_names = [HOSTILE[i % len(HOSTILE)] for i in range(len(hostile_at))]
    rng.shuffle(hostile_names)
    order: list[Callable] = []
    seen: set[str] = set()
    records = []
    for index in range(n_prompts):
        if not order:
            order = rng.sample(GENERATORS, len(GENERATORS))
        problem = _fresh(rng, order.pop(), seen)
        accuracy = rng.choice(_ACCURACY[problem.difficulty])
        reference = _reference(rng, problem.gold)
        step = rng.randint(0, 1000)
        for sample in range(group_size):
            if index * group_size + sample in hostile_at:
                name = hostile_names.pop()
                kind, label, completion = f"hostile:{name}", 0, _hostile(rng, name, problem)
            else:
                label = int(rng.random() < accuracy)
                kind, completion = _completion(rng, problem, bool(label))
            records.append(
                {
                    "prompt": problem.prompt,
                    "completion": completion,
                    "reference": reference,
                    "group_id": f"q{index:04d}",
                    "meta": {"step": step, "difficulty": problem.difficulty},
                    "label": label,
                    "kind": kind,
                }
            )
    return records


def write_jsonl(records: list[dict], path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")
