"""`answered`: 1 when the `math` extractor finds one final answer in the completion.

The condition a `gate` in front of `math` should use: it reads the completion with the
same extractor and the same settings (`on_conflict`, `max_answer_chars`,
`max_number_digits`, the gold's number of values) as `math`, so every answer `math` can
mark correct passes it, whatever marks it (`<answer>` tags, `\\boxed{}`, "the answer
is ...", `####`, a lone number ending the last line). Hedged, shotgun and master-key
completions give no answer, so they do not pass. Needs no reference: without one (or
with one `math` cannot read) the gold is taken to be a single value.
"""

from __future__ import annotations

from typing import Any

from pydantic import create_model

from rewardsmith.core.component import InvalidSample, Params, SampleComponent
from rewardsmith.core.config import BuildContext, register
from rewardsmith.core.types import Sample, Score
from rewardsmith.verify.math import MathParams, _gold, gold_text
from rewardsmith.verify.math_answer import Limits, extract_answer

# The extraction settings of `math`, with its defaults and descriptions.
AnsweredParams = create_model(
    "AnsweredParams",
    __base__=Params,
    **{
        name: (MathParams.model_fields[name].annotation, MathParams.model_fields[name])
        for name in ("on_conflict", "max_answer_chars", "max_number_digits")
    },
)


@register("answered")
class Answered(SampleComponent):
    """Did the completion give one final answer `math` can check? 1.0 or 0.0, with why."""

    Params = AnsweredParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        p: Any = self.params
        self.limits = Limits(p.max_answer_chars, p.max_number_digits)

    def score_sample(self, sample: Sample) -> Score:
        found = extract_answer(
            sample.completion,
            _gold_items(sample.reference),
            self.params.on_conflict,  # type: ignore[attr-defined]
            sample.prompt_text,
            self.limits,
        )
        info: dict[str, Any] = {"extracted": found.answer, "source": found.source}
        if found.answer is None:
            info["reason"] = found.reason or "no final answer found"
        return Score(float(found.answer is not None), info=info)


def _gold_items(reference: Any) -> int:
    """How many values the gold lists (1 when there is no gold `math` could read)."""
    try:
        return _gold(gold_text(reference))[1]
    except InvalidSample:
        return 1
