"""The batch summary: component means, statuses, and what the reward paid for."""

from __future__ import annotations

import io

from rich.console import Console

from rewardsmith.core.types import Score, Status
from rewardsmith.report.summary import BatchSummary


def rendered(summary: BatchSummary) -> str:
    out = io.StringIO()
    Console(file=out, width=100).print(summary.table())
    return out.getvalue()


def test_means_statuses_and_usage_rows():
    summary = BatchSummary(seconds=2.0)
    summary.add(
        [
            Score(1.0, components={"judge": 1.0}),
            Score(0.0, status=Status.UNPARSEABLE, components={"judge": 0.0}),
        ]
    )
    summary.usage = {"judge_calls": 0, "judge_cache_hits": 6, "judge_retries": 0}
    text = rendered(summary)
    assert summary.means() == {"judge": 0.5}
    assert "status: unparseable" in text and "status: ok" in text
    assert "judge calls" in text and "judge cache hits" in text
    assert "judge retries" not in text  # zero counters other than calls are left out
    assert summary.as_dict()["usage"] == summary.usage
    assert summary.as_dict()["samples_per_second"] == 1.0
