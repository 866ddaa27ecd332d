"""From criterion-level pairwise preferences to group rewards for GRPO: pure math, no I/O.

A pairwise rubric judge (Open Rubric System, OpenRS, arXiv 2602.14069) compares two
responses A and B criterion by criterion; each `CriterionJudgement` says which side a
criterion prefers and by how much. Then:

1. `pair_score`: one signed score per ordered comparison (positive favours A). As in OpenRS,
   a fatal criterion that prefers a side decides alone (the sum of the fatal criteria's
   signed margins); otherwise the score is the mean of the non-fatal signed margins,
   weighted by criterion type (core > important > highlight).
2. `combine_orders`: the two presentation orders (i first, then j first) become one
   outcome for i (win 1.0, tie 0.5, loss 0.0) and a flag for position bias. Judging both
   orders and combining them is the standard remedy for position bias in LLM judges
   (Zheng et al., "Judging LLM-as-a-Judge", arXiv 2306.05685).
3. `pair_schedule`: which pairs of a group to compare (all of them, or a cyclic
   round-robin in which every response is compared equally often).
4. Group rewards from the outcomes: `win_rates` (wins plus half the ties, per comparison),
   or a Bradley-Terry fit (`bradley_terry`, by the MM algorithm of Hunter, "MM algorithms
   for generalized Bradley-Terry models", Ann. Statist. 32(1), 2004) turned into rewards in
   [0, 1] by `bt_rewards`. Bradley-Terry uses the strength of the opponents, which matters
   when the schedule does not compare every pair.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

CRITERION_TYPES = ("fatal", "core", "important", "highlight")
DEFAULT_TYPE_WEIGHTS: dict[str, float] = {"core": 5.0, "important": 2.0, "highlight": 1.0}
PREFERENCES = ("A", "B", "same")


@dataclass(frozen=True)
class CriterionJudgement:
    """One criterion's verdict on a pair: the preferred side and by how much (margin >= 0)."""

    name: str
    type: str
    preferred: str
    margin: int

    def __post_init__(self) -> None:
        if self.type not in CRITERION_TYPES:
            raise ValueError(
                f"type: unknown {self.type!r} for criterion {self.name!r}; "
                f"allowed: {', '.join(CRITERION_TYPES)}"
            )
        if self.preferred not in PREFERENCES:
            raise ValueError(
                f"preferred: {self.preferred!r} for criterion {self.name!r}; "
                f"allowed: {', '.join(PREFERENCES)}"
            )
        if self.margin < 0:
            raise ValueError(f"margin: {self.margin!r} for criterion {self.name!r}; expected >= 0")

    def signed(self) -> float:
        """+margin if A is preferred, -margin if B is, 0.0 if the sides are the same."""
        if self.preferred == "A":
            return float(self.margin)
        if self.preferred == "B":
            return -float(self.margin)
        return 0.0


def pair_score(
    criteria: Sequence[CriterionJudgement], weights: Mapping[str, float] | None = None
) -> float:
    """Signed score of one comparison; positive favours A.

    If a fatal criterion prefers a side with a nonzero margin, the sum of the fatal
    criteria's signed margins decides alone. Otherwise: the mean of the non-fatal signed
    margins weighted by type (`weights`, default `DEFAULT_TYPE_WEIGHTS`; criteria judged
    'same' count in the denominator). No criteria, or all weights zero, give 0.0. Raises
    ValueError for a negative weight or a non-fatal type with no weight.
    """
    fatal = [c.signed() for c in criteria if c.type == "fatal"]
    if any(fatal):
        return float(sum(fatal))
    weights = DEFAULT_TYPE_WEIGHTS if weights is None else weights
    total = weighted = 0.0
    for criterion in criteria:
        if criterion.type == "fatal":
            continue
        if criterion.type not in weights:
            raise ValueError(f"weights: no weight for criterion type {criterion.type!r}")
        weight = float(weights[criterion.type])
        if not weight >= 0:
            raise ValueError(f"weights[{criterion.type!r}]: {weight!r}; expected >= 0")
        total += weight
        weighted += weight * criterion.signed()
    return weighted / total if total > 0 else 0.0


def flip(score: float) -> float:
    """The same judgement seen from the other response: the negated score (0.0 stays 0.0)."""
    return 0.0 - score


class OrderRule(StrEnum):
    """How the two presentation orders of a pair combine into one outcome."""

    AGREE = "agree"  # a win needs both orders to agree; anything else is a tie
    MEAN = "mean"  # the sign of the mean of the two scores


@dataclass(frozen=True)
class PairOutcome:
    """The result of comparing responses i and j of a group, for i (1 win, 0.5 tie, 0 loss).

    `consistent` is False when the two presentation orders disagreed (position bias);
    True when only one order was judged.
    """

    i: int
    j: int
    outcome: float
    consistent: bool = True

    def __post_init__(self) -> None:
        if self.i == self.j or min(self.i, self.j) < 0:
            raise ValueError(f"i, j: ({self.i}, {self.j}); expected two distinct indices >= 0")
        if not 0.0 <= self.outcome <= 1.0:
            raise ValueError(f"outcome: {self.outcome!r}; expected a number in [0, 1]")


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


def _outcome(sign: int) -> float:
    return (sign + 1) / 2


def combine_orders(
    ab: float, ba: float | None, rule: OrderRule = OrderRule.AGREE
) -> tuple[float, bool]:
    """(outcome for i, consistent) from the scores of the two presentation orders.

    `ab` is the pair_score with i shown first (positive favours i); `ba` the pair_score
    with j shown first, already flipped to i's point of view, or None if only one order
    was judged. AGREE: a win (loss) only if both scores are > 0 (< 0), otherwise a tie.
    MEAN: the sign of (ab + ba) / 2. consistent: both scores have the same sign (zero
    counts as a sign). One order: the sign of `ab`, consistent. Raises ValueError for NaN.
    """
    if math.isnan(ab) or (ba is not None and math.isnan(ba)):
        raise ValueError(f"ab, ba: ({ab!r}, {ba!r}); expected numbers, not NaN")
    if ba is None:
        return _outcome(_sign(ab)), True
    sign_ab, sign_ba = _sign(ab), _sign(ba)
    consistent = sign_ab == sign_ba
    if rule is OrderRule.MEAN:
        # the sign of the sum is that of the mean, without halving tiny scores to 0
        return _outcome(_sign(ab + ba)), consistent
    return _outcome(sign_ab if consistent else 0), consistent


class Schedule(StrEnum):
    """Which pairs of a group are compared."""

    ALL = "all"
    CYCLIC = "cyclic"


def pair_schedule(
    n: int, schedule: Schedule = Schedule.ALL, neighbours: int = 1
) -> list[tuple[int, int]]:
    """Sorted pairs (i, j), i < j, of a group of n responses to compare.

    ALL: every pair. CYCLIC: each response against the next `neighbours` ones around the
    circle 0..n-1, without duplicates; each response is in 2 * neighbours pairs when
    2 * neighbours < n, and neighbours >= (n - 1) / 2 gives every pair. n < 2 gives [].
    Raises ValueError when neighbours < 1.
    """
    if neighbours < 1:
        raise ValueError(f"neighbours: {neighbours!r}; expected an integer >= 1")
    if schedule is Schedule.ALL:
        return [(i, j) for i in range(n) for j in range(i + 1, n)]
    # circular distances beyond n // 2 repeat shorter ones (distance d is distance n - d)
    pairs = {
        (min(i, (i + d) % n), max(i, (i + d) % n))
        for i in range(n)
        for d in range(1, min(neighbours, n // 2) + 1)
    }
    return sorted(pairs)


def _check_indices(n: int, outcomes: Sequence[PairOutcome]) -> None:
    for k, o in enumerate(outcomes):
        if max(o.i, o.j) >= n:
            raise ValueError(f"outcomes[{k}]: indices ({o.i}, {o.j}) out of range for n={n}")


def win_rates(n: int, outcomes: Sequence[PairOutcome]) -> list[float | None]:
    """Per response: (wins + 0.5 * ties) / comparisons, from i's outcome and j's (1 - outcome).

    None for a response in no comparison. Raises ValueError for an index >= n.
    """
    _check_indices(n, outcomes)
    points = [0.0] * n
    games = [0] * n
    for o in outcomes:
        points[o.i] += o.outcome
        points[o.j] += 1.0 - o.outcome
        games[o.i] += 1
        games[o.j] += 1
    return [p / g if g else None for p, g in zip(points, games, strict=True)]


def bradley_terry(
    n: int,
    outcomes: Sequence[PairOutcome],
    prior: float = 1.0,
    max_iter: int = 1000,
    tol: float = 1e-10,
) -> np.ndarray:
    """Bradley-Terry log-strengths (mean zero) of n responses, P(i beats j) = s_i / (s_i + s_j).

    Fitted by Hunter's (2004) MM iteration; an outcome counts as `outcome` wins for i and
    1 - outcome for j, so a tie is half a win each. Each response also plays `prior`
    virtual games, half of them won, against a fixed opponent of strength 1 (log-strength
    0), which keeps the fit finite when a response wins or loses everything; a response
    with no real comparisons gets log-strength 0 before centring. Iterates until no
    log-strength moves by more than `tol`, or `max_iter` times; MM converges linearly, so
    with a small prior (say 0.1) and a nearly perfect order, 1000 iterations stop short of
    the optimum. Raises ValueError when prior is not a finite number > 0, or for an index
    >= n.
    """
    if not (math.isfinite(prior) and prior > 0):
        raise ValueError(f"prior: {prior!r}; expected a finite number > 0")
    _check_indices(n, outcomes)
    wins = np.full(n, prior / 2)
    games = np.zeros((n, n))
    for o in outcomes:
        wins[o.i] += o.outcome
        wins[o.j] += 1.0 - o.outcome
        games[o.i, o.j] += 1.0
        games[o.j, o.i] += 1.0
    strengths = np.ones(n)
    for _ in range(max_iter):
        pair_sums = strengths[:, None] + strengths[None, :]
        updated = wins / ((games / pair_sums).sum(axis=1) + prior / (strengths + 1.0))
        change = np.max(np.abs(np.log(updated) - np.log(strengths)), initial=0.0)
        strengths = updated
        if change <= tol:
            break
    log_strengths = np.log(strengths)
    return log_strengths - log_strengths.mean() if n else log_strengths


def bt_rewards(log_strengths: np.ndarray) -> list[float]:
    """Rewards in [0, 1]: each response's mean probability, under Bradley-Terry, of beating
    each other member of the group, mean over j != i of sigmoid(theta_i - theta_j).

    One response gets [0.5]; an empty group gets [].
    """
    theta = np.asarray(log_strengths, dtype=np.float64)
    n = theta.size
    if n == 1:
        return [0.5]
    # sigmoid(x) = (1 + tanh(x / 2)) / 2, without overflow; the diagonal adds exactly 0.5
    p = 0.5 * (1.0 + np.tanh((theta[:, None] - theta[None, :]) / 2))
    return ((p.sum(axis=1) - 0.5) / (n - 1)).tolist()
