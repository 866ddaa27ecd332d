"""`choice`: multiple-choice correctness, 1 iff the one chosen option is the gold letter.

The chosen letter comes from, in order, `<answer>` tags, `\\boxed{}`, "Answer: B" /
"the answer is (B)", or a last line that is only an option ("(B)", "B)", "B."). An answer
naming several options ("A or B", "A, C", "B, but it could also be A", several
different boxed letters) chooses none,
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

_MARKUP = re.compile(r"\\(?:text|textbf|textrm|mathrm|mathbf)\s*\{([^{}]*)\}|\*\*|\$|\\[()]")
# After an explicit marker: the letter, alone or followed by punctuation and option text.
_MARKED = re.compile(r"\(?(?P<letter>[A-Z])(?:\)|(?=\s*(?:[.:,\-]|$)))")
# A last line with no marker: nothing but the option.
_BARE_LINE = re.compile(r"\(?(?P<letter>[A-Z])(?:\)|\.|:)?")
_SEVERAL = re.compile(
    r"\(?[A-Z]\)?\s*(?:[,/&;+-]|\b(?:or|and|OR|AND)\b)\s*\(?[A-Z]\)?(?![A-Za-z])"
    r"|\([A-Z]\)\s*\([A-Z]\)"
)
_SEVERAL_MARK = "several"
# a hedge: another option offered after one of these words, in the chosen one's sentence
_OPTION = re.compile(r"(?<![A-Za-z])\(?([A-Z])\)?(?![A-Za-z])")
_HEDGE_WORD = re.compile(
    r"\b(?:or|possibly|perhaps|maybe|also|alternatively|otherwise)\b", re.IGNORECASE
)
_SENTENCE_END = re.compile(r"[.!?;](?=\s|$)")
HEDGE_REACH = 24  # characters from the hedge word to the option it offers


class ChoiceParams(Params):
    options: str = "ABCDEFGHIJ"

    @field_validator("options")
    @classmethod
    def _letters(cls, value: str) -> str:
        if not value or not value.isalpha() or not value.isupper() or not value.isascii():
            raise ValueError("expected capital letters such as 'ABCD'")
        return value


@register("choice")
class ChoiceVerifier(SampleComponent):
    """Multiple-choice letters, strict about answers that name several options."""

    Params = ChoiceParams
    params: ChoiceParams

    def score_sample(self, sample: Sample) -> Score:
        gold = self._gold(require_reference(sample, "an option letter such as 'B'"))
        letter, source, code, reason = self.chosen(sample.completion)
        info: dict[str, object] = {"extracted": letter, "gold": gold, "source": source}
        if letter is None:
            info.update(reason=reason, code=code)
        elif letter != gold:
            info.update(reason=f"chose {letter}, gold is {gold}", code="wrong_option")
        return Score(float(letter == gold), info=info)

    def _gold(self, reference: object) -> str:
        if isinstance(reference, Mapping):
            reference = reference.get("answer")
        text = reference.strip().strip("()").strip().upper() if isinstance(reference, str) else ""
        if len(text) != 1 or text not in self.params.options:
            raise InvalidSample(
                f"reference: expected one option letter of {self.params.options!r} "
                f"(or {{'answer': letter}}), got {reference!r}"
            )
        return text

    def chosen(self, completion: str) -> tuple[str | None, str, str, str]:
        """(the one chosen letter or None, where it was found, why none was: its code and
        its text)."""
        region = final_region(completion)
        source, candidates = self._candidates(region)
        if not candidates:
            return None, "none", "no_answer", "no answer marker and no option on the last line"
        letters = [_letter(candidate, last_line=source == "last_line") for candidate in candidates]
        if source == "answer_phrase":  # the last phrase that states an option decides
            letters = [next((letter for letter in reversed(letters) if letter), None)]
        if _SEVERAL_MARK in letters:
            return None, source, "several_options", "names several options"
        distinct = sorted({letter for letter in letters if letter})
        if len(distinct) > 1:
            return (
                None,
                source,
                "conflicting_answers",
                f"conflicting answers: {', '.join(distinct)}",
            )
        if not distinct or distinct[0] not in self.params.options:
            shown = candidates[-1].strip()[:80]
            return None, source, "no_option", f"no option of {self.params.options!r} in {shown!r}"
        return distinct[0], source, "", ""

    @staticmethod
    def _candidates(region: str) -> tuple[str, list[str]]:
        tags = answer_tag_contents(region)
        if tags:
            return "answer_tag", [
                (boxed_contents(tag) or answer_phrases(tag) or [tag])[-1] for tag in tags
            ]
        boxed = boxed_contents(region)
        if boxed:
            return "boxed", boxed
        phrases = answer_phrases(region)
        if phrases:
            return "answer_phrase", phrases
        lines = [line for line in region.splitlines() if line.strip()]
        return "last_line", lines[-1:]


def _letter(candidate: str, last_line: bool) -> str | None:
    """The option a candidate names, `_SEVERAL_MARK` for several, or None.

    '**\\text{(B)}**' reads as B: bold, math delimiters and text macros are dropped first.
    """
    text = _MARKUP.sub(lambda m: m.group(1) or "", candidate).strip()
    if _SEVERAL.match(text) or _hedged(text):
        return _SEVERAL_MARK
    match = _BARE_LINE.fullmatch(text) if last_line else _MARKED.match(text)
    return match["letter"] if match else None


def _hedged(text: str) -> bool:
    """Whether the answer's sentence offers another option right after a hedge word
    that follows the chosen one ("B, or A", "B, but it could also be A", "B (or possibly
    A)"). Options discussed otherwise ("B, since A or C are wrong", "B. Note that A is
    wrong.") are no hedge."""
    chosen = _OPTION.search(text)
    if not chosen:
        return False
    end = _SENTENCE_END.search(text, chosen.end())
    sentence = text[: end.start() if end else len(text)]
    hedge = _HEDGE_WORD.search(sentence, chosen.end())
    if not hedge or _OPTION.search(sentence, chosen.end(), hedge.start()):
        return False
    other = _OPTION.search(sentence, hedge.end())
    return bool(other) and other[1] != chosen[1] and other.start() - hedge.end() <= HEDGE_REACH
