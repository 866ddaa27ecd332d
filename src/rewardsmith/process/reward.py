"""`process`: dense rewards from step scores, with credit assignment that resists hacking.

A sample's completion is cut into steps (`steps.py`); each step gets a score from a
source; a credit-assignment rule (`credit.py`) turns the step scores, and the outcome
reward when the rule needs one, into the reward credited to each step (`Score.dense`,
with character and token spans) and the sample's scalar return (`Score.value`).

Sources (`source`):
- `step_scores`: external PRM scores given in the input, one per step;
- `implicit_prm`: beta * (log pi(y_t) - log pi_ref(y_t)) per token (PRIME, arXiv
  2502.01456; Implicit PRM, arXiv 2412.01981), summed over each step's tokens; the
  log-probabilities come from the input (`logprobs`, `ref_logprobs`, `token_offsets`)
  or from local models (`model`, `ref_model`, the `lm` extra).
- `judge`: an LLM checks the steps one by one (a generative PRM) through the
  OpenAI-compatible judge backend (`judge:` its settings), read strictly;
- `http`: a PRM server (`url:`) returns one score per step (remote_sources.py).
A source is a function from a batch of samples and their steps to step scores
(`SOURCES`).

The outcome (`outcome`, any component) is scored on the same batch and stays a separate
component, as PRIME keeps it; `progress`, `gated` and `atomic` need it, and for the
other rules it is added to the last step (PURE adds the verifiable reward at the end).
`info.returns` holds the return from every step, discounted by `gamma` (1 by default).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import Field, model_validator

from rewardsmith.core.component import Component, Params
from rewardsmith.core.config import BuildContext, ConfigError, register
from rewardsmith.core.types import DenseReward, Group, Sample, Score, Status, regroup
from rewardsmith.process import credit
from rewardsmith.process.lm import unusable
from rewardsmith.process.remote_sources import (
    http_step_scores,
    judge_config,
    judge_step_scores,
)
from rewardsmith.process.steps import Segmentation, SegmentationError, Step, segment

Credit = Literal["sum", "min_form", "clip", "delta", "clip_delta", "progress", "gated", "atomic"]
NEEDS_OUTCOME = ("progress", "gated", "atomic")


class ProcessParams(Params):
    split: Segmentation = "blank_line"
    pattern: str | None = None
    source: Literal["step_scores", "implicit_prm", "judge", "http"] = "step_scores"
    judge: dict[str, Any] | None = None  # source judge: the backend (base_url, model, ...)
    url: str | None = None  # source http: the PRM server
    timeout: float = Field(default=30.0, gt=0)  # source http
    beta: float = Field(default=0.05, gt=0)
    model: str | None = None
    ref_model: str | None = None
    credit: Credit = "sum"
    outcome: Any = None
    temperature: float | None = Field(default=None, gt=0)  # min_form: soft form when set
    eta: float = 0.0  # clip, clip_delta
    alpha: float = 1.0  # progress
    threshold: float = 1.0  # gated
    alpha_start: float = 0.5  # atomic
    alpha_end: float = 0.0  # atomic
    decay_steps: int = Field(default=1000, ge=1)  # atomic
    gamma: float = Field(default=1.0, ge=0, le=1)  # discount of the per-step returns in info

    @model_validator(mode="after")
    def _consistent(self) -> ProcessParams:
        if self.credit in NEEDS_OUTCOME and self.outcome is None:
            raise ValueError(f"outcome: required by credit {self.credit!r} (a component)")
        if self.split == "regex" and not self.pattern:
            raise ValueError("pattern: required when split is 'regex'")
        if self.source == "judge" and self.judge is None:
            raise ValueError("judge: required by source 'judge' (base_url, model, ...)")
        if self.judge is not None:
            judge_config(self.judge)  # (unknown or bad settings fail here, named)
        if self.source == "http" and self.url is None:
            raise ValueError("url: required by source 'http' (the PRM server)")
        if (self.model is None) != (self.ref_model is None):
            raise ValueError("model, ref_model: give both (the policy and the reference)")
        return self


@register("process")
class ProcessReward(Component):
    """Step scores -> credited step rewards (dense) and the sample's return (value)."""

    Params = ProcessParams
    params: ProcessParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        spec = self.params.outcome
        self.outcome = None if spec is None else ctx.build(spec, f"{self.path}.outcome")
        for key in ("model", "ref_model"):
            path = getattr(self.params, key)
            if path is not None and (why := unusable(path)):
                raise ConfigError(f"{self.path}.{key}: {why}")

    def children(self) -> list[Component]:
        return [] if self.outcome is None else [self.outcome]

    def score_batch(self, groups: list[Group]) -> list[list[Score]]:
        samples = self._with_model_logprobs([s for group in groups for s in group.samples])
        outcomes = [s for row in self.outcome.run(groups) for s in row] if self.outcome else []
        steps: list[list[Step] | str] = [self._steps(sample) for sample in samples]
        usable = [i for i, cut in enumerate(steps) if not isinstance(cut, str)]
        scored = SOURCES[self.params.source](
            [samples[i] for i in usable], [steps[i] for i in usable], self.params
        )
        step_scores: dict[int, list[float] | str] = dict(zip(usable, scored, strict=True))
        flat = [
            self._score(sample, steps[i], step_scores.get(i, ""), outcomes[i] if outcomes else None)
            for i, sample in enumerate(samples)
        ]
        return regroup(groups, flat)

    def _with_model_logprobs(self, samples: list[Sample]) -> list[Sample]:
        """Samples without log-probabilities get them from `model` and `ref_model`."""
        p = self.params
        if p.source != "implicit_prm" or p.model is None or p.ref_model is None:
            return samples
        from rewardsmith.process.lm import load_lm  # the optional `lm` extra

        missing = [i for i, s in enumerate(samples) if s.logprobs is None]
        prompts = [samples[i].prompt_text for i in missing]
        completions = [samples[i].completion for i in missing]
        policy = load_lm(p.model).token_logprobs(prompts, completions)
        reference = load_lm(p.ref_model).token_logprobs(prompts, completions)
        out = list(samples)
        for i, mine, theirs in zip(missing, policy, reference, strict=True):
            update = {"logprobs": mine.logprobs, "ref_logprobs": theirs.logprobs}
            out[i] = samples[i].model_copy(update={**update, "token_offsets": mine.offsets})
        return out

    def _steps(self, sample: Sample) -> list[Step] | str:
        """The sample's steps, or why it has none."""
        try:
            return segment(
                sample.completion,
                self.params.split,
                self.params.pattern,
                sample.steps,
                sample.token_offsets,
            )
        except SegmentationError as exc:
            return str(exc)

    def _score(
        self,
        sample: Sample,
        steps: list[Step] | str,
        scores: list[float] | str,
        outcome: Score | None,
    ) -> Score:
        problem = steps if isinstance(steps, str) else scores if isinstance(scores, str) else ""
        if problem:
            failed = Score.failed(Status.INVALID, self.fallback, problem)
            return self._with_outcome(failed, outcome)
        assert not isinstance(steps, str) and not isinstance(scores, str)
        outcome_value = outcome.value if outcome is not None else None
        result = self._credit(scores, outcome_value, sample.step)
        dense = [
            DenseReward(step.start, step.end, reward, step.token_start, step.token_end)
            for step, reward in zip(steps, result.step_rewards, strict=False)
        ]
        info = {
            "credit": self.params.credit,
            "steps": len(steps),
            "step_scores": scores,
            "returns": credit.discounted_returns(result.step_rewards, self.params.gamma),
        }
        score = Score(result.value, info=info, dense=dense)
        return self._with_outcome(score, outcome)

    def _credit(self, scores: list[float], outcome: float | None, step: int) -> credit.Credit:
        p = self.params
        rules: dict[str, Callable[[], credit.Credit]] = {
            "sum": lambda: credit.plain_sum(scores),
            "min_form": lambda: credit.min_form(scores, temperature=p.temperature),
            "clip": lambda: credit.clip(scores, eta=p.eta),
            "delta": lambda: credit.delta(scores),
            "clip_delta": lambda: credit.clip_delta(scores, eta=p.eta),
            "progress": lambda: credit.progress(scores, outcome or 0.0, alpha=p.alpha),
            "gated": lambda: credit.gated(scores, outcome or 0.0, threshold=p.threshold),
            "atomic": lambda: credit.atomic_curriculum(
                scores,
                outcome or 0.0,
                step=step,
                alpha_start=p.alpha_start,
                alpha_end=p.alpha_end,
                decay_steps=p.decay_steps,
            ),
        }
        result = rules[p.credit]()
        if outcome is None or p.credit in NEEDS_OUTCOME:
            return result
        rewards = list(result.step_rewards)
        if rewards:  # (without steps the outcome is still the return)
            rewards[-1] += outcome
        return credit.Credit(rewards, result.value + outcome)

    def _with_outcome(self, score: Score, outcome: Score | None) -> Score:
        """Keep the outcome visible as its own component (and info), and its worst status."""
        if outcome is None:
            return score
        score.info = {self.name: score.info}
        score.absorb(outcome)
        return score


def _given_step_scores(
    samples: Sequence[Sample], steps: Sequence[list[Step]], params: ProcessParams
) -> list[list[float] | str]:
    """The input's `step_scores`, one per step."""
    out: list[list[float] | str] = []
    for sample, cut in zip(samples, steps, strict=True):
        given = sample.step_scores
        if given is None:
            out.append("step_scores: missing; expected one number per step")
        elif len(given) != len(cut):
            out.append(f"step_scores: {len(given)} scores for {len(cut)} steps")
        else:
            out.append([float(x) for x in given])
    return out


def _implicit_prm(
    samples: Sequence[Sample], steps: Sequence[list[Step]], params: ProcessParams
) -> list[list[float] | str]:
    """beta * (log pi - log pi_ref) per token, summed over each step's tokens."""
    out: list[list[float] | str] = []
    for sample, cut in zip(samples, steps, strict=True):
        if sample.logprobs is None or sample.ref_logprobs is None:
            out.append("logprobs, ref_logprobs: missing; give both, or set model and ref_model")
            continue
        if sample.token_offsets is None:
            out.append("token_offsets: missing; needed to place token rewards in steps")
            continue
        if not len(sample.logprobs) == len(sample.ref_logprobs) == len(sample.token_offsets):
            out.append(
                f"logprobs, ref_logprobs, token_offsets: lengths {len(sample.logprobs)}, "
                f"{len(sample.ref_logprobs)}, {len(sample.token_offsets)} differ"
            )
            continue
        tokens = credit.implicit_prm_token_rewards(
            sample.logprobs, sample.ref_logprobs, beta=params.beta
        )
        out.append([sum(tokens[s.token_start : s.token_end]) for s in cut])
    return out


SOURCES: dict[
    str,
    Callable[[Sequence[Sample], Sequence[list[Step]], ProcessParams], list[list[float] | str]],
] = {
    "step_scores": _given_step_scores,
    "implicit_prm": _implicit_prm,
    "judge": judge_step_scores,
    "http": http_step_scores,
}
