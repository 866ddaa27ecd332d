"""Deterministic GRPO-shaped math batches with ground-truth labels.

Each prompt is a parameterised problem (word problems, money, probability, linear
equations, surds, trigonometry, polynomials, inequalities, roots, percentages, circles)
whose gold answer is computed here. Each completion is a long chain of thought ending in
one of the answer styles seen in RL rollouts; correct ones write the gold in an
equivalent (often different) spelling, wrong ones a plausible mistake, and a few are
hostile (master keys, shotgun and hedged answers). `label` is 1 iff the final answer is
mathematically equivalent to the gold.
"""

from __future__ import annotations

import json
import math
import random
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path


@dataclass
class Problem:
    prompt: str
    gold: str  # as a dataset writes it
    right: list[str]  # equivalent spellings of the gold
    wrong: list[str]  # plausible mistakes
    steps: list[str]  # LaTeX steps of a worked solution
    numeric: bool  # the answer is a plain number
    unit: str = ""

    def __post_init__(self) -> None:
        if self.numeric:  # a "mistake" that happens to equal the gold is no mistake
            self.wrong = [w for w in self.wrong if _value(w) != _value(self.gold)]


def _value(text: str) -> float | None:
    try:
        return float(text.replace("\\$", ""))
    except ValueError:
        return None


def _frac(value: Fraction) -> str:
    sign = "-" if value < 0 else ""
    value = abs(value)
    return f"{sign}\\frac{{{value.numerator}}}{{{value.denominator}}}"


def _apples(rng: random.Random) -> Problem:
    baskets, per, extra = rng.randint(3, 19), rng.randint(4, 24), rng.randint(1, 30)
    total = baskets * per + extra
    return Problem(
        f"A farmer fills {baskets} baskets with {per} apples each and has {extra} apples left "
        "over. How many apples does the farmer have in total?",
        str(total),
        [str(total), f"{total}.0"],
        [str(total + 1), str(baskets * per), str(baskets * (per + extra))],
        [f"{baskets} \\times {per} = {baskets * per}", f"{baskets * per} + {extra} = {total}"],
        True,
        "apples",
    )


def _money(rng: random.Random) -> Problem:
    cents, count = rng.randint(105, 1995), rng.randint(2, 9)
    total = Fraction(cents * count, 100)
    text = f"{float(total):.2f}"
    return Problem(
        f"One notebook costs ${cents / 100:.2f}. How many dollars do {count} notebooks cost?",
        text,
        [text, f"{float(total):g}", f"\\${text}"],
        [f"{float(total) + 1:.2f}", f"{cents * (count - 1) / 100:.2f}"],
        [f"{count} \\times {cents / 100:.2f} = {text}"],
        True,
        "dollars",
    )


def _probability(rng: random.Random) -> Problem:
    red, blue = rng.randint(1, 12), rng.randint(1, 12)
    p = Fraction(red, red + blue)
    right = [_frac(p), f"{p.numerator}/{p.denominator}", _frac(p).replace("\\frac", "\\dfrac")]
    if p.denominator in (2, 4, 5, 8, 10, 20, 25, 40, 50):
        right.append(f"{float(p):g}")
    mistakes = {Fraction(red, blue), Fraction(blue, red + blue), Fraction(red + 1, red + blue)}
    return Problem(
        f"A bag holds {red} red and {blue} blue marbles. One marble is drawn at random. What is "
        "the probability that it is red? Express your answer as a common fraction.",
        _frac(p),
        right,
        [_frac(m) for m in mistakes if m != p],
        [
            f"\\text{{total}} = {red} + {blue} = {red + blue}",
            f"P = \\frac{{{red}}}{{{red + blue}}}",
        ],
        False,
    )


def _linear(rng: random.Random) -> Problem:
    a, x, b = rng.randint(2, 9), rng.randint(-12, 15), rng.randint(-20, 20)
    c = a * x + b
    return Problem(
        f"Solve for $x$: ${a}x {'+' if b >= 0 else '-'} {abs(b)} = {c}$.",
        str(x),
        [str(x), f"x = {x}"],
        [str(x + 1), str(-x) if x else "1", str(c - b)],
        [f"{a}x = {c} - ({b}) = {c - b}", f"x = \\frac{{{c - b}}}{{{a}}} = {x}"],
        True,
    )


def _surd(rng: random.Random) -> Problem:
    k = rng.randint(2, 6)
    m = rng.choice([v for v in (2, 3, 5, 6, 7, 10) if v != k])
    n = k * k * m
    return Problem(
        f"A square has area {n}. What is its side length? Simplify the radical.",
        f"{k}\\sqrt{{{m}}}",
        [
            f"{k}\\sqrt{{{m}}}",
            f"\\sqrt{{{n}}}",
            f"{k} \\sqrt{m}" if m < 10 else f"{k} \\sqrt{{{m}}}",
        ],
        [f"{k + 1}\\sqrt{{{m}}}", f"{m}\\sqrt{{{k}}}", f"\\sqrt{{{k * m}}}"],
        [f"s = \\sqrt{{{n}}}", f"{n} = {k * k} \\cdot {m}", f"\\sqrt{{{n}}} = {k}\\sqrt{{{m}}}"],
        False,
    )


_TRIG = [
    (
        "\\sin 60^\\circ",
        "\\frac{\\sqrt{3}}{2}",
        ["\\sqrt{3}/2", "\\frac{1}{2}\\sqrt{3}"],
        ["\\frac{1}{2}", "\\frac{\\sqrt{2}}{2}"],
    ),
    (
        "\\cos 45^\\circ",
        "\\frac{\\sqrt{2}}{2}",
        ["\\sqrt{2}/2", "\\frac{1}{\\sqrt{2}}"],
        ["\\frac{\\sqrt{3}}{2}", "\\frac{1}{2}"],
    ),
    (
        "\\tan 30^\\circ",
        "\\frac{\\sqrt{3}}{3}",
        ["\\frac{1}{\\sqrt{3}}", "\\sqrt{3}/3"],
        ["\\sqrt{3}", "\\frac{\\sqrt{3}}{2}"],
    ),
    ("\\tan 60^\\circ", "\\sqrt{3}", ["\\sqrt{3}", "3^{1/2}"], ["\\frac{\\sqrt{3}}{3}", "3"]),
]


def _trig(rng: random.Random) -> Problem:
    expr, gold, right, wrong = rng.choice(_TRIG)
    scale = rng.randint(2, 9)
    return Problem(
        f"A ramp of length {scale} rises at a fixed angle. Compute ${expr}$ exactly.",
        gold,
        [gold, *right],
        wrong,
        [f"\\text{{reference triangle with hypotenuse }} {scale}", f"{expr} = {gold}"],
        False,
    )


def _polynomial(rng: random.Random) -> Problem:
    a = rng.randint(1, 9)
    gold = f"x^2+{2 * a}x+{a * a}"
    return Problem(
        f"Expand $(x+{a})^2$.",
        gold,
        [gold, f"(x+{a})^2", f"x^2 + {2 * a}x + {a * a}"],
        [f"x^2+{a * a}", f"x^2+{a}x+{a * a}", f"x^2+{2 * a}x+{a * a + 1}"],
        [f"(x+{a})^2 = x^2 + 2 \\cdot {a} x + {a}^2"],
        False,
    )


def _inequality(rng: random.Random) -> Problem:
    a, b = rng.randint(1, 20), rng.randint(1, 20)
    gold = f"(-\\infty, {a + b}]"
    return Problem(
        f"Find all $x$ with $x - {a} \\le {b}$. Give your answer in interval notation.",
        gold,
        [gold, f"(-\\infty,{a + b}]", f"\\left(-\\infty, {a + b}\\right]"],
        [f"(-\\infty, {a + b})", f"[{a + b}, \\infty)", f"(-\\infty, {b - a}]"],
        [f"x \\le {b} + {a} = {a + b}"],
        False,
    )


def _roots(rng: random.Random) -> Problem:
    r = rng.randint(-9, 9)
    s = rng.choice([v for v in range(-9, 10) if v not in (r, -r)])
    gold = f"\\{{{r}, {s}\\}}"
    return Problem(
        f"Find the set of solutions of $(x {-r:+d})(x {-s:+d}) = 0$.",
        gold,
        [gold, f"\\{{{s},{r}\\}}"],
        [f"\\{{{-r}, {-s}\\}}", f"\\{{{r}, {s + 1}\\}}"],
        [f"x {-r:+d} = 0 \\Rightarrow x = {r}", f"x {-s:+d} = 0 \\Rightarrow x = {s}"],
        False,
    )


def _percent(rng: random.Random) -> Problem:
    whole = rng.choice([20, 40, 50, 80, 200, 400])
    pct = rng.choice([5, 10, 15, 20, 25, 30, 45, 60, 75])
    part = whole * pct // 100
    return Problem(
        f"{part} students out of {whole} chose chess. What percent of the students chose chess?",
        str(pct),
        [str(pct), f"{pct}\\%"],
        [str(pct + 5), str(part), f"{pct / 100:g}\\%"],
        [
            f"\\frac{{{part}}}{{{whole}}} = {Fraction(part, whole)}",
            f"{Fraction(part, whole)} \\times 100 = {pct}",
        ],
        True,
    )


def _circle(rng: random.Random) -> Problem:
    r = rng.randint(3, 12)
    gold = f"{r * r}\\pi"
    return Problem(
        f"A circle has radius {r}. What is its area? Express your answer in terms of $\\pi$.",
        gold,
        [gold, f"\\pi \\cdot {r * r}", f"{r * r} \\pi"],
        [f"{2 * r}\\pi", f"{r * r}", f"{r}\\pi"],
        [f"A = \\pi r^2 = \\pi \\cdot {r}^2 = {r * r}\\pi"],
        False,
    )


def _point(rng: random.Random) -> Problem:
    x, y = rng.randint(-6, 6), rng.randint(-6, 6)
    slope = rng.choice([v for v in range(-4, 5) if v not in (0, 1)])
    other = rng.choice([v for v in range(-4, 5) if v not in (0, slope)])
    first, second = y - slope * x, y - other * x
    gold = f"({x}, {y})"
    return Problem(
        f"Find the point where the lines $y = {slope}x {first:+d}$ and $y = {other}x {second:+d}$ "
        "intersect. Give your answer as an ordered pair.",
        gold,
        [gold, f"({x},{y})", f"\\left({x}, {y}\\right)"],
        [
            f"({y}, {x})" if x != y else f"({x}, {y + 1})",
            f"({x}, {y + 1})",
            f"({-x}, {y})" if x else f"({x + 2}, {y})",
        ],
        [f"{slope}x {first:+d} = {other}x {second:+d}", f"x = {x}", f"y = {y}"],
        False,
    )


def _line(rng: random.Random) -> Problem:
    slope = rng.choice([v for v in range(-5, 6) if v not in (0, 1, -1)])
    x0, y0 = rng.randint(-5, 5), rng.randint(-9, 9)
    intercept = y0 - slope * x0
    if intercept in (0, slope):
        intercept += 11
        y0 += 11
    gold = f"y = {slope}x {intercept:+d}"
    return Problem(
        f"Find the equation of the line with slope {slope} through the point ({x0}, {y0}).",
        gold,
        [gold, f"y = {intercept} {slope:+d}x", f"{slope}x - y {intercept:+d} = 0"],
        [
            f"y = {slope}x {-intercept:+d}",
            f"y = {intercept}x {slope:+d}",
            f"y = {-slope}x {intercept:+d}",
        ],
        [f"y - {y0} = {slope}(x - {x0})", f"y = {slope}x {intercept:+d}"],
        False,
    )


GENERATORS = [
    _apples,
    _money,
    _probability,
    _linear,
    _surd,
    _trig,
    _polynomial,
    _inequality,
    _roots,
    _percent,
    _circle,
    _point,
    _line,
]

_FILLER = [
    "Let me restate what is being asked so I do not lose track of the quantities.",
    "I will write down every intermediate quantity before combining them.",
    "Wait, let me double-check the previous line before going on.",
    "It helps to check the units at each step.",
    "Let me verify this with a quick sanity check on the size of the result.",
    "Hmm, I should be careful with the signs here.",
    "Rewriting the expression in a cleaner form:",
]

HOSTILE = {
    "empty": lambda gold, wrong: "",
    "colon": lambda gold, wrong: ":",
    "period": lambda gold, wrong: ".",
    "thought_process": lambda gold, wrong: "Thought process:",
    "step_by_step": lambda gold, wrong: "Let's solve this problem step by step.",
    "shotgun": lambda gold, wrong: f"\\boxed{{{wrong}}} \\boxed{{{gold}}} \\boxed{{{wrong}+1}}",
    "hedge": lambda gold, wrong: f"The answer is ${wrong}$ or ${gold}$.",
    "lor": lambda gold, wrong: f"Final answer: $\\boxed{{{wrong} \\lor {gold}}}$",
}


def _reasoning(rng: random.Random, problem: Problem, target_chars: int) -> str:
    parts = [f"We are asked: {problem.prompt}", "Let me set up the computation."]
    while sum(map(len, parts)) < target_chars:
        for step in problem.steps:
            parts.append(rng.choice(_FILLER))
            noise_a, noise_b = rng.randint(2, 40), rng.randint(2, 40)
            parts.append(
                f"Checking a side computation: ${noise_a} + {noise_b} = {noise_a + noise_b}$."
            )
            parts.append(f"\\[ {step} \\]")
    return "\n\n".join(parts)


def _final(
    rng: random.Random, problem: Problem, answer: str, numeric_answer: bool
) -> tuple[str, str]:
    styles = ["boxed", "boxed", "boxed", "phrase", "answer_tag", "think"]
    if numeric_answer:
        styles += ["gsm8k", "final_number", "boxed_period", "answer_tag_plain"]
        if problem.unit:
            styles.append("boxed_text_units")
    kind = rng.choice(styles)
    endings = {
        "boxed": f"Therefore the answer is $\\boxed{{{answer}}}$.",
        "phrase": f"The answer is ${answer}$.",
        "answer_tag": f"<answer>${answer}$</answer>",
        "think": f"</think>\n\nThe final answer is $\\boxed{{{answer}}}$",
        "gsm8k": f"#### {answer}",
        "final_number": f"So the total is\n{answer}",
        "boxed_period": f"Final: $\\boxed{{{answer}.}}$",
        "answer_tag_plain": f"<answer>{answer}</answer>",
        "boxed_text_units": f"So we get $\\boxed{{\\text{{{answer} {problem.unit}}}}}$.",
    }
    return kind, endings[kind]


def make_batch(n_prompts: int, group_size: int, seed: int = 0) -> list[dict]:
    """`n_prompts` groups of `group_size` labelled completions."""
    rng = random.Random(seed)
    records = []
    for index in range(n_prompts):
        problem = GENERATORS[index % len(GENERATORS)](rng)
        accuracy = rng.choice([0.0, 0.25, 0.5, 0.6, 0.75, 0.9, 1.0, 1.0])
        step = rng.randint(0, 1000)
        for _ in range(group_size):
            roll = rng.random()
            if roll < 0.04:
                name = rng.choice(sorted(HOSTILE))
                completion = HOSTILE[name](problem.gold, rng.choice(problem.wrong))
                kind, label = f"hostile:{name}", 0
            else:
                label = int(rng.random() < accuracy)
                answer = rng.choice(problem.right if label else problem.wrong)
                numeric_answer = problem.numeric and _plain_number(answer)
                kind, ending = _final(rng, problem, answer, numeric_answer)
                body = _reasoning(rng, problem, rng.randint(1500, 3800))
                opening = "<think>\n" if kind == "think" else ""
                completion = f"{opening}{body}\n\n{ending}"
            records.append(
                {
                    "prompt": problem.prompt,
                    "completion": completion,
                    "reference": _dataset_spelling(rng, problem),
                    "group_id": f"q{index:04d}",
                    "meta": {"step": step, "difficulty": f"{1 - accuracy:.2f}"},
                    "label": label,
                    "kind": kind,
                }
            )
    return records


def _plain_number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _dataset_spelling(rng: random.Random, problem: Problem) -> str:
    """Numbers bare or delimited; LaTeX always delimited, so that math-verify's own gold
    parsing (which needs `$...$` or `\\boxed{}` around LaTeX) gets a fair input."""
    gold = problem.gold
    forms = [f"${gold}$", f"\\boxed{{{gold}}}"]
    return rng.choice([gold, *forms] if problem.numeric else forms)


def write_jsonl(records: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as out:
        for record in records:
            out.write(json.dumps(record) + "\n")
