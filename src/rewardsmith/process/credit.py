"""Credit assignment: from one sample's per-step rewards to per-step credit and a return.

Each aggregator reads the rewards of ONE sample's steps, in order, and returns a `Credit`:
the reward credited to each step (what goes into `Score.dense`) and the sample's return
from its first step with gamma = 1 (`Credit.value`).

- `plain_sum`: every step keeps its reward. Repeating a step the reward model likes
  raises the return: the hack that `min_form`, `clip` and `delta` are built to stop.
- `min_form` (PURE, arXiv 2504.15275): the return from step t is the smallest reward from
  t on, so a sample is worth its worst step. The soft form weights each step by
  softmax(-r / T) over the sample's steps and credits w_t * r_t; it tends to the minimum
  as T -> 0.
- `clip` (arXiv 2410.15115): r_k' = min(r_k - eta, 0); no step adds to the return.
- `delta` (same paper): r_k' = r_k - r_{k+1}; the return from step t telescopes to r_t.
  `clip_delta` applies `clip`, then `delta`.
- `progress` (Rewarding Progress / PAV, arXiv 2410.08146): a step is credited with the
  change it makes to a value estimate (a prover's chance of success); the outcome is added.
- `gated` (Gated Reward Accumulation, arXiv 2508.10548): step rewards count only when the
  outcome reaches a threshold.
- `atomic_curriculum` (Atom-Searcher, arXiv 2508.12800): alpha * mean step reward +
  (1 - alpha) * outcome, with alpha decaying linearly over training.

Token-level helpers: `discounted_returns`; `implicit_prm_token_rewards`, the implicit PRM's
beta-scaled log-ratio (arXiv 2412.01981, 2502.01456); `prime_advantages`, PRIME's
leave-one-out advantages for one group of samples (arXiv 2502.01456).

Whenever a sample has at least one step, sum(step_rewards) == value up to float rounding.
With no steps there is nowhere to put credit: step_rewards is empty and value is the part
of the return that needs no step (0.0, or the outcome term of `progress`, `gated` and
`atomic_curriculum`). Every function depends on its own arguments only, so it gives the
same answer for a sample whatever else is in the batch. Inputs that are not finite numbers
raise ValueError naming the argument.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate, pairwise


@dataclass(frozen=True)
class Credit:
    """Per-step credit of one sample and its scalar return (from the first step, gamma = 1)."""

    step_rewards: list[float]
    value: float


def plain_sum(rewards: Sequence[float]) -> Credit:
    """Each step keeps its reward; the return is their sum (the hackable baseline)."""
    steps = _finite_list(rewards, "rewards")
    return Credit(steps, math.fsum(steps))


def min_form(rewards: Sequence[float], temperature: float | None = None) -> Credit:
    """PURE min-form credit assignment (Cheng et al., arXiv 2504.15275).

    Strict form (`temperature` None): the return from step t is G_t = min_{s>=t} r_s, so
    step t is credited G_t - G_{t+1} (G = 0 past the last step) and the value is the
    smallest reward of the sample.

    Soft form (`temperature` T > 0; PURE uses T = 0.1, so pass `temperature=0.1`): weights
    w_t = softmax_t(-r_t / T), normalised over this sample's steps; step t is credited
    w_t * r_t and the value is their sum, a weighted mean that lies between the minimum
    and the plain mean. As T -> 0 the value, and the return from every step up to the
    minimum, tend to the minimum; returns from later steps tend to 0, not to the minimum
    of their suffix as in the strict form.
    """
    values = _finite_list(rewards, "rewards")
    if not values:
        return Credit([], 0.0)
    if temperature is None:
        returns = list(accumulate(reversed(values), min))[::-1]
        steps = [g - after for g, after in pairwise([*returns, 0.0])]
        return Credit(steps, returns[0])
    weights = _softmin_weights(values, _positive(temperature, "temperature"))
    steps = [w * r for w, r in zip(weights, values, strict=True)]
    return Credit(steps, math.fsum(steps))


def clip(rewards: Sequence[float], eta: float = 0.0) -> Credit:
    """Clip (Gao et al., "On Designing Effective RL Reward at Training Time for LLM
    Reasoning", arXiv 2410.15115): r_k' = min(r_k - eta, 0).

    No step has positive credit, so adding steps can never raise the return.
    """
    threshold = _finite(eta, "eta")
    steps = [min(r - threshold, 0.0) for r in _finite_list(rewards, "rewards")]
    return Credit(steps, math.fsum(steps))


def delta(rewards: Sequence[float]) -> Credit:
    """Delta (arXiv 2410.15115): r_k' = r_k - r_{k+1} for k < K - 1; the last step keeps r_{K-1}.

    The return from step t telescopes to r_t, so the value is the first step's reward
    whatever follows it. The last step's treatment follows REWARDS.md's reading and has
    not been checked against the paper.
    """
    values = _finite_list(rewards, "rewards")
    if not values:
        return Credit([], 0.0)
    steps = [r - after for r, after in pairwise(values)]
    return Credit([*steps, values[-1]], values[0])


def clip_delta(rewards: Sequence[float], eta: float = 0.0) -> Credit:
    """Clip-Delta (arXiv 2410.15115): `clip` with `eta`, then `delta`.

    The value is min(r_0 - eta, 0).
    """
    return delta(clip(rewards, eta=eta).step_rewards)


def progress(
    values: Sequence[float], outcome: float, alpha: float = 1.0, initial: float = 0.0
) -> Credit:
    """Rewarding Progress / PAV (Setlur et al., arXiv 2410.08146).

    `values` are value estimates V_1..V_K after each step (e.g. a prover's probability of
    reaching a correct answer from the prefix). Step k is credited alpha * (V_k - V_{k-1})
    with V_0 = `initial`, the estimate before the first step; `outcome` is added to the
    last step. The value is outcome + alpha * (V_K - initial).

    `initial` defaults to 0.0, so the first step is credited its whole estimate. Callers
    who know the prompt's own value should pass it; otherwise the error is the same
    constant for every sample of a prompt, which group-relative advantages remove.
    """
    estimates = _finite_list(values, "values")
    base = _finite(initial, "initial")
    scale = _finite(alpha, "alpha")
    final = _finite(outcome, "outcome")
    gains = [after - before for before, after in pairwise([base, *estimates])]
    steps = _add_to_last([scale * g for g in gains], final)
    net = estimates[-1] - base if estimates else 0.0
    return Credit(steps, final + scale * net)


def gated(rewards: Sequence[float], outcome: float, threshold: float = 1.0) -> Credit:
    """Gated Reward Accumulation (arXiv 2508.10548): steps count only if outcome >= threshold.

    Step k is credited r_k when the gate is open and 0 otherwise; `outcome` is added to the
    last step. The value is outcome + (sum of rewards if the gate is open, else 0).
    """
    values = _finite_list(rewards, "rewards")
    final = _finite(outcome, "outcome")
    steps = values if final >= _finite(threshold, "threshold") else [0.0] * len(values)
    return Credit(_add_to_last(steps, final), final + math.fsum(steps))


def atomic_curriculum(
    rewards: Sequence[float],
    outcome: float,
    step: int,
    alpha_start: float = 0.5,
    alpha_end: float = 0.0,
    decay_steps: int = 1000,
) -> Credit:
    """Atom-Searcher (Deng et al., arXiv 2508.12800): alpha * R_ATR + (1 - alpha) * outcome.

    R_ATR is the mean step reward. alpha moves linearly from `alpha_start` at training
    step 0 to `alpha_end` at `decay_steps` and stays there; this schedule has not been
    checked against the paper. Step k is credited alpha * r_k / K, and (1 - alpha) *
    outcome is added to the last step. With no steps R_ATR is taken as 0.
    """
    values = _finite_list(rewards, "rewards")
    final = _finite(outcome, "outcome")
    alpha = _curriculum_alpha(step, alpha_start, alpha_end, decay_steps)
    count = len(values)
    steps = _add_to_last([alpha * r / count for r in values], (1 - alpha) * final)
    mean = math.fsum(values) / count if values else 0.0
    return Credit(steps, alpha * mean + (1 - alpha) * final)


def discounted_returns(step_rewards: Sequence[float], gamma: float = 1.0) -> list[float]:
    """Returns G_t = sum_{s>=t} gamma^(s-t) r_s, for gamma in [0, 1]."""
    discount = _finite(gamma, "gamma")
    if not 0.0 <= discount <= 1.0:
        raise ValueError(f"gamma: {gamma!r} is not in [0, 1]")
    values = _finite_list(step_rewards, "step_rewards")
    return list(accumulate(reversed(values), lambda later, r: r + discount * later))[::-1]


def implicit_prm_token_rewards(
    logprobs: Sequence[float], ref_logprobs: Sequence[float], beta: float = 0.05
) -> list[float]:
    """Implicit PRM token rewards, beta * (log pi(y_t) - log pi_ref(y_t)).

    From Implicit PRM (Yuan et al., arXiv 2412.01981), as used by PRIME (Cui et al., arXiv
    2502.01456). A step's reward is the sum of its tokens' rewards.
    """
    if len(logprobs) != len(ref_logprobs):
        raise ValueError(
            f"logprobs, ref_logprobs: lengths {len(logprobs)} and {len(ref_logprobs)} differ"
        )
    scale = _finite(beta, "beta")
    policy = _finite_list(logprobs, "logprobs")
    reference = _finite_list(ref_logprobs, "ref_logprobs")
    return [scale * (p - q) for p, q in zip(policy, reference, strict=True)]


def prime_advantages(
    token_rewards_per_sample: Sequence[Sequence[float]],
    outcomes: Sequence[float],
    gamma: float = 1.0,
) -> list[list[float]]:
    """PRIME advantages for one group of K samples of a prompt (Cui et al., arXiv 2502.01456).

    Token t of sample i gets sum_{s>=t} gamma^(s-t) (r_s - b_i), with b_i the mean over the
    other samples of their mean token reward, plus r_o(y_i) - the mean outcome of the other
    samples. With K == 1 there are no other samples and both baselines are 0. Every sample
    needs at least one token.
    """
    if len(token_rewards_per_sample) != len(outcomes):
        raise ValueError(
            f"token_rewards_per_sample, outcomes: {len(token_rewards_per_sample)} samples "
            f"and {len(outcomes)} outcomes"
        )
    samples = [
        _finite_list(tokens, f"token_rewards_per_sample[{i}]")
        for i, tokens in enumerate(token_rewards_per_sample)
    ]
    for i, tokens in enumerate(samples):
        if not tokens:
            raise ValueError(f"token_rewards_per_sample[{i}]: empty; expected at least one token")
    rewards = _finite_list(outcomes, "outcomes")
    process_baselines = _leave_one_out_means([math.fsum(s) / len(s) for s in samples])
    outcome_terms = [r - b for r, b in zip(rewards, _leave_one_out_means(rewards), strict=True)]
    return [
        [g + term for g in discounted_returns([r - base for r in tokens], gamma)]
        for tokens, base, term in zip(samples, process_baselines, outcome_terms, strict=True)
    ]


def _curriculum_alpha(step: int, start: float, end: float, decay_steps: int) -> float:
    """alpha at training `step`: linear from `start` to `end` over `decay_steps`, then `end`."""
    for value, name in ((start, "alpha_start"), (end, "alpha_end")):
        if not 0.0 <= _finite(value, name) <= 1.0:
            raise ValueError(f"{name}: {value!r} is not in [0, 1]")
    if step < 0:
        raise ValueError(f"step: {step!r} is negative; expected a training step >= 0")
    if decay_steps < 1:
        raise ValueError(f"decay_steps: {decay_steps!r} is not >= 1")
    return start + (end - start) * min(step / decay_steps, 1.0)


def _softmin_weights(values: list[float], temperature: float) -> list[float]:
    """softmax(-v / temperature), shifted by the minimum so no exponent is positive."""
    low = min(values)
    exps = [math.exp((low - v) / temperature) for v in values]
    total = math.fsum(exps)
    return [e / total for e in exps]


def _leave_one_out_means(values: list[float]) -> list[float]:
    """For each value, the mean of the others (0.0 when there are none)."""
    if len(values) < 2:
        return [0.0] * len(values)
    total = math.fsum(values)
    return [(total - v) / (len(values) - 1) for v in values]


def _add_to_last(steps: list[float], amount: float) -> list[float]:
    """`steps` with `amount` added to the last one (unchanged when there is none)."""
    return [*steps[:-1], steps[-1] + amount] if steps else []


def _finite_list(values: Sequence[float], name: str) -> list[float]:
    out = [float(v) for v in values]
    for i, v in enumerate(out):
        if not math.isfinite(v):
            raise ValueError(f"{name}[{i}]: {v!r} is not a finite number")
    return out


def _finite(value: float, name: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{name}: {value!r} is not a finite number")
    return float(value)


def _positive(value: float, name: str) -> float:
    if not _finite(value, name) > 0:
        raise ValueError(f"{name}: {value!r} is not > 0")
    return float(value)
