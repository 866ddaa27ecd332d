"""`reward_model`: a scalar (Bradley-Terry style) reward model as a component, local or
served (the backends are in rm_backends.py), with the two normalisations RL with a
learned reward needs:

- `center: prompt`: each sample's score minus the mean of its group (the prompt's
  rollouts), so the prompt's difficulty, which a reward model also scores, does not move
  the reward; a group of one is 0;
- `normalize: running`: z-scored with the running mean and standard deviation of every
  raw score this reward has seen, kept in the training-state store (counts, sums and sums
  of squares, added atomically, so workers sharing a Redis store share them); this
  batch's scores are counted first, so the first batch is normalised by itself.

For ensembles of reward models (mean, worst case, uncertainty-penalised mean; Coste et
al., "Reward Model Ensembles Help Mitigate Overoptimization", arXiv 2310.02743), put
several `reward_model` components in an `ensemble`.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, model_validator

from rewardsmith.core.component import Component, Params
from rewardsmith.core.config import BuildContext, register
from rewardsmith.core.types import Group, Score, Status
from rewardsmith.judge.rm_backends import (
    Backend,
    RemoteRewardModel,
    RewardModelError,
    local_model,
)
from rewardsmith.state.store import Update

NAMESPACE = "reward_model"


class RewardModelParams(Params):
    model: str | None = Field(None, description="a local model directory (save_pretrained)")
    url: str | None = Field(None, description="a reward-model server")
    protocol: Literal["vllm_classify", "vllm_pooling", "openrlhf"] = "vllm_classify"
    served_model: str = Field("", description="the model name the server expects")
    label: int = Field(0, ge=0)
    batch_size: int = Field(8, ge=1)
    max_length: int | None = Field(None, ge=2)
    device: str = Field("cpu", description="where a local model runs: cpu, cuda:0, ...")
    timeout: float = Field(30.0, gt=0)
    center: Literal["none", "prompt"] = "none"
    normalize: Literal["none", "running"] = "none"

    @model_validator(mode="after")
    def _one_source(self) -> RewardModelParams:
        if (self.model is None) == (self.url is None):
            raise ValueError("model, url: give one (a local model directory or a server)")
        return self


@register("reward_model")
class RewardModel(Component):
    """A learned scalar reward, centred per prompt and normalised as asked."""

    Params = RewardModelParams
    params: RewardModelParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        self._backend: Backend | None = None

    def batch_wide(self) -> bool:
        return self.params.normalize == "running"

    def backend(self) -> Backend:
        p = self.params
        if self._backend is None:
            if p.model is not None:
                path = str(self.ctx.path(p.model))
                self._backend = local_model(path, p.label, p.batch_size, p.max_length, p.device)
            else:
                assert p.url is not None
                self._backend = RemoteRewardModel(
                    p.url, p.protocol, p.served_model, p.label, p.timeout, p.batch_size
                )
        return self._backend

    def warm_up(self) -> None:
        if self.params.model is not None:
            self.backend()

    def score_batch(self, groups: list[Group]) -> list[list[Score]]:
        samples = [sample for group in groups for sample in group.samples]
        try:
            raw = self.backend().scores(
                [s.prompt for s in samples], [s.completion for s in samples]
            )
        except RewardModelError as exc:
            failed = Score.failed(Status.ERROR, self.fallback, str(exc), "reward_model_error")
            return [[_copy(failed) for _ in group.samples] for group in groups]
        values, position = [], 0
        for group in groups:
            row = raw[position : position + len(group)]
            position += len(group)
            mean = sum(row) / len(row)
            values.append([v - mean if self.params.center == "prompt" else v for v in row])
        stats = self._running(raw) if self.params.normalize == "running" else None
        scores, position = [], 0
        for row in values:
            out = []
            for value in row:
                info: dict[str, Any] = {"raw": raw[position]}
                if self.params.center == "prompt":
                    info["centred"] = value
                if stats is not None:
                    mean, std = stats
                    value = (value - (0.0 if self.params.center == "prompt" else mean)) / std
                    info.update(running_mean=mean, running_std=std)
                out.append(Score(value, info=info))
                position += 1
            scores.append(out)
        return scores

    def _running(self, raw: list[float]) -> tuple[float, float]:
        """Count this batch, then the running (mean, std) of every score seen."""
        store = self.ctx.store()
        added = {"n": float(len(raw)), "sum": sum(raw), "sumsq": sum(v * v for v in raw)}
        store.apply([Update(NAMESPACE, self.name, add=added)])
        record = store.read(NAMESPACE, [self.name]).get(self.name, added)
        n = record.get("n", 0.0) or 1.0
        mean = record.get("sum", 0.0) / n
        variance = max(record.get("sumsq", 0.0) / n - mean * mean, 0.0)
        return mean, math.sqrt(variance) or 1.0


def _copy(score: Score) -> Score:
    return Score(score.value, score.status, dict(score.components), dict(score.info))
