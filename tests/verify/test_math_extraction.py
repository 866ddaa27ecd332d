"""The math reward's extraction rules: Minerva and multilingual answer cues, unmarked
answers in the closing sentence (and the strict policy that refuses them), answers only
inside <think>, multi-part golds and answers, the traps that must pay nothing (signs,
decimal points, Unicode minus, corrections, negations), and the retry of timed-out
checks. Every case here was written for this file."""

from __future__ import annotations

import time

import pytest

from rewardsmith import Status, load_reward
from rewardsmith.core.pipeline import Reward
from rewardsmith.core.pool import WorkerPool, outcome
from rewardsmith.verify.math import _retrying
from rewardsmith.verify.math_answer import Rules, extract_answer
from rewardsmith.verify.math_parts import gold_parts, split_items
from rewardsmith.verify.math_prose import closing_value, math_pieces, reduce_phrase
from rewardsmith.verify.text import answer_phrase_spans
from tests.hostile import HOSTILE
from tests.linear_time import ADVERSARIAL_SIZE, assert_linear

STRICT = Rules(policy="strict")
N = ADVERSARIAL_SIZE


@pytest.fixture(scope="module")
def math_reward():
    with load_reward("math", workers=2) as reward:
        yield reward


def scores(reward, cases, prompt=""):
    samples = [{"prompt": prompt, "completion": c, "reference": g} for c, g in cases]
    return [score.value for score in reward.score(samples)]


# --- where the final answer is ------------------------------------------------------

MARKED = [
    ("Final Answer: The final answer is 4,500. I hope it is correct.", "4500"),
    ("Final Answer: The smallest $k$ is 17.", "17"),
    ("Final Answer: Tom walked 6 miles. I hope it is correct.", "6"),
    ("所以答案是 42。", "42"),
    ("答案：$\\frac{3}{4}$", "\\frac{3}{4}"),
    ("最终答案 9", "9"),
    ("La respuesta es 15.", "15"),
    ("Por lo tanto, la respuesta final es 8.", "8"),
    ("La réponse est 31.", "31"),
    ("Die Antwort ist 21.", "21"),
    ("Die endgültige Antwort lautet 2.", "2"),
    ("Ответ: 6", "6"),
    ("答えは 11 です。", "11"),
    ("Answer \\[\n 14\n\\]", "14"),
    ("Answer $$ 3 $$", "3"),
    ("The answer is 40. Wait, I made a mistake: the answer is 41.", "41"),
    ("The answer is 40.\nHmm, no. The answer is 41.", "41"),
    ("We box \\boxed{10} for part one.\nFinal Answer: The final answer is 12.", "12"),
]


@pytest.mark.parametrize(("text", "expected"), MARKED)
def test_marked_answers_under_every_policy(text, expected):
    assert extract_answer(text).answer == expected
    assert extract_answer(text, rules=STRICT).answer == expected


CLOSING = [
    ("So the shaded area is $12\\pi$.", "12\\pi"),
    ("Thus $y > 2$ is the solution set.", "y > 2"),
    ("Hence, she bought 7 apples.", "7"),
    ("Adding up: 4 + 5 = 9 marbles in all.", "9"),
    ("所以他一共走了 12 公里。", "12"),
    ("Il reste donc 5 pommes.", "5"),
    ("First we expand.\n\nThe result is\n$$x^2 - 1$$", "x^2 - 1"),
    ("So there are 3 ways. I hope it is correct.", "3"),
    ("The chance is 1/4. <|im_start|>user\nNext question: what is 2+2?", "1/4"),
]


@pytest.mark.parametrize(("text", "expected"), CLOSING)
def test_the_closing_sentence_states_the_answer_unless_the_policy_is_strict(text, expected):
    assert extract_answer(text).answer == expected
    found = extract_answer(text, rules=STRICT)
    assert found.answer is None
    assert found.source == "none"


@pytest.mark.parametrize(
    "text",
    [
        "The values are 3 and 4.",
        "We tried 3, then 4.",
        "Is the result 5?",
        "So x is not 5.",
        "Perhaps $n$ is large.",
        "First 2 + 2 = 4. Then we are done.",  # the closing sentence states no value
        "Step 1: 8\nStep 2: 9 and 10",
    ],
)
def test_a_closing_sentence_without_exactly_one_plain_value_is_no_answer(text):
    assert extract_answer(text).answer is None


def test_a_value_repeated_from_the_prompt_needs_a_copula():
    prompt = "Simplify 6/8."
    assert extract_answer("Simplify 6/8 please.", prompt=prompt).answer is None
    assert extract_answer("So 6/8 = 3/4.", prompt=prompt).answer == "3/4"


def test_reduce_phrase_keeps_answers_that_are_not_sentences():
    assert reduce_phrase("The largest $m$ is 9") == "9"
    assert reduce_phrase("$x \\le 4$") == "$x \\le 4$"
    assert reduce_phrase("5 or 6") == "5 or 6"  # two values: left for the hedge check
    assert reduce_phrase("Wednesday") == "Wednesday"


def test_answers_only_inside_think():
    text = "<think>so the answer is 3</think>I am done."
    assert extract_answer(text).answer == "3"
    assert extract_answer(text, rules=Rules(think="ignore")).answer is None
    after = "<think>the answer is 3</think>The answer is 4."
    assert extract_answer(after, rules=Rules(think="ignore")).answer == "4"


def test_policies_are_reward_params():
    completion = "Therefore the total is 18 dollars."
    with Reward.from_spec({"type": "math", "answer_policy": "strict"}) as strict:
        assert scores(strict, [(completion, "18")]) == [0.0]
    with Reward.from_spec({"type": "math", "think": "ignore"}) as ignore:
        assert scores(ignore, [("<think>the answer is 18</think>", "18")]) == [0.0]
    with Reward.from_spec({"type": "math"}) as default:
        assert scores(default, [(completion, "18"), ("<think>answer: 18</think>", "18")]) == [
            1.0,
            1.0,
        ]


# --- traps ------------------------------------------------------------------------

TRAPS = [
    (".5", "5"),
    ("x = .5", "5"),
    ("x = \u22125", "5"),
    ("\\boxed{\u22125}", "5"),
    ("The answer is 72. Wait, I made an error: the answer is 73.", "72"),
    ("The answer is 72.\nWait, I made an error: the answer is 73.", "72"),
    ("\\boxed{5 is wrong}", "5"),
    ("\\boxed{\\text{not } 5}", "5"),
    ("The answer is not 5.", "5"),
    ("The answer is 5, not 6.", "5"),
    ("So $x$ is not 5.", "5"),
    ("\\boxed{5} \\boxed{6}", "5"),
    ("The answer is 5 or 6.", "5"),
    ("\\boxed{(1, 2)} \\quad \\boxed{(3, 4)}", "(1, 2)"),
]


@pytest.mark.parametrize(("completion", "gold"), TRAPS)
def test_traps_pay_nothing(math_reward, completion, gold):
    assert scores(math_reward, [(completion, gold)]) == [0.0]


def test_signs_and_digits_are_read_as_written(math_reward):
    cases = [
        ("x = \u22125", "-5"),
        (".5", "0.5"),
        ("x = .5", "\\frac12"),
        ("答案是 \uff14\uff12", "42"),
        ("The answer is 72. Wait, I made an error: the answer is 73.", "73"),
    ]
    assert scores(math_reward, cases) == [1.0] * len(cases)


@pytest.mark.parametrize(
    "completion",
    [
        "",
        ":",
        "Thought process:",
        "Let's solve this problem step by step.",
        "\\boxed{11} \\boxed{12} \\boxed{13}",
        "The answer is 11 or 12.",
        "The answer is either 12 or 13.",
        "1 2 3 4 5 6 7 8 9 10 11 12 13",
        "Find the number of apples, 12 minus 0.",
        "We are asked the following.\nFind the number of apples, 12 minus 0.\nLet us think.",
    ],
)
@pytest.mark.parametrize(
    "rules", [Rules(), STRICT, Rules(think="ignore")], ids=["default", "strict", "ignore"]
)
def test_hostile_completions_get_no_answer_under_every_policy(completion, rules):
    prompt = "Find the number of apples, 12 minus 0."
    found = extract_answer(completion, 1, prompt, rules)
    assert found.answer in (None, "13"), found  # 13: the last of three boxes, never 12


# --- several parts ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gold", "count"),
    [
        ("(1, 3), (4, 0)", 2),
        ("2,-5", 2),
        ("4 \\text{ and } 9", 2),
        ("$3$ and $5$ and $8$", 3),
        ("\\boxed{6}\\boxed{7}", 2),
        ("\\(\\boxed{6}\\) and \\(\\boxed{-7}\\).", 2),
        ("\\{1, 4, 9\\}", 3),
        ("a = 3, b = 8", 2),
        ("x_1 = 2,\\quad x_2 = 5", 2),
        ("(-\\infty, 3]", 1),
        ("12,000", 1),
        ("The solutions are $\\boxed{2, 3}$.", 2),
        ("\\frac{1}{2}", 1),
    ],
)
def test_gold_parts_are_counted_in_every_shape(gold, count):
    assert len(gold_parts(gold)) == count


MULTI_RIGHT = [
    ("\\boxed{(1, 3)} and \\boxed{(4, 0)}", "(1, 3), (4, 0)"),
    ("\\boxed{(4, 0)}, \\boxed{(1, 3)}", "(1, 3), (4, 0)"),  # a set: order free
    ("\\boxed{-5} \\quad \\boxed{2}", "2,-5"),
    ("The roots are $x = 2$ or $x = -5$, so the answer is $2, -5$.", "2,-5"),
    ("\\boxed{4, 9}", "4 \\text{ and } 9"),
    ("\\boxed{3, 5, 8}", "$3$ and $5$ and $8$"),
    ("\\boxed{6, 7}", "\\boxed{6}\\boxed{7}"),
    ("\\boxed{\\{9, 1, 4\\}}", "\\{1, 4, 9\\}"),
    ("\\boxed{a=3}, \\boxed{b=8}", "a = 3, b = 8"),
    ("\\boxed{b=8}, \\boxed{a=3}", "a = 3, b = 8"),  # named parts match by name
    ("\\boxed{3, 8}", "a = 3, b = 8"),  # unnamed: in the gold's order
    ("\\boxed{5}, \\boxed{2}", "x_1 = 2,\\quad x_2 = 5"),  # roots: a set
    ("\\boxed{1}, \\boxed{2}. So the answer is \\boxed{1, 2}.", "1, 2"),
    ("\\boxed{-\\sqrt{2}, \\sqrt2}", "\\sqrt{2}, -\\sqrt{2}"),
    ("\\boxed{2, \\sin(\\pi/6)}", "\\frac{1}{2}, 2"),  # decided by math-verify
]

MULTI_WRONG = [
    ("\\boxed{(1, 3)}", "(1, 3), (4, 0)"),  # fewer
    ("\\boxed{(1, 3)} \\boxed{(4, 0)} \\boxed{(5, 5)}", "(1, 3), (4, 0)"),  # extra
    ("\\boxed{(1, 3)} and \\boxed{(4, 1)}", "(1, 3), (4, 0)"),  # wrong
    ("\\boxed{(3, 1)} and \\boxed{(0, 4)}", "(1, 3), (4, 0)"),  # points keep their order
    ("\\boxed{2, -5, 7}", "2,-5"),
    ("\\boxed{2}", "2,-5"),
    ("\\boxed{2 \\text{ or } 3 \\text{ or } 4}", "2, 3"),
    ("The answer is 2, 3?", "2, 3"),
    ("The answer is maybe 2, 3.", "2, 3"),
    ("\\boxed{a=8}, \\boxed{b=3}", "a = 3, b = 8"),
    ("\\boxed{8, 3}", "a = 3, b = 8"),
    ("\\boxed{3, 5}", "$3$ and $5$ and $8$"),
    ("\\boxed{2, 1/3}", "\\frac{1}{2}, 2"),
]


@pytest.mark.parametrize(("completion", "gold"), MULTI_RIGHT)
def test_listing_the_gold_parts_earns_one(math_reward, completion, gold):
    assert scores(math_reward, [(completion, gold)]) == [1.0]


@pytest.mark.parametrize(("completion", "gold"), MULTI_WRONG)
def test_fewer_extra_or_wrong_parts_earn_nothing(math_reward, completion, gold):
    assert scores(math_reward, [(completion, gold)]) == [0.0]


def test_a_dataset_can_ask_for_ordered_parts(math_reward):
    ordered = {"answer": "1, 2", "ordered": True}
    samples = [
        {"completion": "\\boxed{2, 1}", "reference": ordered},
        {"completion": "\\boxed{1, 2}", "reference": ordered},
        {"completion": "\\boxed{2, 1}", "reference": {"answer": "1, 2"}},
    ]
    assert [s.value for s in math_reward.score(samples)] == [0.0, 1.0, 1.0]
    with Reward.from_spec({"type": "math", "ordered_parts": True}) as reward:
        assert scores(reward, [("\\boxed{2, 1}", "1, 2"), ("\\boxed{1, 2}", "1, 2")]) == [0, 1]
    [bad] = math_reward.score([{"completion": "1", "reference": {"answer": "1", "ordered": 1}}])
    assert bad.status is Status.INVALID


# --- linear time --------------------------------------------------------------------


def short(text: str) -> str:
    return repr(text[:16])


@pytest.mark.parametrize("parts", [1, 3])
@pytest.mark.parametrize("rules", [Rules(), STRICT], ids=["default", "strict"])
@pytest.mark.parametrize(
    "text",
    [
        "answer" * (N // 6),
        "answer $" * (N // 8),
        " " * N + "answer $",
        "The answer is " * (N // 14),
        "答案" * (N // 2),
        "最终答案是" * (N // 5),
        "réponse " * (N // 8),
        "Ответ " * (N // 6),
        ". " * (N // 2),
        "$ $" * (N // 3),
        "\\( " * (N // 3),
        "$" + "\\$" * (N // 2),
        "= " * (N // 2),
        "is " * (N // 3),
        "1 is " * (N // 5),
        "\n" * N + "x",
        " " * N + "I hope it is correct.",
        "<|im_start|>" * (N // 12),
        "1, " * (N // 3),
        "(" * N + "1",
        "and " * (N // 4),
        "\\quad" * (N // 5),
        "\\boxed{1}" * (N // 9),
        "not " * (N // 4),
        "\u2212" * N,
    ],
    ids=short,
)
def test_new_extraction_paths_are_linear(text, rules, parts):
    assert_linear(lambda completion: extract_answer(completion, parts, "", rules), text)


@pytest.mark.parametrize(
    "read", [answer_phrase_spans, closing_value, math_pieces, split_items, gold_parts]
)
@pytest.mark.parametrize(
    "text",
    ["$ a" * (N // 3), "x. " * (N // 3), "answer: , " * (N // 10), "{(" * (N // 2)],
    ids=short,
)
def test_new_readers_are_linear(read, text):
    assert_linear(read, text)


@pytest.mark.parametrize("name", HOSTILE)
def test_the_hostile_corpus_extracts_without_error(name):
    completion = HOSTILE[name]["completion"]
    for rules in (Rules(), STRICT, Rules(think="ignore")):
        for parts in (1, 2):
            found = extract_answer(completion, parts, "", rules)
            assert found.answer is None or isinstance(found.answer, str)


# --- timeouts -------------------------------------------------------------------------


def sleep_then(value: int, seconds: float) -> int:
    time.sleep(seconds)
    return value


def test_a_check_that_times_out_once_is_retried_under_the_longer_limit():
    pool = WorkerPool(1)
    try:
        pool.submit(sleep_then, 0, 0.0, timeout=30).result()  # the worker is up
        retried = _retrying(pool, sleep_then, (7, 1.0), 0.3, 10.0)
        assert outcome(retried) == (Status.OK, 7)
        once = _retrying(pool, sleep_then, (7, 1.0), 0.3, 0.0)
        assert outcome(once)[0] is Status.TIMEOUT
        twice = _retrying(pool, sleep_then, (7, 2.0), 0.3, 0.6)
        assert outcome(twice)[0] is Status.TIMEOUT
    finally:
        pool.close()


def test_a_single_equation_gold_stays_an_equation(math_reward):
    cases = [
        ("\\boxed{y - 2 = 2(x + 2)}", "\\boxed{y = 2x + 6}"),
        ("\\boxed{y = 2x + 7}", "y = 2x + 6"),
    ]
    assert scores(math_reward, cases) == [1.0, 0.0]


# --- a decimal comma, and ASCII relations ----------------------------------------------


def test_a_decimal_comma_is_one_value_that_only_its_decimal_gold_accepts(math_reward):
    cases = [
        ("The answer is 250,75", "250.75"),
        ("The answer is -3,5", "-3.5"),
        ("The answer is 250,75", "250"),  # as a list or as a decimal: not 250
        ("The answer is 250,74", "250.75"),
        ("The answer is 2,5", "25"),
        ("The answer is 1,250", "1.25"),  # a thousands group: 1250
    ]
    assert scores(math_reward, cases) == [1.0, 1.0, 0.0, 0.0, 0.0, 0.0]


def test_ascii_relations_are_the_latex_ones(math_reward):
    cases = [
        ("So $y >= -2$ is the solution set.", "y \\geq -2"),
        ("The answer is $t <= 7$.", "(-\\infty, 7]"),
        ("The answer is $t <= 7$.", "t < 7"),
        ("The answer is $y > -2$.", "y \\ge -2"),
    ]
    assert scores(math_reward, cases) == [1.0, 1.0, 0.0, 0.0]


def test_the_scientific_notation_tolerance_is_a_setting():
    cases = [("The answer is $1.2345 \\times 10^{2}$", "123.4"), ("The answer is 1.5e3", "1500")]
    for tolerance, expected in ((None, [0.0, 1.0]), (1e-2, [1.0, 1.0])):
        spec = {"type": "math"} | ({"scientific_rel_tol": tolerance} if tolerance else {})
        with Reward.from_spec(spec) as reward:
            assert scores(reward, cases) == expected


def test_every_zero_says_why_in_a_machine_readable_code(math_reward):
    cases = [
        ("The answer is 3 or 4", "hedged_answer"),
        ("The answer is 5", "wrong_answer"),
        ("The answer is not 4", "negated_answer"),
        ("\\boxed{3} \\boxed{4}", "conflicting_answers"),
        ("The answer is 3, 4", "wrong_part_count"),
        ("hello", "no_answer"),
        ("The answer is " + "9" * 400, "answer_out_of_bounds"),
    ]
    samples = [{"completion": completion, "reference": "4"} for completion, _ in cases]
    codes = [score.info["math"]["code"] for score in math_reward.score(samples)]
    assert codes == [code for _, code in cases]
