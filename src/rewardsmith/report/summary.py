"""The batch summary: what GRPO users look at (mean, std, min and max of every
component, the fraction of groups whose rewards are all equal, statuses, why rewards
were 0), where the output and the training state went, throughput, and what the reward
paid for (judge calls, cache hits, tokens).

Samples with status `invalid` (input a component could not use) and input lines that
were not samples are counted on their own and left out of every statistic.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from rewardsmith.core.types import Score, Status
from rewardsmith.report.reasons import reasons
from rewardsmith.report.stats import Stats

TOP_REASONS = 10


@dataclass
class BatchSummary:
    """What a scored run looked like, fed one group of Scores at a time (`add`)."""

    count: int = 0
    invalid_lines: int = 0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    components: dict[str, Stats] = field(default_factory=dict)
    reward: Stats = field(default_factory=Stats)
    groups: int = 0
    zero_std_groups: int = 0
    zero_reasons: Counter[str] = field(default_factory=Counter)
    usage: dict[str, float] = field(default_factory=dict)
    output: str = ""
    state: str = ""

    def add(self, scores: list[Score]) -> None:
        """One group's Scores."""
        values = []
        for score in scores:
            self.count += 1
            self.statuses[str(score.status)] += 1
            if score.value == 0 or not score.ok:
                self.zero_reasons.update(reasons(score))
            if score.status is Status.INVALID:
                continue
            values.append(score.value)
            self.reward.add(score.value)
            for name, value in score.components.items():
                self.components.setdefault(name, Stats()).add(value)
        if values:
            self.groups += 1
            self.zero_std_groups += max(values) == min(values)

    def means(self) -> dict[str, float]:
        return {name: stats.mean for name, stats in self.components.items()}

    @property
    def mean_reward(self) -> float:
        return self.reward.mean

    @property
    def frac_reward_zero_std(self) -> float:
        """TRL's `frac_reward_zero_std`: groups whose rewards are all equal (no signal)."""
        return self.zero_std_groups / self.groups if self.groups else 0.0

    @property
    def throughput(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "scored": self.reward.n,
            "invalid_samples": self.statuses.get(Status.INVALID, 0),
            "invalid_lines": self.invalid_lines,
            "seconds": round(self.seconds, 3),
            "samples_per_second": round(self.throughput, 1),
            "reward": self.reward.as_dict(),
            "mean_reward": self.mean_reward,
            "components": {name: stats.as_dict() for name, stats in self.components.items()},
            "groups": self.groups,
            "zero_std_groups": self.zero_std_groups,
            "frac_reward_zero_std": self.frac_reward_zero_std,
            "statuses": dict(self.statuses),
            "zero_reasons": dict(self.zero_reasons.most_common()),
            "output": self.output,
            "state": self.state,
            "usage": self.usage,
        }

    def table(self, title: str = "rewardsmith summary") -> Table:
        table = Table(title=title)
        table.add_column("", no_wrap=True)
        for name in ("mean", "std", "min", "max", "samples"):
            table.add_column(name, justify="right", no_wrap=True)
        for name, stats in self.components.items():
            table.add_row(name, *_row(stats))
        table.add_section()
        table.add_row("reward", *_row(self.reward))
        table.add_row(
            "groups with zero std",
            f"{self.frac_reward_zero_std:.4f}",
            "",
            "",
            "",
            f"{self.zero_std_groups}/{self.groups}",
        )
        table.add_section()
        for status, n in sorted(self.statuses.items()):
            note = " (excluded)" if status == Status.INVALID else ""
            table.add_row(f"status: {status}{note}", "", "", "", "", str(n))
        if self.invalid_lines:
            table.add_row("invalid input lines", "", "", "", "", str(self.invalid_lines))
        if self.zero_reasons:
            table.add_section()
            for reason, n in self.zero_reasons.most_common(TOP_REASONS):
                table.add_row(f"0 because: {reason:.40}", "", "", "", "", str(n))
        if self.usage:
            table.add_section()
            for name, amount in self.usage.items():
                if not amount and not name.endswith(("_calls", "_read", "_written")):
                    continue  # no retries, failures, ... : nothing to report
                shown = f"{amount:.2f}" if isinstance(amount, float) else str(amount)
                table.add_row(name.replace("_", " "), shown, "", "", "", "")
        table.add_section()
        table.add_row("seconds", f"{self.seconds:.2f}", "", "", "", "")
        table.add_row("samples / second", f"{self.throughput:.1f}", "", "", "", "")
        return table

    def places(self) -> list[str]:
        """Where the output went and which state store was used (with its traffic)."""
        read = self.usage.get("state_records_read")
        written = self.usage.get("state_records_written")
        counts = f" (records read: {read:g}, written: {written:g})" if read is not None else ""
        where = [("output", self.output), ("state store", self.state and self.state + counts)]
        return [f"{what}: {place}" for what, place in where if place]


def _row(stats: Stats) -> list[str]:
    if not stats.n:
        return ["", "", "", "", "0"]
    figures = (stats.mean, stats.std, stats.min, stats.max)
    return [f"{figure:.4f}" for figure in figures] + [str(stats.n)]
