"""`trajectory`: the final answer's reward (any outcome component) less per-turn
penalties for tool errors and repeated calls, with the parts named, the per-turn rewards
as dense rewards over the turns' text, and malformed or hostile rollouts costing only
their own reward."""

from __future__ import annotations

import json

import pytest

from rewardsmith import Reward

SYSTEM = {"role": "system", "content": "You can call a calculator."}
USER = {"role": "user", "content": "What is 12 * 7 + 1?"}


def call(name: str, **arguments: object) -> dict:
    function = {"name": name, "arguments": json.dumps(arguments)}
    return {"id": "c1", "type": "function", "function": function}


def assistant(content: str, *calls: dict) -> dict:
    return {
        "role": "assistant",
        "content": content,
        **({"tool_calls": list(calls)} if calls else {}),
    }


def tool(content: str, **extra: object) -> dict:
    return {"role": "tool", "tool_call_id": "c1", "content": content, **extra}


def scored(rollouts: list[list[dict]], reference: str = "85", **params: object) -> list:
    spec = {"type": "trajectory", "outcome": {"type": "math"}, **params}
    samples = [
        {"completion": "\n".join(m.get("content") or "" for m in messages[2:]),
         "messages": messages, "reference": reference}
        for messages in rollouts
    ]  # fmt: skip
    with Reward.from_spec(spec) as reward:
        return reward.score(samples)


CLEAN = [
    SYSTEM, USER,
    assistant("Let me compute.", call("calculator", expr="12*7")), tool("84"),
    assistant("So the answer is \\boxed{85}."),
]  # fmt: skip


def test_a_clean_rollout_earns_its_answer_and_dense_rewards_sum_to_it():
    [score] = scored([CLEAN])
    assert score.value == 1.0 and score.components["math"] == 1.0
    assert score.components["trajectory.turns"] == 2.0
    assert [d.reward for d in score.dense] == [0.0, 1.0]
    assert sum(d.reward for d in score.dense) == pytest.approx(score.value)
    first = score.dense[0]
    completion = "\n".join(m.get("content") or "" for m in CLEAN[2:])
    assert completion[first.start : first.end] == "Let me compute."


def test_tool_errors_and_repeated_calls_cost_their_turns():
    messy = [
        SYSTEM, USER,
        assistant("Try.", call("calc", expr="12*7")), tool("Error: no tool named calc"),
        assistant("Again.", call("calc", expr="12*7")), tool('{"error": "still unknown"}'),
        assistant("Once more.", call("calculator", expr="12*7")), tool("84", status="ok"),
        assistant("So \\boxed{85}."),
    ]  # fmt: skip
    [score] = scored([messy])
    info = score.info["trajectory"]
    assert (info["tool_errors"], info["repeated_calls"]) == (2.0, 1.0)
    assert info["turn_rewards"] == [-0.1, -0.2, 0.0, 1.0]
    assert score.value == pytest.approx(0.7)


def test_with_the_gate_penalties_never_raise_a_wrong_answer():
    wrong = [SYSTEM, USER, assistant("So \\boxed{86}.")]
    gated, ungated = scored([wrong]), scored([wrong], gate=False)
    assert gated[0].value == 0.0 and ungated[0].value == 0.0
    errors = [SYSTEM, USER, assistant("x", call("calc")), tool("Traceback: boom"),
              assistant("So \\boxed{86}.")]  # fmt: skip
    [penalised] = scored([errors])
    assert penalised.value == pytest.approx(-0.1)  # lowered, never raised


def test_turns_beyond_max_turns_cost_a_turn_penalty():
    long = [SYSTEM, USER] + [
        assistant(f"step {i}", call("calculator", expr=str(i))) for i in range(5)
    ]
    long.append(assistant("So \\boxed{85}."))
    [score] = scored([long], max_turns=3, turn_penalty=0.05)
    assert score.info["trajectory"]["turn_rewards"][3:5] == [-0.05, -0.05]
    assert score.value == pytest.approx(1.0 - 3 * 0.05)


def test_the_outcome_can_be_any_component():
    rollout = [USER, assistant("I will call it.", call("get_weather", city="Oslo"))]
    spec = {"type": "trajectory", "outcome": {"type": "tool_call"}}
    sample = {
        "completion": "",
        "messages": rollout,
        "reference": [{"name": "get_weather", "arguments": {"city": "Oslo"}}],
    }
    with Reward.from_spec(spec) as reward:
        [score] = reward.score([sample])
    # the final message is judged by the text it holds: no <tool_call> block in it
    assert score.components["tool_call"] == 0.0


@pytest.mark.parametrize(
    "messages, field",
    [
        (None, "messages: missing"),
        ([], "messages: missing"),
        (["hello"], "messages[0]: expected an object"),
        (
            [
                USER,
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"function": {"arguments": "{}"}}],
                },
            ],
            "messages[1].tool_calls[0]",
        ),
        ([USER] * 600, "at most 512"),
    ],
)
def test_malformed_rollouts_are_invalid_and_cost_nothing_else(messages, field):
    spec = {"type": "trajectory", "outcome": {"type": "math"}}
    good = {"completion": "", "messages": CLEAN, "reference": "85"}
    with Reward.from_spec(spec) as reward:
        ok, bad = reward.score([good, {"completion": "", "messages": messages, "reference": "85"}])
    assert ok.value == 1.0
    assert bad.status.value == "invalid" and field in bad.info["trajectory"]["error"]


def test_hostile_tool_results_are_read_safely():
    hostile = [SYSTEM, USER, assistant("x", call("calculator")), tool("{" * 100_000),
               tool("[" * 100_000), assistant("So \\boxed{85}.")]  # fmt: skip
    [score] = scored([hostile])
    assert score.ok and score.value == 1.0


def test_the_worked_example_ranks_clean_then_erring_then_repeating_then_wrong():
    from pathlib import Path

    from rewardsmith.core.pipeline import Reward as Pipeline

    root = Path(__file__).resolve().parents[2] / "examples" / "trajectory"
    samples = [json.loads(line) for line in (root / "rollouts.jsonl").open()]
    with Pipeline.load(root / "pipeline.yaml") as reward:
        scores = reward.score(samples)
    values = [round(score.value, 6) for score in scores]
    assert values == [1.0, 0.9, 0.8, 0.0]
    assert all(sum(d.reward for d in score.dense) == pytest.approx(score.value) for score in scores)
