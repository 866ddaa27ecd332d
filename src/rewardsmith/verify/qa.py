"""`qa`: exact match or token F1 against one or more gold aliases.

Answers and golds are normalised as in SQuAD (Rajpurkar et al., arXiv 1606.05250):
lower-cased, punctuation and the articles a/an/the removed, whitespace collapsed. That
would drop a number's sign and decimal point (`-5` would match `5`, `2.12` `212`), so
a gold that is a number is compared by value instead (thousands commas, a trailing
point, Unicode minus and full-width digits allowed), and only a number equal to it
matches, in both metrics. A gold that SQuAD normalisation empties (the article `A` as
an option name) is compared with its articles kept. The reward is the best score over
the aliases. Explicit answers (`<answer>` tags, `\\boxed{}`)
that disagree with each other give no answer at all.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
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
_LATEX_TEXT = re.compile(r"\\(?:text|textbf|textit|textrm|mathrm|mathbf)\s*\{([^{}]*)\}")
_NUMBER = re.compile(r"[+-]?+(?:[0-9]++(?:,[0-9]{3})*+(?:\.[0-9]*+)?+|\.[0-9]++)")
_MINUS = str.maketrans({"\u2212": "-", "\ufe63": "-"})  # full-width: NFKC maps it
MAX_NUMBER_CHARS = 100


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lower case, no punctuation, no articles, single spaces; with
    the articles kept if removing them leaves nothing."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split()) or " ".join(text.split())


def numeric_value(text: str) -> Decimal | None:
    """The value of an answer that is a number ("-5", "1,000", "2.50.", "−3"), else None."""
    core = unicodedata.normalize("NFKC", text.strip()).translate(_MINUS).strip("$ ").rstrip(".")
    if len(core) > MAX_NUMBER_CHARS or not _NUMBER.fullmatch(core):
        return None
    return Decimal(core.replace(",", ""))


def token_f1(prediction: str, gold: str) -> float:
    """Harmonic mean of token precision and recall after normalisation (for a numeric
    gold: 1 iff the prediction is the same number)."""
    if numeric_value(gold) is not None:
        return exact_match(prediction, gold)
    pred_tokens = normalize_answer(prediction).split()
    gold_tokens = normalize_answer(gold).split()
    common = sum((Counter(pred_tokens) & Counter(gold_tokens)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred_tokens), common / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, gold: str) -> float:
    """1 iff the normalised answers are equal; a numeric gold by value."""
    value = numeric_value(gold)
    if value is not None:
        return float(numeric_value(prediction) == value)
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
        if self.params.extract:
            prediction, reason = extract_short_answer(region)
        else:
            prediction, reason = region.strip(), ""
        normalized = normalize_answer(prediction)
        if not normalized:
            info = {"extracted": prediction, "normalized": "", "em": 0.0, "f1": 0.0}
            code = "conflicting_answers" if reason.startswith("conflicting") else "no_answer"
            return Score(0.0, info={**info, "reason": reason or "empty answer", "code": code})
        best = max(
            aliases, key=lambda alias: (exact_match(prediction, alias), token_f1(prediction, alias))
        )
        em, f1 = exact_match(prediction, best), token_f1(prediction, best)
        info = {
            "extracted": prediction,
            "normalized": normalized,
            "best_alias": best,
            "em": em,
            "f1": f1,
        }
        value = em if self.params.metric == "em" else f1
        if not value:
            info["code"] = "wrong_answer"
        return Score(value, info=info)


def extract_short_answer(region: str) -> tuple[str, str]:
    """(answer, "") or ("", why there is none).

    Tried in order: `<answer>` tags, `\\boxed{}`, "Answer: ..." lines, the last non-empty
    line. Tags (or boxes) that disagree give no answer.
    """
    tags = answer_tag_contents(region)
    explicit = [(boxed_contents(tag) or [tag])[-1] for tag in tags] or boxed_contents(region)
    if explicit:
        answers = [_LATEX_TEXT.sub(r"\1", answer).strip() for answer in explicit]
        distinct = {normalize_answer(answer) for answer in answers}
        if len(distinct) > 1:
            return "", f"conflicting answers: {'; '.join(sorted(distinct)[:4])}"
        return answers[-1], ""
    phrases = answer_phrases(region)
    if phrases:
        return _LATEX_TEXT.sub(r"\1", phrases[-1]).strip(), ""
    lines = [line.strip() for line in region.splitlines() if line.strip()]
    return (lines[-1], "") if lines else ("", "empty completion")


def _aliases(reference: Any) -> list[str]:
    if isinstance(reference, Mapping):
        reference = reference.get("answers", reference.get("answer"))
        if isinstance(reference, Mapping):  # SQuAD: {"text": [...], "answer_start": [...]}
            reference = reference.get("text")
    if isinstance(reference, str | int | float) and not isinstance(reference, bool):
        reference = [reference]
    if (
        not isinstance(reference, list)
        or not reference
        or not all(isinstance(a, str | int | float) and not isinstance(a, bool) for a in reference)
    ):
        raise InvalidSample(
            "reference: expected a gold answer, a non-empty list of aliases or "
            f"{{'answers': [...]}}, got {repr(reference)[:100]}"
        )
    aliases = [str(alias) for alias in reference if normalize_answer(str(alias))]
    if not aliases:
        raise InvalidSample("reference: every gold alias is empty after normalisation")
    return aliases
