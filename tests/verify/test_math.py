"""The math verifier: extraction, equivalence, hostile completions and timeouts."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardsmith import Status, load_reward
from rewardsmith.core.pipeline import Reward
from rewardsmith.verify.math_answer import extract_answer
from rewardsmith.verify.math_eval import numeric_equal
from rewardsmith.verify.math_normalize import as_number, fast_equal, normalize

LONG_REASONING = (
    "We first restate the problem. Let $x$ be the number of apples. "
    "Then $3x + 4 = 40$, so $3x = 36$. Wait, let me double-check: $36/3 = 12$. "
) * 20


@pytest.fixture(scope="module")
def math_reward():
    with load_reward("math", workers=2) as reward:
        yield reward


def values(reward, pairs):
    return [s.value for s in reward.score([{"completion": c, "reference": g} for c, g in pairs])]


CORRECT = [
    (LONG_REASONING + "So the answer is $\\boxed{12}$.", "12"),
    ("\\boxed{12.}", "12"),
    ("\\boxed{\\text{12 apples}}", "12"),
    ("<answer>12</answer>", "12"),
    ("<think>3x=36</think>\n<answer>12</answer>", "$12$"),
    ("The answer is 12.", "\\boxed{12}"),
    ("Final answer: $12$", "12"),
    ("#### 12", "12"),
    (LONG_REASONING + "\nx = 12", "12"),
    ("\\boxed{0.5}", "\\frac{1}{2}"),
    ("\\boxed{\\dfrac{1}{2}}", "0.5"),
    ("\\boxed{1/2}", "\\frac12"),
    ("\\boxed{12.0}", "12"),
    ("\\boxed{1,000}", "1000"),
    ("\\boxed{\\$18}", "18"),
    ("\\boxed{30^\\circ}", "30"),
    ("\\boxed{-\\frac{3}{4}}", "-0.75"),
    ("\\fbox{7}", "7"),
    ("\\boxed{\\frac{\\sqrt{3}}{2}}", "\\frac{\\sqrt{3}}{2}"),
    ("\\boxed{\\sqrt{3}/2}", "\\frac{\\sqrt{3}}{2}"),
    ("\\boxed{(x+1)^2}", "x^2+2x+1"),
    ("\\boxed{2\\sqrt{5}}", "\\sqrt{20}"),
    ("\\boxed{(-\\infty, 3]}", "(-\\infty,3]"),
    ("\\boxed{\\{2, 1\\}}", "\\{1,2\\}"),
    ("\\boxed{\\frac{\\pi}{4}}", "\\pi/4"),
    ("\\boxed{0.333333}", "\\frac{1}{3}"),
    ("The solutions are \\boxed{2, 3}", "2, 3"),
    ("\\boxed{7}\n\nI am confident the answer is \\boxed{7}.", "7"),
    ("\\boxed{\\text{3,150 pencils}}", "3150"),
    ("\\boxed{\\text{77.50 km/h}}", "77.5"),
    ("\\boxed{9.8 m/s^2}", "9.8"),
    ("\\boxed{x < 2}", "(-\\infty, 2)"),
    ("The answer is $x < 4$.", "(-\\infty, 4)"),
    ("<answer>$x \\le 1$</answer>", "(-\\infty, 1]"),
    ("\\boxed{-1 \\le x < 2}", "[-1, 2)"),
    ("\\boxed{[5, \\infty)}", "x \\geq 5"),
]

WRONG = [
    (LONG_REASONING + "So the answer is $\\boxed{13}$.", "12"),
    ("\\boxed{0.33}", "\\frac{1}{3}"),
    ("\\boxed{x^2+1}", "x^2+2x+1"),
    ("\\boxed{-12}", "12"),
    ("\\boxed{\\frac{1}{3}}", "0.5"),
    ("\\boxed{2 x}", "2"),
    ("The answer is 120.", "12"),
    ("\\boxed{\\text{3,150 pencils}}", "315"),
    ("\\boxed{x \\le 2}", "(-\\infty, 2)"),
    ("\\boxed{x > 2}", "(-\\infty, 2)"),
    ("\\boxed{x < 2 < y}", "(-\\infty, 2)"),
]

HOSTILE = [
    "",
    ":",
    ".",
    "Thought process:",
    "Let's solve this problem step by step.",
    "Let's solve this problem step by step. Thought process: : .",
    "\\boxed{11} \\boxed{12} \\boxed{13}",
    "<answer>11</answer><answer>12</answer>",
    "The answer is 11 or 12.",
    "\\boxed{11 \\text{ or } 12}",
    "\\boxed{11 \\lor 12}",
    "\\boxed{11, 12, 13}",
    "\\boxed{12?}",
    "The answer is either 12 or 13.",
    "1 2 3 4 5 6 7 8 9 10 11 12 13",
    "\\boxed{}",
    "<answer></answer>",
    "What is 3x + 4 = 40? Solve for x.",
]


@pytest.mark.parametrize(("completion", "gold"), CORRECT)
def test_equivalent_answers_score_one(math_reward, completion, gold):
    [score] = math_reward.score([{"completion": completion, "reference": gold}])
    assert score.value == 1.0, score.info
    assert score.status is Status.OK


@pytest.mark.parametrize(("completion", "gold"), WRONG)
def test_wrong_answers_score_zero(math_reward, completion, gold):
    [score] = math_reward.score([{"completion": completion, "reference": gold}])
    assert score.value == 0.0, score.info


@pytest.mark.parametrize("completion", HOSTILE)
def test_hostile_completions_never_score(math_reward, completion):
    [score] = math_reward.score([{"completion": completion, "reference": "12"}])
    assert score.value == 0.0, score.info


def test_info_explains_the_verdict(math_reward):
    shotgun, hedge, fast, symbolic = math_reward.score(
        [
            {"completion": "\\boxed{11} \\boxed{12}", "reference": "12"},
            {"completion": "The answer is 11 or 12.", "reference": "12"},
            {"completion": "\\boxed{12}", "reference": "12"},
            {"completion": "\\boxed{\\sin(\\pi/6)}", "reference": "1/2"},
        ]
    )
    assert "conflicting final answers" in shotgun.info["math"]["reason"]
    assert "hedged" in hedge.info["math"]["reason"]
    assert fast.info["math"] == {"extracted": "12", "gold": "12", "source": "boxed", "path": "fast"}
    assert symbolic.info["math"]["path"] in ("symbolic", "cache")
    assert symbolic.value == 1.0


def test_conflict_policy_last_takes_the_final_box():
    with Reward.from_spec({"type": "math", "on_conflict": "last"}) as reward:
        [score] = reward.score([{"completion": "\\boxed{5} then \\boxed{12}", "reference": "12"}])
    assert score.value == 1.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<think>\\boxed{3}</think> The answer is \\boxed{4}", "4"),
        ("<think>the answer is 3</think>", "3"),
        ("Answer: 17 apples", "17"),
        ("so we get \\[ x = \\frac{7}{2} \\]", "\\frac{7}{2}"),  # the closing sentence's
        ("Thus #### 1,234", "1234"),
        ("the answer is $\\frac{1}{2}$. Done.", "\\frac{1}{2}"),
        ("The total is\n42", "42"),
        ("3 + 4 = 7", "7"),
        ("Step 1: 3\nStep 2: 4 and 5", None),
        ("The answer is $x < 4$.", "x < 4"),
        ("The answer is 4<br>", "4"),
    ],
)
def test_extraction(text, expected):
    assert extract_answer(text).answer == expected


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("$12$", "12"),
        ("\\(12\\)", "12"),
        ("12.", "12"),
        ("\\text{12 apples}", "12"),
        ("1,234,567", "1234567"),
        ("\\dfrac{1}{2}", "\\frac{1}{2}"),
        ("\\left( 1, 2 \\right)", "( 1, 2 )"),
        ("\\$5", "5"),
        ("90^{\\circ}", "90"),
        ("2x", "2x"),
        ("x = 12", "12"),
        ("y = 2x + 1", "y = 2x + 1"),
        ("\\text{3,150 pencils}", "3150"),
        ("\\text{77.5 km/h}", "77.5"),
        ("3 x", "3 x"),  # one letter may be a variable, not a unit
    ],
)
def test_normalize(raw, normal):
    assert normalize(raw) == normal


def test_fast_path_decides_plain_numbers_only():
    assert fast_equal("12", "12.0") is True
    assert fast_equal("\\frac{3}{4}", "0.75") is True
    assert fast_equal("3/4", "-0.75") is False
    assert fast_equal("7", "8") is False
    assert fast_equal("25\\%", "0.25") is True  # as math-verify: 25% is 25 or 0.25
    assert fast_equal("25\\%", "0.5") is False
    assert fast_equal("(1,2)", "(2,1)") is False  # pair or interval: different either way
    assert fast_equal("(1,2)", "1, 2") is None
    assert fast_equal("\\sin(\\pi/6)", "1/2") is None
    assert as_number("1/0") is None


@pytest.mark.parametrize(
    ("gold", "pred", "verdict"),
    [
        ("6\\sqrt{7}", "\\sqrt{252}", True),
        ("\\frac{\\sqrt{3}}{2}", "\\sqrt{3}/2", True),
        ("\\frac{\\sqrt{3}}{3}", "\\frac{1}{\\sqrt{3}}", True),
        ("\\sqrt{3}", "3^{1/2}", True),
        ("16\\pi", "\\pi \\cdot 16", True),
        ("x^2+10x+25", "(x+5)^2", True),
        ("x^2+10x+25", "x^2+25", False),
        ("6\\sqrt{10}", "6\\sqrt10", None),  # \\sqrt10 is \\sqrt{1}0: left to sympy
        ("\\{-7, 8\\}", "\\{8,-7\\}", True),
        ("\\{-7, 8\\}", "\\{8, 7\\}", False),
        ("(-\\infty, 16]", "(-\\infty,16]", True),
        ("(-\\infty, 16]", "(-\\infty,16)", False),
        ("(2, -3)", "\\left( 2,-3 \\right)", True),
        ("(2, -3)", "(-3, 2)", False),
        ("[1, 2)", "(1, 2)", False),
        ("(1, 2, 3)", "(1, 2)", False),
        ("y = 2x + 3", "y = 3 + 2x", True),
        ("y = 2x + 3", "y = 2x - 3", False),
        ("y = 2x + 3", "2x - y + 3 = 0", None),
        ("x", "y", None),
        ("\\frac{\\pi}{4}", "\\frac{103993}{132408}", None),  # agrees to 2e-10 only
        ("\\sqrt{2}", "\\frac{1414213562}{1000000000}", None),  # long literals
        ("\\frac{\\pi}{4}", "\\frac{355}{452}", False),
        ("2^{1000}", "1", None),
        ("(" * 3000 + "1" + ")" * 3000, "1", None),
    ],
)
def test_fast_path_closed_forms_sets_and_intervals(gold, pred, verdict):
    assert fast_equal(normalize(gold), normalize(pred)) is verdict


def test_invalid_reference_does_not_lose_the_batch(math_reward):
    scores = math_reward.score(
        [
            {"completion": "\\boxed{1}", "reference": None},
            {"completion": "\\boxed{1}", "reference": {"answer": "1"}},
            {"completion": "\\boxed{1}", "reference": ["1"]},
            {"completion": "\\boxed{1}", "reference": 1},
        ]
    )
    assert [s.status for s in scores] == [Status.INVALID, Status.OK, Status.INVALID, Status.OK]
    assert "reference: missing" in scores[0].info["math"]["error"]
    assert "reference: expected the gold answer" in scores[2].info["math"]["error"]
    assert [s.value for s in scores] == [0.0, 1.0, 0.0, 1.0]


PATHOLOGICAL = "\\boxed{(x+1)^{999999} - (x+2)^{999999}}"


def test_pathological_expression_times_out_without_stalling_the_batch():
    batch = [{"completion": PATHOLOGICAL, "reference": "(x+1)^{999998}"}] + [
        {"completion": f"\\boxed{{{i}}}", "reference": str(i)} for i in range(20)
    ]
    spec = {"type": "math", "timeout": 1.0, "retry_timeout": 1.0, "fallback": -0.5}
    with Reward.from_spec(spec) as reward:
        start = time.perf_counter()
        scores = reward.score(batch)
        elapsed = time.perf_counter() - start
        # the killed worker was replaced: the pool still answers symbolic checks
        [after] = reward.score([{"completion": "\\boxed{\\sqrt{4}}", "reference": "2"}])
    assert scores[0].status is Status.TIMEOUT
    assert scores[0].value == -0.5
    assert all(s.value == 1.0 for s in scores[1:])
    assert elapsed < 30
    assert after.value == 1.0


def test_timeouts_work_from_threads_and_asyncio():
    batch = [
        {"completion": PATHOLOGICAL, "reference": "(x+1)^{999998}"},
        {"completion": "\\boxed{\\sqrt{9}}", "reference": "3"},
    ]
    results: list = []
    with Reward.from_spec({"type": "math", "timeout": 1.0, "retry_timeout": 1.0}) as reward:
        thread = threading.Thread(target=lambda: results.append(reward.score(batch)))
        thread.start()
        thread.join(60)
        assert not thread.is_alive()
        from_async = asyncio.run(reward.ascore(batch))
    for scores in (results[0], from_async):
        assert [s.status for s in scores] == [Status.TIMEOUT, Status.OK]
        assert scores[1].value == 1.0


def test_scores_do_not_depend_on_batch_composition(math_reward):
    batch = [
        {"completion": c, "reference": g, "group_id": str(i % 3)}
        for i, (c, g) in enumerate(CORRECT + WRONG)
    ]
    together = [s.value for s in math_reward.score(batch)]
    alone = [math_reward.score([sample])[0].value for sample in batch]
    reversed_ = [s.value for s in math_reward.score(batch[::-1])][::-1]
    assert together == alone == reversed_


@settings(max_examples=300, deadline=None)
@given(
    st.text(alphabet=st.sampled_from(list("0123456789x+-*/^(){}[],.=\\ abox\n$<>")), max_size=80)
)
def test_arbitrary_text_never_crashes_extraction_or_fast_path(text):
    found = extract_answer(text)
    assert found.answer is None or isinstance(found.answer, str)
    assert fast_equal(normalize(text), "12") in (True, False, None)
    assert numeric_equal(text, text) in (True, False, None)


@settings(max_examples=100, deadline=None)
@given(st.integers(-(10**6), 10**6), st.integers(1, 10**4))
def test_fraction_spellings_agree(numerator, denominator):
    value = normalize(f"\\frac{{{numerator}}}{{{denominator}}}")
    assert fast_equal(value, f"{numerator}/{denominator}") is True
    assert fast_equal(value, f"{numerator * 3}/{denominator * 3}") is True
    assert fast_equal(value, f"{numerator + denominator}/{denominator}") is False


def test_a_last_line_that_restates_the_question_is_no_answer(math_reward):
    prompt = "Write 2/4 in lowest terms."
    samples = [
        {"prompt": prompt, "completion": "Write 2/4 in lowest terms.", "reference": "\\frac12"},
        {"prompt": prompt, "completion": "Compute 2/4 please.", "reference": "\\frac12"},
        {"prompt": prompt, "completion": "Halve both.\n\n1/2", "reference": "\\frac12"},
    ]
    assert [s.value for s in math_reward.score(samples)] == [0.0, 0.0, 1.0]
