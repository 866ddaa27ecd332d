"""The batch summary: counts, statuses, mean value of every component, throughput, and
what the reward paid for (judge calls, cache hits, tokens)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from rich.table import Table

from rewardsmith.core.types import Score


@dataclass
class BatchSummary:
    """What a scored batch looked like, per component and per status."""

    count: int = 0
    invalid_lines: int = 0
    seconds: float = 0.0
    statuses: Counter[str] = field(default_factory=Counter)
    totals: dict[str, float] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    reward_total: float = 0.0
    usage: dict[str, float] = field(default_factory=dict)

    def add(self, scores: list[Score]) -> None:
        for score in scores:
            self.count += 1
            self.statuses[str(score.status)] += 1
            self.reward_total += score.value
            for name, value in score.components.items():
                self.totals[name] = self.totals.get(name, 0.0) + value
                self.counts[name] = self.counts.get(name, 0) + 1

    def means(self) -> dict[str, float]:
        return {name: self.totals[name] / self.counts[name] for name in self.totals}

    @property
    def mean_reward(self) -> float:
        return self.reward_total / self.count if self.count else 0.0

    @property
    def throughput(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "invalid_lines": self.invalid_lines,
            "seconds": round(self.seconds, 3),
            "samples_per_second": round(self.throughput, 1),
            "mean_reward": self.mean_reward,
            "statuses": dict(self.statuses),
            "components": self.means(),
            "usage": self.usage,
        }

    def table(self, title: str = "rewardsmith summary") -> Table:
        table = Table(title=title)
        table.add_column("component")
        table.add_column("mean", justify="right")
        table.add_column("samples", justify="right")
        for name, mean in self.means().items():
            table.add_row(name, f"{mean:.4f}", str(self.counts[name]))
        table.add_section()
        table.add_row("reward", f"{self.mean_reward:.4f}", str(self.count))
        table.add_section()
        for status, n in sorted(self.statuses.items()):
            table.add_row(f"status: {status}", "", str(n))
        if self.invalid_lines:
            table.add_row("invalid input lines", "", str(self.invalid_lines))
        if self.usage:
            table.add_section()
            for name, amount in self.usage.items():
                if not amount and not name.endswith("_calls"):
                    continue  # no retries, failures, ... : nothing to report
                shown = f"{amount:.2f}" if isinstance(amount, float) else str(amount)
                table.add_row(name.replace("_", " "), shown, "")
        table.add_section()
        table.add_row("seconds", f"{self.seconds:.2f}", "")
        table.add_row("samples / second", f"{self.throughput:.1f}", "")
        return table
