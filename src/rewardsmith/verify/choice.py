"""`choice`: multiple-choice correctness, 1 iff the one chosen option is the gold letter.

The chosen letter comes from, in order, `<answer>` tags, `\\boxed{}`, "Answer: B" /
"the answer is (B)", or a last line that is only an option ("(B)", "B)", "B."). An answer
naming several options ("A or B", "A, C", several different boxed letters) chooses none,
and a capital letter inside ordinary words ("A triangle has ...") is never read as one.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import field_validator

from rewardsmith.core.component import InvalidSample, Params, SampleComponent, require_reference
from rewardsmith.core.config import register
from rewardsmith.core.types import Sample, Score
from rewardsmith.verify.text import (
    answer_phrases,
    answer_tag_contents,
    boxed_contents,
    final_region,
)

_MARKUP = re.compile(r"\\text(?:bf)?\{([^{}]*)\}|\*\*|\$|\\\(|\\\)")
_SINGLE = re.compile(r"^\(?(?P<letter>[A-Z])\)?(?:\s*$|\s*[.:)\-]\s*.*$|\)\s.*$)", re.DOTALL)
_PAREN_FIRST = re.compile(r"^\((?P<letter>[A-Z])\)")
_SEVERAL = re.compile(
    r"^\(?[A-Z]\)?\s*(?:,|/|&|\bor\b|\band\b)\s*\(?[A-Z]\)?(?![a-z])", re.IGNORECASE
)


class ChoiceParams(Params):
    options: str = "ABCDEFGHIJ"

    @field_validator("options")
    @classmethod
    def _letters(cls, value: str) -> str:
        if not value or not value.isalpha() or not value.isupper():
            raise ValueError("expected capital letters such as 'ABCD'")
        return value


@register("choice")
class ChoiceVerifier(SampleComponent):
    """Multiple-choice letters, strict about answers that name several options."""

    Params = ChoiceParams
    params: ChoiceParams

    def score_sample(self, sample: Sample) -> Score:
        gold = self._gold(require_reference(sample, "an option letter such as 'B'"))
        letter, reason = self.chosen(sample.completion)
        info = {"extracted": letter, "gold": gold}
        if letter is None:
            info["reason"] = reason
        return Score(float(letter == gold), info=info)

    def _gold(self, reference: object) -> str:
        if isinstance(reference, Mapping):
            reference = reference.get("answer")
        text = str(reference).strip().strip("()").strip().upper() if reference else ""
        if len(text) != 1 or text not in self.params.options:
            raise InvalidSample(
                f"reference: expected one option letter of {self.params.options!r}, "
                f"got {reference!r}"
            )
        return text

    def chosen(self, completion: str) -> tuple[str | None, str]:
        """(the one chosen letter, "") or (None, why none)."""
        region = final_region(completion)
        tags = answer_tag_contents(region)
        if tags:
            candidates = [(boxed_contents(tag) or [tag])[-1] for tag in tags]
        else:
            candidates = boxed_contents(region)
        if not candidates:
            phrases = answer_phrases(region)
            lines = [line for line in region.splitlines() if line.strip()]
            candidates = phrases[-1:] or lines[-1:]
        letters = [self._letter(c) for c in candidates]
        if any(letter == "several" for letter in letters):
            return None, "names several options"
        distinct = {letter for letter in letters if letter}
        if len(distinct) > 1:
            return None, f"conflicting answers: {', '.join(sorted(distinct))}"
        if not distinct:
            return None, "no option letter found"
        return distinct.pop(), ""

    def _letter(self, candidate: str) -> str | None:
        text = _MARKUP.sub(lambda m: m.group(1) or "", candidate).strip()
        if _SEVERAL.match(text):
            return "several"
        match = _PAREN_FIRST.match(text) or _SINGLE.match(text)
        if match and match.group("letter") in self.params.options:
            return match.group("letter")
        return None
