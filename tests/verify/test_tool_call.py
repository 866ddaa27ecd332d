"""`tool_call`: the ToolRL score (arXiv 2504.13958) computed by hand on small cases, the
optimal pairing, duplicates and extra calls that cannot farm credit, calls hidden in
the reasoning, JSON Schema checks, OpenAI-style calls, and hostile or malformed input
that costs one sample its reward and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rewardsmith import Reward
from rewardsmith.core.pipeline import Reward as Pipeline
from rewardsmith.verify.tool_call import correctness
from rewardsmith.verify.tool_calls import ToolCall, calls_in_text

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
            "required": ["city"],
            "additionalProperties": False,
        },
    },
}


def block(*calls: dict) -> str:
    return "<tool_call>\n" + "\n".join(json.dumps(call) for call in calls) + "\n</tool_call>"


def call(name: str, **arguments: object) -> dict:
    return {"name": name, "arguments": arguments}


def scored(completions: list[str], reference: object, **params: object) -> list:
    with Reward.from_spec({"type": "tool_call", **params}) as reward:
        return reward.score([{"completion": c, "reference": reference} for c in completions])


def test_an_exact_match_earns_the_top_of_either_scale():
    reference = {"calls": [call("get_weather", city="Paris", unit="c")], "tools": [WEATHER_TOOL]}
    text = "<think>look it up</think>\n" + block(call("get_weather", city="Paris", unit="c"))
    [unit] = scored([text], reference)
    [paper] = scored([text], reference, scale="toolrl")
    assert (unit.value, paper.value) == (1.0, 4.0)
    parts = ("format", "correctness", "name", "param_names", "param_values", "schema")
    assert [unit.components[f"tool_call.{part}"] for part in parts] == [1.0] * 6


def test_the_score_is_the_papers_sum_over_its_maximum():
    # gold: f(a=1, b=2) and g(x=3); predicted: f(a=1, b=5) and h()
    # J(names) = |{f}| / |{f, g, h}| = 1/3; the f pair: J(keys) = 1, one value of two
    # matches; g is unpaired; S = 1/3 + 1 + 1 = 7/3; S_max = 1 + (1 + 2) + (1 + 1) = 6
    gold = [ToolCall("f", {"a": 1, "b": 2}), ToolCall("g", {"x": 3})]
    calls = [ToolCall("f", {"a": 1, "b": 5}), ToolCall("h", {})]
    parts = correctness(gold, calls, [True, True], "any", count_extra=False)
    assert parts["score"] == pytest.approx(7 / 3) and parts["max"] == 6
    assert parts["name"] == pytest.approx(1 / 3) and parts["param_values"] == pytest.approx(1 / 3)
    # counted (the default), the unpaired h() adds 1 + 0 arguments to S_max
    assert correctness(gold, calls, [True, True], "any")["max"] == 7
    reference = {"calls": [call("f", a=1, b=2), call("g", x=3)]}
    completion = block(call("f", a=1, b=5), call("h"))
    [unit] = scored([completion], reference, extra_calls="paper")
    [paper] = scored([completion], reference, scale="toolrl", extra_calls="paper")
    [counted] = scored([completion], reference)
    assert unit.value == pytest.approx(7 / 18)
    assert paper.value == pytest.approx(1 + 6 * 7 / 18 - 3)
    assert counted.value == pytest.approx(7 / 21)


def test_calls_are_paired_to_maximise_the_score_not_in_turn():
    # pairing gold calls in turn with their best unused call (ToolRL's code) pairs the
    # first gold call with the first prediction (a tie) and loses 2 points
    gold = [ToolCall("f", {"a": 1, "b": 9}), ToolCall("f", {"a": 1, "b": 2})]
    calls = [ToolCall("f", {"a": 1, "b": 2}), ToolCall("f", {"a": 7, "b": 9})]
    parts = correctness(gold, calls, [True, True], "any")
    # J(names) 1, two pairs with J(keys) 1 each, values 1 + 2
    assert parts["score"] == 1 + 2 + 3 and parts["paired"] == 2


def test_duplicated_and_extra_calls_earn_nothing_twice():
    reference = [call("get_weather", city="Paris")]
    once = block(call("get_weather", city="Paris"))
    twice = once + "\n" + once
    extra = once + "\n" + block(call("get_weather", city="Lyon"), call("search", q="Paris"))
    one, dup, more = scored([once, twice, extra], reference)
    assert one.value == 1.0
    assert dup.value == 0.0 and dup.info["tool_call"]["code"] == "duplicate_call"
    assert 0.0 < more.value < 0.5
    # counted instead, the copy lowers J(names) and adds to S_max: half the reward
    [counted] = scored([twice], reference, duplicates="count")
    assert counted.value == 0.5 and counted.info["tool_call"]["duplicates"] == 1


def test_a_call_the_gold_makes_twice_may_be_made_twice():
    roll = call("roll_die", sides=6)
    [score] = scored([block(roll, roll)], [roll, roll])
    assert score.value == 1.0


def test_calls_hidden_in_the_reasoning_are_not_calls():
    reference = [call("get_weather", city="Paris")]
    hidden = "<think>" + block(call("get_weather", city="Paris")) + "</think>It is sunny."
    unclosed = "<think>" + block(call("get_weather", city="Paris"))
    [quiet, broken] = scored([hidden, unclosed], reference)
    assert quiet.value == 0.0 and quiet.info["tool_call"]["calls_in_reasoning"] == 1
    assert broken.value == 0.0 and broken.info["tool_call"]["code"] == "malformed_call"


def test_arguments_that_break_the_tools_schema_pair_with_nothing():
    reference = {"calls": [call("get_weather", city="Paris", unit="c")], "tools": [WEATHER_TOOL]}
    wrong_enum = block(call("get_weather", city="Paris", unit="kelvin"))
    unknown_key = block(call("get_weather", city="Paris", unit="c", token="x"))
    unknown_tool = block(call("get_wether", city="Paris", unit="c"))
    scores = scored([wrong_enum, unknown_key, unknown_tool], reference)
    for score in scores:
        info = score.info["tool_call"]
        assert info["schema"] == 0.0 and info["paired"] == 0, info
        assert score.value < 0.5
    assert "kelvin" in scores[0].info["tool_call"]["invalid_arguments"][0]
    assert "no such tool" in scores[2].info["tool_call"]["invalid_arguments"][0]


def test_values_keep_their_json_types():
    reference = [call("set", flag=True, count=1, label="1")]
    typed = block(call("set", flag=True, count=1.0, label="1"))
    confused = block(call("set", flag=1, count=True, label=1))
    right, wrong = scored([typed, confused], reference)
    assert right.value == 1.0
    assert wrong.info["tool_call"]["param_values"] == 0.0


def test_exact_order_pairs_calls_by_position():
    reference = {"calls": [call("a", x=1), call("b", y=2)], "order": "exact"}
    in_order = block(call("a", x=1), call("b", y=2))
    swapped = block(call("b", y=2), call("a", x=1))
    right, wrong = scored([in_order, swapped], reference)
    assert right.value == 1.0 and wrong.info["tool_call"]["paired"] == 0
    [any_order] = scored([swapped], {**reference, "order": "any"})
    assert any_order.value == 1.0


def test_a_reference_without_calls_pays_for_making_none():
    answer, call_anyway = scored(["It is 4.", block(call("calculator", expr="2+2"))], [])
    assert (answer.value, call_anyway.value) == (1.0, 0.0)


def test_openai_style_calls_on_the_sample_or_in_its_messages():
    reference = [call("get_weather", city="Paris")]
    openai_call = {
        "id": "call_1",
        "type": "function",
        "function": {"name": "get_weather", "arguments": json.dumps({"city": "Paris"})},
    }
    samples = [
        {"completion": "", "tool_calls": [openai_call], "reference": reference},
        {
            "completion": "",
            "messages": [
                {"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": None, "tool_calls": [openai_call]},
            ],
            "reference": reference,
        },
        {
            "completion": "",
            "tool_calls": [{"function": {"name": "x", "arguments": "{"}}],
            "reference": reference,
        },
    ]
    with Reward.from_spec({"type": "tool_call"}) as reward:
        on_sample, in_messages, broken = reward.score(samples)
    assert on_sample.value == in_messages.value == 1.0
    assert broken.value == 0.0 and "not JSON" in broken.info["tool_call"]["reason"]


@pytest.mark.parametrize(
    "completion",
    [
        "<tool_call>{not json}</tool_call>",
        "<tool_call>" + json.dumps(call("f")),  # unclosed
        block(call("f")) + "</tool_call>",  # a stray closing tag
        "<tool_call>[1, 2]</tool_call>",
        '<tool_call>{"arguments": {}}</tool_call>',
        '<tool_call>{"name": "f", "arguments": [1]}</tool_call>',
        "<tool_call></tool_call>",
        "<tool_call>" + "[" * 200_000 + "</tool_call>",
        "<tool_call>" + json.dumps(call("f", blob="x" * 50_000)) + "</tool_call>",
        "\n".join(block(call("f", i=i)) for i in range(40)),
    ],
)
def test_malformed_calls_score_zero_and_say_why(completion):
    [score] = scored([completion], [call("f")])
    assert score.value == 0.0 and score.ok
    assert score.info["tool_call"]["code"] == "malformed_call"
    assert score.info["tool_call"]["reason"]


def test_a_hostile_completion_costs_only_its_own_reward():
    reference = [call("get_weather", city="Paris")]
    good = block(call("get_weather", city="Paris"))
    malformed = [
        "<tool_call>" * 80_000,
        "<think>" * 50_000 + "<tool_call>",
        "<tool_call>" + "{" * 300_000,
        "<tool_call>\x00</tool_call>",
        "</tool_call>" * 50_000,
    ]
    wrong = block({"name": "get_weather", "arguments": {"city": {"$ref": "#"}}})
    scores = scored([good, *malformed, wrong, good], reference)
    assert scores[0].value == scores[-1].value == 1.0
    for score in scores[1:-2]:
        assert (score.value, score.ok) == (0.0, True)
        assert score.info["tool_call"]["code"] == "malformed_call"
    assert scores[-2].value < 1.0 and scores[-2].info["tool_call"]["param_values"] == 0.0


def test_bad_references_are_invalid_with_the_field_named():
    bad = [
        ({"calls": "f"}, "reference: expected"),
        ({"calls": [{"arguments": {}}]}, "reference.calls[0]"),
        ({"calls": [], "order": "sorted"}, "reference.order"),
        (
            {"calls": [], "tools": [{"name": "f", "parameters": {"type": "nonsense"}}]},
            "reference.tools[0].parameters",
        ),
    ]
    with Reward.from_spec({"type": "tool_call"}) as reward:
        results = reward.score([{"completion": "x", "reference": r} for r, _ in bad])
    for (_, field), score in zip(bad, results, strict=True):
        assert score.status.value == "invalid"
        assert field in score.info["tool_call"]["error"]


CALLS = st.lists(
    st.builds(
        ToolCall,
        st.sampled_from(["f", "g", "h"]),
        st.dictionaries(st.sampled_from("abc"), st.integers(0, 2), max_size=3),
    ),
    max_size=4,
)


@settings(max_examples=300, deadline=None)
@given(gold=CALLS, calls=CALLS, extra=CALLS, data=st.data())
def test_properties_of_the_score(gold, calls, extra, data):
    """Bounded by S_max; invariant to the order of the predicted calls (order: any); the
    gold itself scores S_max, and calls made beyond it never raise the score."""
    usable = [True] * len(calls)
    parts = correctness(gold, calls, usable, "any")
    assert 0 <= parts["score"] <= parts["max"] + 1e-9
    shuffled = data.draw(st.permutations(calls))
    assert correctness(gold, shuffled, usable, "any")["score"] == pytest.approx(parts["score"])
    exact = correctness(gold, gold, [True] * len(gold), "any")
    assert exact["score"] == pytest.approx(exact["max"])
    more = [*gold, *extra]
    padded = correctness(gold, more, [True] * len(more), "any")
    assert padded["score"] / padded["max"] <= 1 + 1e-9
    if extra:
        assert padded["score"] / padded["max"] < 1


def test_shotgun_calls_cost_more_than_they_earn():
    """Several guesses at the arguments, one of them right, score below one wrong guess
    by default; the paper's S_max pays for them."""
    reference = [call("book", city="Paris", day="mon", seats=2)]
    guesses = [block(call("book", city=c, day="mon", seats=2)) for c in ("Paris", "Lyon", "Nice")]
    shotgun = "\n".join(guesses)
    wrong = guesses[1]
    counted = scored([shotgun, wrong], reference)
    paper = scored([shotgun, wrong], reference, extra_calls="paper")
    assert counted[0].value < counted[1].value
    assert paper[0].value > paper[1].value


def test_text_reading_handles_toolrl_lines_and_json_lists():
    text = '<tool_call>\n{"name": "a", "parameters": {"x": 1}}\n{"name": "b"}\n</tool_call>'
    listed = '<tool_call>[{"name": "a", "arguments": {"x": 1}}, {"name": "b"}]</tool_call>'
    for completion in (text, listed):
        read = calls_in_text(completion)
        assert read.problem == ""
        assert read.calls == [ToolCall("a", {"x": 1}), ToolCall("b", {})]


def test_the_worked_example_ranks_every_hack_below_every_honest_partial_answer():
    root = Path(__file__).resolve().parents[2] / "examples" / "tool_call"
    samples = [json.loads(line) for line in (root / "group.jsonl").open()]
    with Pipeline.load(root / "pipeline.yaml") as reward:
        scores = reward.score(samples)
    value = {sample["kind"][0]: score.value for sample, score in zip(samples, scores, strict=True)}
    assert value["A"] == value["B"] == 1.0
    assert max(value[k] for k in "EFHI") < min(value[k] for k in "CD") < 1.0
    assert value["F"] == value["H"] == value["I"] == 0.0
