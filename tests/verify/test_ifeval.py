"""`ifeval`: each of IFEval's 25 instruction kinds against a hand-written response that
follows it and one that does not; strict and loose readings; `all` and `fraction`;
malformed rows; hostile responses (linear time, no crash, nothing else lost)."""

from __future__ import annotations

import pytest

from rewardsmith import Reward
from rewardsmith.verify.ifeval_checks import CHECKS

# instruction id -> (kwargs, a response that follows it, one that does not)
CASES: dict[str, tuple[dict, str, str]] = {
    "keywords:existence": (
        {"keywords": ["river", "bridge"]},
        "The bridge crosses the River Thames.",
        "The bridge is old.",
    ),
    "keywords:frequency": (
        {"keyword": "tea", "frequency": 3, "relation": "at least"},
        "Tea at noon, tea at four, and tea again at night.",
        "Tea at noon.",
    ),
    "keywords:forbidden_words": (
        {"forbidden_words": ["very", "really"]},
        "It was an unusually warm day.",
        "It was a very warm day.",
    ),
    "keywords:letter_frequency": (
        {"letter": "z", "let_frequency": 2, "let_relation": "less than"},
        "A calm day by the sea.",
        "Zebras zigzag lazily.",
    ),
    "language:response_language": (
        {"language": "de"},
        "Heute ist das Wetter in Berlin sonnig und warm, wir gehen in den Park.",
        "Today the weather in Berlin is sunny and warm, so we go to the park.",
    ),
    "length_constraints:number_sentences": (
        {"num_sentences": 3, "relation": "less than"},
        "One sentence. Two sentences.",
        "One. Two. Three. Four.",
    ),
    "length_constraints:number_paragraphs": (
        {"num_paragraphs": 2},
        "First part.\n* * *\nSecond part.",
        "First part.\n* * *\nSecond part.\n* * *\nThird part.",
    ),
    "length_constraints:number_words": (
        {"num_words": 5, "relation": "at least"},
        "These are six words right here.",
        "Too few words.",
    ),
    "length_constraints:nth_paragraph_first_word": (
        {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "summary"},
        "Intro text.\n\nSummary: all good.",
        "Intro text.\n\nIn short: all good.",
    ),
    "detectable_content:number_placeholders": (
        {"num_placeholders": 2},
        "Dear [name], your order [number] shipped.",
        "Dear customer, your order shipped.",
    ),
    "detectable_content:postscript": (
        {"postscript_marker": "P.S."},
        "See you soon.\nP.S. Bring snacks.",
        "See you soon.",
    ),
    "detectable_format:number_bullet_lists": (
        {"num_bullets": 2},
        "Plan:\n* eat\n* sleep",
        "Plan:\n* eat\n* sleep\n* code",
    ),
    "detectable_format:constrained_response": (
        {},
        "My answer is yes.",
        "Yes, definitely.",
    ),
    "detectable_format:number_highlighted_sections": (
        {"num_highlights": 2},
        "This is *important* and *urgent*.",
        "This is *important* only.",
    ),
    "detectable_format:multiple_sections": (
        {"section_spliter": "Section", "num_sections": 2},
        "Section 1\nIntro.\nSection 2\nBody.",
        "Intro.\nBody.",
    ),
    "detectable_format:json_format": (
        {},
        '```json\n{"city": "Oslo", "temp": 3}\n```',
        "city: Oslo, temp: 3",
    ),
    "detectable_format:title": (
        {},
        "<<A Day at Sea>>\nWe sailed.",
        "A Day at Sea\nWe sailed.",
    ),
    "combination:two_responses": (
        {},
        "Take the train.\n******\nTake the bus.",
        "Take the train.\n******\nTake the train.",
    ),
    "combination:repeat_prompt": (
        {"prompt_to_repeat": "Describe a cat."},
        "Describe a cat. A cat is a small furry animal.",
        "A cat is a small furry animal.",
    ),
    "startend:end_checker": (
        {"end_phrase": "Any other questions?"},
        "That is all. Any other questions?",
        "Any other questions? That is all.",
    ),
    "change_case:capital_word_frequency": (
        {"capital_frequency": 2, "capital_relation": "at least"},
        "This is VERY IMPORTANT.",
        "This is Very Important.",
    ),
    "change_case:english_capital": (
        {},
        "THE MEETING STARTS AT NINE IN THE MORNING TOMORROW.",
        "The meeting starts at nine in the morning tomorrow.",
    ),
    "change_case:english_lowercase": (
        {},
        "the meeting starts at nine in the morning tomorrow.",
        "The meeting starts at nine in the morning tomorrow.",
    ),
    "punctuation:no_comma": (
        {},
        "Short and clear without pauses.",
        "Short, clear, and simple.",
    ),
    "startend:quotation": (
        {},
        '"The whole answer is quoted."',
        "The whole answer is not quoted.",
    ),
}


def row(*instructions: str) -> dict:
    return {
        "instruction_id_list": list(instructions),
        "kwargs": [CASES[name][0] for name in instructions],
    }


def scored(samples: list[tuple[str, dict]], **params: object) -> list:
    with Reward.from_spec({"type": "ifeval", **params}) as reward:
        return reward.score([{"completion": c, "reference": r} for c, r in samples])


def test_every_instruction_kind_is_covered():
    assert set(CASES) == set(CHECKS) and len(CHECKS) == 25


@pytest.mark.parametrize("instruction", sorted(CASES))
def test_each_instruction_against_a_compliant_and_a_non_compliant_response(instruction):
    _, good, bad = CASES[instruction]
    followed, missed = scored([(good, row(instruction)), (bad, row(instruction))])
    assert (followed.value, missed.value) == (1.0, 0.0), (followed.info, missed.info)
    kind = instruction.split(":", 1)[1]
    assert followed.components[f"ifeval.{kind}"] == 1.0
    assert missed.info["ifeval"]["code"] == "instruction_not_followed"


def test_all_pays_only_full_compliance_and_fraction_the_share():
    reference = row("punctuation:no_comma", "startend:quotation", "keywords:existence")
    response = '"The bridge spans the river without a single pause"'  # no comma, quoted
    partly = '"The bridge spans the river, far below"'  # a comma
    [full, part] = scored([(response, reference), (partly, reference)])
    [frac] = scored([(partly, reference)], mode="fraction")
    assert (full.value, part.value) == (1.0, 0.0)
    assert frac.value == pytest.approx(2 / 3)


def test_loose_forgives_a_first_line_and_markdown_asterisks():
    reference = row("startend:quotation")
    response = 'Sure, here it is:\n"The whole answer is quoted."'
    [strict] = scored([(response, reference)])
    [loose] = scored([(response, reference)], variant="loose")
    assert (strict.value, loose.value) == (0.0, 1.0)
    json_row = {"instruction_id_list": ["detectable_format:json_format"], "kwargs": [{}]}
    starred = '**{"a": 1}**'
    assert [s.value for s in scored([(starred, json_row)], variant="loose")] == [1.0]


def test_only_the_text_after_the_think_block_counts():
    reference = row("punctuation:no_comma")
    thought = "<think>Well, first, let me think, carefully.</think>No pauses here at all."
    hidden = "<think>No commas here</think>But here, there is one."
    followed, missed = scored([(thought, reference), (hidden, reference)])
    assert (followed.value, missed.value) == (1.0, 0.0)


def test_keyword_stuffing_without_compliance_is_not_paid():
    """Keywords listed at the end satisfy the keyword instructions, not the others."""
    reference = row("keywords:existence", "length_constraints:number_words", "punctuation:no_comma")
    stuffed = "Short, wrong. Keywords: river, bridge"
    [score] = scored([(stuffed, reference)])
    assert score.value == 0.0
    assert score.info["ifeval"]["followed"]["keywords:existence"] is True


@pytest.mark.parametrize(
    "reference, field",
    [
        ({"instruction_id_list": "punctuation:no_comma"}, "reference: expected an IFEval row"),
        ({"instruction_id_list": []}, "reference.instruction_id_list"),
        (
            {"instruction_id_list": ["punctuation:no_semicolon"], "kwargs": [{}]},
            "reference.instruction_id_list[0]",
        ),
        (
            {"instruction_id_list": ["keywords:frequency"], "kwargs": [{"keyword": "x"}]},
            "reference.kwargs[0]: keywords:frequency needs frequency, relation",
        ),
        (
            {
                "instruction_id_list": ["keywords:frequency"],
                "kwargs": [{"keyword": "x", "frequency": 2, "relation": "more than"}],
            },
            "reference.kwargs: relation",
        ),
        (
            {"instruction_id_list": ["punctuation:no_comma", "startend:quotation"], "kwargs": [{}]},
            "reference.kwargs: expected a list of 2",
        ),
    ],
)
def test_malformed_rows_are_invalid_with_the_field_named(reference, field):
    [score] = scored([("Anything.", reference)])
    assert score.status.value == "invalid"
    assert field in score.info["ifeval"]["error"]


def test_none_valued_kwargs_of_dataset_exports_are_ignored():
    reference = {
        "instruction_id_list": ["punctuation:no_comma"],
        "kwargs": [{"num_words": None, "relation": None, "keywords": None}],
    }
    assert [s.value for s in scored([("No commas here.", reference)])] == [1.0]


def test_hostile_responses_cost_only_their_own_reward():
    reference = row(*sorted(CASES))  # every kind at once
    hostile = [
        "\n" * 300_000,
        "<<" * 200_000,
        "*" * 300_000,
        "[" * 300_000,
        "Section " * 60_000,
        "p." * 200_000,
        "{" * 300_000,
    ]
    good = ('"Plain words without pauses."', row("punctuation:no_comma", "startend:quotation"))
    scores = scored([good, *[(text, reference) for text in hostile], good])
    assert scores[0].value == scores[-1].value == 1.0
    assert all((score.value, score.ok) == (0.0, True) for score in scores[1:-1])


def test_the_worked_example_pays_only_the_compliant_rollout():
    import json
    from pathlib import Path

    from rewardsmith.core.pipeline import Reward as Pipeline

    root = Path(__file__).resolve().parents[2] / "examples" / "ifeval"
    samples = [json.loads(line) for line in (root / "group.jsonl").open()]
    with Pipeline.load(root / "pipeline.yaml") as reward:
        scores = reward.score(samples)
    paid = [s["kind"][0] for s, score in zip(samples, scores, strict=True) if score.value == 1.0]
    assert paid == ["A"]
    loose = {
        s["kind"][0]: score.components["loose"] for s, score in zip(samples, scores, strict=True)
    }
    assert loose["G"] == 1.0  # the loose reading drops the last line that breaks it
