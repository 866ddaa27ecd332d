"""`answered`: 1 when the `math` extractor finds one final answer in the completion.

The condition a `gate` in front of `math` should use: it reads the completion with the
same extractor and the same settings (`on_conflict`, `answer_policy`, `think`,
`max_answer_chars`, `max_number_digits`, the gold's number of parts) as `math`, so
every answer `math` can mark correct passes it, whatever marks it (`<answer>` tags,
`\\boxed{}`, "the answer is ...", `####`, a closing sentence stating one value).
Hedged, shotgun and master-key completions give no answer, so they do not pass. Needs
no reference: without one (or with one `math` cannot read) the gold is one value.
"""

from __future__ import annotations

from typing import Any

from pydantic import create_model

from rewardsmith.core.component import Params, SampleComponent
from rewardsmith.core.config import BuildContext, register
from rewardsmith.core.types import Sample, Score
from rewardsmith.verify.math import MathParams, extraction_rules, gold_part_count
from rewardsmith.verify.math_answer import extract_answer

# The extraction settings of `math`, with its defaults and descriptions.
EXTRACTION_SETTINGS = (
    "on_conflict",
    "answer_policy",
    "think",
    "max_answer_chars",
    "max_number_digits",
)
AnsweredParams = create_model(
    "AnsweredParams",
    __base__=Params,
    **{
        name: (MathParams.model_fields[name].annotation, MathParams.model_fields[name])
        for name in EXTRACTION_SETTINGS
    },
)


@register("answered")
class Answered(SampleComponent):
    """Did the completion give one final answer `math` can check? 1.0 or 0.0, with why."""

    Params = AnsweredParams

    def __init__(self, params: Params, ctx: BuildContext, **kwargs: Any) -> None:
        super().__init__(params, ctx, **kwargs)
        self.rules = extraction_rules(self.params)

    def score_sample(self, sample: Sample) -> Score:
        parts = gold_part_count(sample.reference)
        found = extract_answer(sample.completion, parts, sample.prompt_text, self.rules)
        info: dict[str, Any] = {"extracted": found.answer, "source": found.source}
        if found.answer is None:
            info["reason"] = found.reason or "no final answer found"
        return Score(float(found.answer is not None), info=info)
