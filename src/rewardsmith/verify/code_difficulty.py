"""Difficulty-weighted partial credit for unit tests (VeRPO, arXiv 2601.03525).

A program that passes some tests of a suite gets credit for them, weighted by how hard
each test is: test j's pass rate rho_j is estimated from the rollouts that ran it, and
its weight is w_j = (1 - rho_j) / sum_k (1 - rho_k), so passing a test that most
rollouts fail counts for more than passing one that almost all pass (VeRPO's answer to
the cardinality bias of plain pass fractions). The dense part sum_j w_j pass_j is tied
to the end-to-end outcome: a program that passes every test gets 1, any other gets
`scale * sum_j w_j pass_j` with `scale < 1`, so partial credit never reaches a full pass.

rho_j combines the current batch with history kept in the training-state store: the
stored counts form a Beta prior (smoothed by one pass and one failure) whose weight is
capped at `prior_strength` rollouts, so the estimate follows the current policy while
small groups stay stable. Counts are only ever added to the store (atomic on every
backend), keyed by a hash of the test suite, so the same problem seen at a later step,
or by another worker, shares its statistics.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rewardsmith.state import StateStore, Update

NAMESPACE = "code.test_pass"


def suite_key(reference: Mapping[str, Any]) -> str:
    """A stable name for a test suite: the hash of its canonical JSON."""
    canonical = json.dumps(reference, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class SuiteRun:
    """Which tests of one suite each rollout passed (a missing test counts as failed)."""

    key: str
    total: int
    passed: list[list[bool]]

    def counts(self) -> tuple[list[int], list[int]]:
        """Per test: how many rollouts passed it, and how many ran it."""
        passes = [
            sum(row[j] if j < len(row) else False for row in self.passed) for j in range(self.total)
        ]
        return passes, [len(self.passed)] * self.total


def pass_rates(
    passes: Sequence[int],
    trials: Sequence[int],
    history: Mapping[str, float],
    prior_strength: float,
) -> list[float]:
    """rho_j from this batch's counts and the stored history (a capped Beta prior)."""
    rates = []
    for j, (passed, ran) in enumerate(zip(passes, trials, strict=True)):
        seen, won = history.get(f"n{j}", 0.0), history.get(f"p{j}", 0.0)
        prior_mean = (won + 1.0) / (seen + 2.0)
        weight = min(seen, prior_strength) + 2.0
        rates.append((passed + weight * prior_mean) / (ran + weight))
    return rates


def difficulty_weights(rates: Sequence[float]) -> list[float]:
    """w_j proportional to 1 - rho_j, summing to 1 (rates are in (0, 1), never 1)."""
    hardness = [1.0 - rate for rate in rates]
    total = sum(hardness)
    return [h / total for h in hardness]


def weighted_reward(
    passed: Sequence[bool], weights: Sequence[float], scale: float, complete: bool | None = None
) -> float:
    """1 when every test passes, else `scale` times the weight of the tests passed.

    `complete` says whether the program passed every test of its suite, when the weights
    cover only some of them (by default: whether `passed` covers and passes them all)."""
    if complete is None:
        complete = len(passed) == len(weights) and all(passed)
    if complete:
        return 1.0
    return scale * sum(w for w, ok in zip(weights, passed, strict=False) if ok)


def suite_weights(
    runs: Sequence[SuiteRun], store: StateStore, prior_strength: float
) -> dict[str, list[float]]:
    """Weights per suite from this batch and the store; this batch's counts are then stored."""
    history = store.read(NAMESPACE, [run.key for run in runs])
    weights, updates = {}, []
    for run in runs:
        passes, trials = run.counts()
        rates = pass_rates(passes, trials, history.get(run.key, {}), prior_strength)
        weights[run.key] = difficulty_weights(rates)
        added = {f"p{j}": float(p) for j, p in enumerate(passes)}
        added |= {f"n{j}": float(n) for j, n in enumerate(trials)}
        updates.append(Update(NAMESPACE, run.key, add=added))
    store.apply(updates)
    return weights
