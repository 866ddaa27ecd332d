"""`qa`: exact match or token F1 against one or more gold aliases.

Answers and golds are normalised as in SQuAD (Rajpurkar et al., arXiv 1606.05250):
lower-cased, punctuation and the articles a/an/the removed, whitespace collapsed. The
reward is the best score over the aliases.
"""

from __future__ import annotations

import re
import string
from collections import Counter
from collections.abc import Mapping
from typing import Any, Literal

from rewardsmith.core.component import InvalidSample, Params, SampleComponent, require_reference
from rewardsmith.core.config import register
from rewardsmith.core.types import Sample, Score
from rewardsmith.verify.text import (
    answer_phrases,
    answer_tag_contents,
    boxed_contents,
    final_region,
)

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def token_f1(prediction: str, gold: str) -> float:
    """Harmonic mean of token precision and recall after normalisation."""
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    common = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred_tokens), common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(gold))


class QAParams(Params):
    metric: Literal["em", "f1"] = "em"
    extract: bool = True


@register("qa")
class QAVerifier(SampleComponent):
    """Short-answer QA: EM or token F1, maximised over gold aliases."""

    Params = QAParams
    params: QAParams

    def score_sample(self, sample: Sample) -> Score:
        aliases = _aliases(require_reference(sample, "a gold answer or a list of aliases"))
        region = final_region(sample.completion)
        prediction = extract_short_answer(region) if self.params.extract else region.strip()
        if not normalize_answer(prediction):
            return Score(0.0, info={"extracted": prediction, "reason": "empty answer"})
        best = max(
            aliases, key=lambda alias: (exact_match(prediction, alias), token_f1(prediction, alias))
        )
        em, f1 = exact_match(prediction, best), token_f1(prediction, best)
        info = {
            "extracted": prediction,
            "normalized": normalize_answer(prediction),
            "best_alias": best,
            "em": em,
            "f1": f1,
        }
        return Score(em if self.params.metric == "em" else f1, info=info)


def extract_short_answer(region: str) -> str:
    """`<answer>` tag, last `\\boxed{}`, "Answer: ..." line, else the last non-empty line."""
    for found in (
        answer_tag_contents(region),
        boxed_contents(region),
        answer_phrases(region),
    ):
        if found:
            return found[-1].strip()
    lines = [line.strip() for line in region.splitlines() if line.strip()]
    return lines[-1] if lines else ""


def _aliases(reference: Any) -> list[str]:
    if isinstance(reference, Mapping):
        reference = reference.get("answers", reference.get("answer"))
    if isinstance(reference, str | int | float) and not isinstance(reference, bool):
        reference = [reference]
    if not isinstance(reference, list) or not reference:
        raise InvalidSample("reference: expected a gold answer or a non-empty list of aliases")
    aliases = [str(alias) for alias in reference if normalize_answer(str(alias))]
    if not aliases:
        raise InvalidSample("reference: every gold alias is empty after normalisation")
    return aliases
