"""`likelihood`: how likely the reference answer is after the policy's own reasoning.

From "Likelihood-Based Reward Designs for General LLM Reasoning" (arXiv 2602.03979):
the reward is log pi(reference answer | prompt, reasoning), scored by a local causal LM
(the `lm` extra), so tasks without a verifier still get a graded signal. The reasoning
is the completion up to its last `</think>` (the whole completion when there is none),
and the answer is written into `template` before it is scored. `form` is `log` (the
form the paper finds works across setups), `prob` (its exponential), or `mean_log`
(per answer token, which does not favour short answers).
"""

from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field

from rewardsmith.core.component import Component, Params
from rewardsmith.core.config import BuildContext, ConfigError, register
from rewardsmith.core.types import Group, Sample, Score, Status, regroup
from rewardsmith.process.lm import unusable

THINK_END = "</think>"


class LikelihoodParams(Params):
    model: str
    template: str = "\nThe answer is {reference}."
    form: Literal["log", "prob", "mean_log"] = "log"
    batch_size: int = Field(default=8, ge=1)


@register("likelihood")
class LikelihoodReward(Component):
    """log p(reference answer | prompt, reasoning) under a local causal LM."""

    Params = LikelihoodParams
    params: LikelihoodParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        if why := unusable(self.params.model):
            raise ConfigError(f"{self.path}.model: {why}")

    def score_batch(self, groups: list[Group]) -> list[list[Score]]:
        from rewardsmith.process.lm import load_lm  # the optional `lm` extra

        samples = [sample for group in groups for sample in group.samples]
        usable = [i for i, s in enumerate(samples) if _answer(s) is not None]
        lm = load_lm(self.params.model)
        contexts = [_context(samples[i]) for i in usable]
        targets = [self.params.template.format(reference=_answer(samples[i])) for i in usable]
        scored = lm.token_logprobs(contexts, targets, batch_size=self.params.batch_size)
        by_sample = dict(zip(usable, scored, strict=True))
        missing = "reference: missing; expected the answer (text, or {answer: ...})"
        flat = [
            Score(self._value(by_sample[i].logprobs), info={"answer_tokens": len(by_sample[i].ids)})
            if i in by_sample
            else Score.failed(Status.INVALID, self.fallback, missing)
            for i in range(len(samples))
        ]
        return regroup(groups, flat)

    def _value(self, logprobs: list[float]) -> float:
        total = math.fsum(logprobs)
        if self.params.form == "prob":
            return math.exp(total)
        if self.params.form == "mean_log":
            return total / max(len(logprobs), 1)
        return total


def _answer(sample: Sample) -> Any:
    reference = sample.reference
    if isinstance(reference, dict):
        reference = reference.get("answer")
    return None if reference is None or reference == "" else reference


def _context(sample: Sample) -> str:
    """The prompt and the reasoning, which ends at the last `</think>` when there is one."""
    completion = sample.completion
    cut = completion.rfind(THINK_END)
    reasoning = completion[: cut + len(THINK_END)] if cut >= 0 else completion
    return sample.prompt_text + reasoning
