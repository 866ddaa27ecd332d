"""Rubric files: the model, the declarative checks, Guardrails, and file loading."""

from __future__ import annotations

import json

import pytest
import yaml
from pydantic import ValidationError

from rewardsmith.core.config import BuildContext, ConfigError
from rewardsmith.core.pipeline import Reward
from rewardsmith.core.types import Group, Sample
from rewardsmith.judge.rubric import (
    Guardrails,
    MetaRubric,
    VerifiableCheck,
    load_rubric,
    passes,
    rubric_file,
)
from rewardsmith.judge.scripted import Reply, last_user

PRINCIPLES = [
    {"name": "accurate", "type": "fatal", "description": "No false claims."},
    {"name": "answers", "type": "core", "description": "  Says what was asked.  "},
    {"name": "clear", "type": "important", "description": "Easy to follow."},
    {"name": "warm", "type": "highlight", "description": "Friendly."},
]


def check(kind: str, value: object = None, **extra) -> VerifiableCheck:
    return VerifiableCheck(name="c", check=kind, value=value, **extra)


def on(text: str, check: VerifiableCheck) -> bool:
    return passes(check, Sample(completion=text))


def test_weights_render_and_defaults():
    rubric = MetaRubric.model_validate({"principles": PRINCIPLES})
    assert [rubric.weight_of(p) for p in rubric.principles] == [0.0, 5.0, 2.0, 1.0]
    assert rubric.render() == (
        "- accurate [fatal]: No false claims.\n"
        "- answers [core]: Says what was asked.\n"
        "- clear [important]: Easy to follow.\n"
        "- warm [highlight]: Friendly."
    )
    assert rubric.name == "rubric" and rubric.verifiable == []
    bare = MetaRubric.model_validate({"principles": [{"name": "x", "description": "d"}]})
    assert bare.principles[0].type == "core"
    custom = MetaRubric.model_validate({"principles": PRINCIPLES, "weights": {"core": 3}})
    assert [custom.weight_of(p) for p in custom.principles] == [0.0, 3.0, 2.0, 1.0]


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        ({"principles": []}, "at least 1"),
        ({"principles": PRINCIPLES, "weights": {"fatal": 1}}, "unknown type 'fatal'"),
        ({"principles": PRINCIPLES, "weights": {"core": -1}}, "expected a weight >= 0"),
        ({"principles": [PRINCIPLES[0], PRINCIPLES[0]]}, "duplicate name(s) accurate"),
        ({"principles": [{"name": "x", "description": "d", "type": "minor"}]}, "type"),
        ({"principles": [{"name": "x", "description": ""}]}, "description"),
        ({"principles": PRINCIPLES, "extra": 1}, "extra"),
    ],
)
def test_bad_rubrics_are_rejected(data, problem):
    with pytest.raises(ValidationError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        MetaRubric.model_validate(data)


def test_word_and_character_limits():
    assert on("one two three", check("max_words", 3)) and not on("a b c d", check("max_words", 3))
    assert on("a\nb\tc", check("min_words", 3)) and not on("a b", check("min_words", 3))
    assert on("", check("max_words", 0)) and on("", check("min_words", 0))
    assert on("abcde", check("max_chars", 5)) and not on("abcdef", check("max_chars", 5))


def test_require_and_forbid_are_case_insensitive_regexes():
    both = check("require", ["trade-?off", r"^because"])
    assert on("A Tradeoff exists\nBecause of cost.", both)
    assert not on("A trade-off exists, because of cost.", both)  # ^ anchors at a line start
    assert on("TRADE-OFF", check("require", "trade-?off"))
    links = check("forbid", ["https?://", "www\\."])
    assert on("See the manual.", links)
    assert not on("See HTTP://x.org", links) and not on("See www.x.org", links)


def test_json_check():
    is_json = check("json")
    assert on('{"a": [1, 2]}', is_json) and on("  [1]  ", is_json)
    assert not on("{'a': 1}", is_json) and not on('{"a": 1} trailing', is_json)
    assert not on("", is_json)


def test_component_checks_are_not_declarative():
    with pytest.raises(ValueError, match="not declarative"):
        on("x", check("component", {"type": "qa"}))


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"check": "max_words", "value": "ten"}, "needs value: a whole number"),
        ({"check": "max_chars", "value": -1}, "needs value: a whole number"),
        ({"check": "min_words", "value": True}, "needs value: a whole number"),
        ({"check": "require", "value": []}, "needs value: a regex"),
        ({"check": "forbid", "value": "(unclosed"}, "is not a regex"),
        ({"check": "component", "value": 3}, "needs value: a component spec"),
        ({"check": "json", "role": "reward"}, "role 'reward' needs a weight > 0"),
        ({"check": "spelling"}, "check"),
        ({"check": "json", "weight": -1}, "weight"),
    ],
)
def test_bad_checks_are_rejected(fields, problem):
    with pytest.raises(ValidationError, match=problem):
        VerifiableCheck(name="c", **fields)


def run_guardrails(verifiable: list[dict], samples: list[Sample]):
    rubric = MetaRubric.model_validate({"principles": PRINCIPLES, "verifiable": verifiable})
    guardrails = Guardrails(rubric, BuildContext(state="memory://"), "reward")
    try:
        [row] = guardrails.run([Group("g", samples)])
    finally:
        for child in guardrails.children():
            child.close()
    return guardrails, row


def test_guardrails_gates_and_bonus():
    verifiable = [
        {"name": "short", "check": "max_words", "value": 4},
        {"name": "no_links", "check": "forbid", "value": "https?://"},
        {
            "name": "tradeoff",
            "check": "require",
            "value": "trade-?off",
            "role": "reward",
            "weight": 0.2,
        },
        {"name": "is_json", "check": "json", "role": "reward", "weight": 0.05},
    ]
    samples = [
        Sample(completion="a trade-off"),
        Sample(completion="http://x.org has a tradeoff, see"),
        Sample(completion="[1, 2]"),
    ]
    guardrails, (fine, both_gates, json_only) = run_guardrails(verifiable, samples)
    assert guardrails.children() == []
    assert fine.passed == {"short": True, "no_links": True, "tradeoff": True, "is_json": False}
    assert not fine.gated and fine.bonus == pytest.approx(0.2)
    assert both_gates.gated and both_gates.gates == ["short", "no_links"]
    assert both_gates.bonus == pytest.approx(0.2)  # reward checks still count
    assert json_only.bonus == pytest.approx(0.05)
    assert fine.as_info() == {"passed": fine.passed, "failed_gates": [], "bonus": fine.bonus}


def test_guardrails_component_checks():
    verifiable = [
        {"name": "math_right", "check": "component", "value": {"type": "math"}},
        {"name": "qa_right", "check": "component", "value": "qa", "role": "reward", "weight": 0.5},
    ]
    samples = [
        Sample(completion="So the answer is \\boxed{12}.", reference="12"),
        Sample(completion="The answer is \\boxed{13}.", reference="12"),
        Sample(completion="no reference here", reference=None),  # invalid: the checks fail
    ]
    guardrails, (right, wrong, invalid) = run_guardrails(verifiable, samples)
    assert [c.kind for c in guardrails.children()] == ["math", "qa"]
    assert right.passed == {"math_right": True, "qa_right": True} and right.bonus == 0.5
    assert wrong.gates == ["math_right"] and wrong.bonus == 0.0
    assert invalid.gates == ["math_right"] and not invalid.passed["qa_right"]


def test_bad_component_check_names_its_place():
    rubric = MetaRubric.model_validate(
        {
            "principles": PRINCIPLES,
            "verifiable": [{"name": "x", "check": "component", "value": {"type": "nope"}}],
        }
    )
    with pytest.raises(ConfigError, match=r"reward\.rubric\.verifiable\[0\]\.value\.type: unknown"):
        Guardrails(rubric, BuildContext(), "reward")


def test_load_rubric_errors(tmp_path):
    ctx = BuildContext(base_dir=tmp_path)
    (tmp_path / "broken.yaml").write_text("principles: [unclosed\n")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump({"principles": [{"name": "x"}]}))
    with pytest.raises(ConfigError, match=r"reward\.rubric: .*broken\.yaml' is not valid YAML"):
        load_rubric("broken.yaml", ctx, "reward")
    with pytest.raises(ConfigError, match=r"list\.yaml: expected a mapping with 'principles'"):
        load_rubric("list.yaml", ctx, "reward")
    with pytest.raises(ConfigError, match=r"bad\.yaml: principles\[0\]\.description: missing"):
        load_rubric("bad.yaml", ctx, "reward")
    with pytest.raises(ConfigError, match=r"reward\.rubric: cannot read rubric file"):
        load_rubric("absent.yaml", ctx, "reward")
    with pytest.raises(ConfigError, match=r"reward\.rubric expected a mapping"):
        load_rubric(["principles"], ctx, "reward")  # type: ignore[arg-type]


def test_rubric_file_outside_a_reward(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text(yaml.safe_dump({"name": "mine", "principles": PRINCIPLES}))
    assert rubric_file(path).name == "mine"


def test_relative_rubric_is_found_next_to_the_reward_file(
    tmp_path, monkeypatch, judge_config, openai_server
):
    home = tmp_path / "rewards"
    home.mkdir()
    (home / "rubric.yaml").write_text(
        yaml.safe_dump(
            {
                "principles": PRINCIPLES[1:2],
                "verifiable": [{"name": "short", "check": "max_words", "value": 3}],
            }
        )
    )
    settings = judge_config(cache_path="cache.sqlite").model_dump(mode="json")
    reward_file = home / "reward.yaml"
    reward_file.write_text(
        yaml.safe_dump(
            {"reward": {"type": "judge_score", "rubric": "rubric.yaml", "judge": settings}}
        )
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    answer = {"criteria": [{"name": "answers", "score": 7, "justification": "mostly"}]}
    openai_server.behaviour = lambda body: Reply.answer(json.dumps(answer))
    with Reward.load(reward_file) as reward:
        fine, long = reward.score(
            [{"prompt": "q", "completion": "Lyon"}, {"prompt": "q", "completion": "a b c d"}]
        )
    assert fine.value == pytest.approx(0.7) and long.value == 0.0
    assert "- answers [core]: Says what was asked." in last_user(openai_server.requests[0])
    assert len(openai_server.requests) == 1
    assert (home / "cache.sqlite").is_file() and not (elsewhere / "cache.sqlite").exists()
