"""Why rewards were 0, countable: codes next to reasons, values stripped otherwise, and
the running statistics of the summary."""

from __future__ import annotations

import pytest

from rewardsmith.core.component import InvalidSample
from rewardsmith.core.pipeline import Reward
from rewardsmith.core.types import Score, Status
from rewardsmith.report.reasons import reason_kind, reasons
from rewardsmith.report.stats import Stats
from rewardsmith.report.summary import BatchSummary


def test_codes_are_found_at_any_depth_and_counted_once_per_sample():
    score = Score(0.0, info={"gate": {"code": "gate_closed"}, "math": {"code": "no_answer"}})
    assert reasons(score) == ["gate_closed", "no_answer"]
    code_named_component = Score(0.0, info={"code": {"passed": 0, "code": "tests_failed"}})
    assert reasons(code_named_component) == ["tests_failed"]


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hedged answer: \\frac12 or 3", "hedged answer: … or …"),
        ("chose 'B', gold is \"C\"", "chose …, gold is …"),
        ("exceeded the time limit of 2.5 s", "exceeded the time limit of … s"),
    ],
)
def test_reason_text_without_values(text, kind):
    assert reason_kind(text) == kind
    assert reasons(Score(0.0, info={"m": {"reason": text}})) == [kind]


def test_a_zero_without_any_reason_is_counted_as_such():
    assert reasons(Score(0.0)) == ["no_reason_given"]


@pytest.mark.parametrize(
    ("message", "code"),
    [
        ("reference: missing; expected a number", "missing_reference"),
        ("reference.gold: expected SQL", "invalid_reference"),
        ("meta.reference_rewards: expected a list", "invalid_meta"),
        ("Something odd", "invalid_input"),
    ],
)
def test_invalid_sample_codes_name_the_field(message, code):
    assert InvalidSample(message).code == code
    assert InvalidSample(message, "custom").code == "custom"


def test_core_statuses_carry_codes():
    assert Score.failed(Status.TIMEOUT, 0.0, "slow").info == {"error": "slow", "code": "timeout"}
    with Reward.from_spec("math") as math, Reward.from_spec("qa") as qa:
        [missing] = math.score([{"completion": "\\boxed{1}"}])
        [unreadable] = qa.score([{"completion": 5}])
    assert missing.info["math"]["code"] == "missing_reference"
    assert unreadable.info["code"] == "invalid_sample"


def test_stats_mean_population_std_min_max():
    stats = Stats()
    for value in [0.0, 1.0, 1.0, 0.0]:
        stats.add(value)
    assert (stats.n, stats.mean, stats.std, stats.min, stats.max) == (4, 0.5, 0.5, 0.0, 1.0)
    assert Stats().as_dict()["mean"] is None


def test_summary_leaves_invalid_samples_out_and_counts_zero_std_groups():
    summary = BatchSummary()
    summary.add([Score(1.0, components={"m": 1.0}), Score(1.0, components={"m": 1.0})])
    summary.add([Score(0.0, components={"m": 0.0}), Score(1.0, components={"m": 1.0})])
    summary.add([Score.failed(Status.INVALID, 0.0, "reference: missing", "missing_reference")])
    assert summary.reward.n == 4 and summary.mean_reward == 0.75
    assert (summary.groups, summary.zero_std_groups) == (2, 1)
    assert summary.statuses[Status.INVALID] == 1
    assert summary.zero_reasons == {"missing_reference": 1, "no_reason_given": 1}
