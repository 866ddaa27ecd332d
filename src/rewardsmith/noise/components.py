"""Reward components for noisy 0/1 verifiers: `noise_corrected` and `appeal`.

`noise_corrected` wraps a verifier (`of`) and either debiases its value (`method:
backward`, the value is (R_obs - rho0) / max(1 - rho0 - rho1, epsilon)) or keeps its
value and puts the forward-correction weight in `info.weight` (`method: forward`; see
`correction` for what a trainer does with it). The rates come from the parameters
`false_positive` / `false_negative`, or, with `from_state: true`, rho1 is read from the
appeal counts stored under `key` (rho0 still comes from `false_positive`;
`false_negative` is used until an appeal has been re-checked).

`appeal` runs a cheap verifier (`first`) on the batch, re-checks a deterministic share
(`fraction`) of its rejections with a second verifier (`second`, run on a sub-batch of
just those samples) and takes the second's value when it overturns. The counts
`rechecked` and `overturned` are added to the training-state store (namespace
`noise.appeals`, record `key`), so workers sharing a store pool them; the running rho1
estimate overturned / rechecked and its Wilson interval go into `info`.

Both keep their children's values in `Score.components` and propagate the worst status
of the children. Values of 0.5 and above count as "accepted" (1), below as rejected (0).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import Field, model_validator

from rewardsmith.core.component import Component, Params
from rewardsmith.core.config import BuildContext, register
from rewardsmith.core.types import Group, Sample, Score, Status
from rewardsmith.noise.correction import backward_correct, forward_weight
from rewardsmith.noise.rates import NoiseRates, Proportion, estimate_from_appeals
from rewardsmith.state import Update

APPEALS_NAMESPACE = "noise.appeals"
ACCEPT = 0.5  # values at or above count as an accepted (1) verdict


def read_appeals(store: Any, key: str) -> tuple[int, int]:
    """(overturned, rechecked) stored under `key` (zeros when never written)."""
    record = store.read(APPEALS_NAMESPACE, [key]).get(key, {})
    return int(record.get("overturned", 0.0)), int(record.get("rechecked", 0.0))


class NoiseCorrectedParams(Params):
    of: Any
    method: Literal["backward", "forward"] = "backward"
    false_positive: float = Field(default=0.0, ge=0.0, lt=1.0)
    false_negative: float = Field(default=0.0, ge=0.0, lt=1.0)
    from_state: bool = False
    key: str = Field(default="default", min_length=1)
    epsilon: float = Field(default=0.05, gt=0.0, le=1.0)

    @model_validator(mode="after")
    def _usable(self) -> NoiseCorrectedParams:
        NoiseRates(self.false_positive, self.false_negative)  # ValueError names the field
        return self


@register("noise_corrected")
class NoiseCorrected(Component):
    """A 0/1 verifier's value corrected for known (or estimated) noise rates."""

    Params = NoiseCorrectedParams
    params: NoiseCorrectedParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        self.of = ctx.build(self.params.of, f"{self.path}.of")

    def children(self) -> list[Component]:
        return [self.of]

    def batch_wide(self) -> bool:
        # rates from the store move with the appeals of the same batch
        return self.params.from_state or super().batch_wide()

    def current_rates(self) -> tuple[NoiseRates, dict[str, Any]]:
        """The rates to use now, and where they came from (for `info`)."""
        p = self.params
        if not p.from_state:
            return NoiseRates(p.false_positive, p.false_negative), {"source": "params"}
        overturned, rechecked = read_appeals(self.ctx.store(), p.key)
        if rechecked == 0:
            return NoiseRates(p.false_positive, p.false_negative), {"source": "params"}
        estimate = estimate_from_appeals(overturned, rechecked).estimate
        # keep rho0 + rho1 < 1; the epsilon clamp of the correction takes over from there
        rho1 = min(estimate, max(0.0, 1.0 - p.false_positive - p.epsilon))
        source = {"source": "state", "rechecked": rechecked, "overturned": overturned}
        return NoiseRates(p.false_positive, rho1), source

    def score_batch(self, groups: list[Group]) -> list[list[Score]]:
        observed = self.of.run(groups)
        rates, source = self.current_rates()
        return [[self._score(child, rates, source) for child in row] for row in observed]

    def _score(self, child: Score, rates: NoiseRates, source: dict[str, Any]) -> Score:
        p = self.params
        info: dict[str, Any] = {
            "method": p.method,
            "false_positive": rates.false_positive,
            "false_negative": rates.false_negative,
            **source,
        }
        if not child.ok:
            score = Score(self.fallback, info={**info, "error": "child verifier failed"})
        elif p.method == "backward":
            score = Score(backward_correct(child.value, rates, p.epsilon), info=info)
        elif child.value not in (0.0, 1.0):
            reason = f"{self.of.name}: forward correction needs a 0/1 value, got {child.value}"
            score = Score.failed(Status.INVALID, self.fallback, reason)
        else:
            info["weight"] = forward_weight(child.value, rates.false_negative)
            score = Score(child.value, info=info)
        score.info = {self.name: score.info}
        score.absorb(child)
        return score


class AppealParams(Params):
    first: Any
    second: Any
    fraction: float = Field(default=0.2, ge=0.0, le=1.0)
    key: str = Field(default="default", min_length=1)
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)


def appeal_draw(sample: Sample) -> float:
    """A number in [0, 1) fixed by the sample's completion and reference."""
    reference = json.dumps(sample.reference, sort_keys=True, default=repr)
    digest = hashlib.sha256(f"{sample.completion}\x00{reference}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


@register("appeal")
class Appeal(Component):
    """A cheap verifier whose rejections are sometimes re-checked by a second one."""

    Params = AppealParams
    params: AppealParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        self.first = ctx.build(self.params.first, f"{self.path}.first")
        self.second = ctx.build(self.params.second, f"{self.path}.second")

    def children(self) -> list[Component]:
        return [self.first, self.second]

    def batch_wide(self) -> bool:
        return True  # the running rate estimate in `info` pools the whole batch's appeals

    def selected(self, sample: Sample, verdict: Score) -> bool:
        """Whether this sample's verdict is a rejection chosen for re-checking."""
        return verdict.ok and verdict.value < ACCEPT and appeal_draw(sample) < self.params.fraction

    def score_batch(self, groups: list[Group]) -> list[list[Score]]:
        firsts = self.first.run(groups)
        picked: list[tuple[int, int]] = []
        sub_groups: list[Group] = []
        for g, (group, row) in enumerate(zip(groups, firsts, strict=True)):
            chosen = [i for i, s in enumerate(group.samples) if self.selected(s, row[i])]
            if chosen:
                picked += [(g, i) for i in chosen]
                sub_groups.append(Group(group.group_id, [group.samples[i] for i in chosen]))
        seconds = [s for row in self.second.run(sub_groups) for s in row] if sub_groups else []
        recheck = dict(zip(picked, seconds, strict=True))
        counted = [s for s in seconds if s.ok]
        overturned = sum(1 for s in counted if s.value >= ACCEPT)
        rate = self._record(len(counted), overturned)
        return [
            [self._score(first, recheck.get((g, i)), rate) for i, first in enumerate(row)]
            for g, row in enumerate(firsts)
        ]

    def _record(self, rechecked: int, overturned: int) -> Proportion:
        """Add this batch's counts to the store; the running estimate of rho1."""
        store = self.ctx.store()
        if rechecked:
            added = {"rechecked": float(rechecked), "overturned": float(overturned)}
            store.apply([Update(APPEALS_NAMESPACE, self.params.key, add=added)])
        total_overturned, total_rechecked = read_appeals(store, self.params.key)
        return estimate_from_appeals(total_overturned, total_rechecked, self.params.confidence)

    def _score(self, first: Score, second: Score | None, rate: Proportion) -> Score:
        info: dict[str, Any] = {
            "rechecked": second is not None and second.ok,
            "overturned": False,
            "false_negative": rate.estimate,
            "false_negative_interval": [rate.interval.low, rate.interval.high],
            "rechecked_total": rate.trials,
            "overturned_total": rate.count,
        }
        value = first.value
        if second is not None and second.ok and second.value >= ACCEPT:
            value = second.value
            info["overturned"] = True
        score = Score(value, info={self.name: info})
        score.absorb(first)
        if second is not None:
            score.absorb(second)
        return score
