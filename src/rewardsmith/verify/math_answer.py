"""Finding the one final answer of a math completion, and refusing to guess.

Markers are tried in order of how explicitly they state a final answer: `<answer>` tags,
`\\boxed{}` / `\\fbox{}`, "the answer is ..." / "Answer: ...", GSM8K's `#### ...`, and
last a lone number on the last line. The text after `</think>` is searched first.

A policy optimised against this reward will try to cover several answers at once. So a
completion gets no answer at all when its explicit final answers disagree (shotgun
boxing), when the answer hedges ("3 or 4", `3 \\lor 4`, "either"), or when it lists
more values than the gold has. Master-key completions (":", "Thought process:",
"Let's solve this problem step by step.") contain no answer and so score nothing.

Answers are bounded before they are normalised or compared (`Limits`: characters, and
digits in one number); every pattern here runs in linear time on any input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rewardsmith.verify.math_normalize import normalize
from rewardsmith.verify.text import (
    answer_phrases,
    answer_tag_contents,
    boxed_contents,
    final_region,
)

MAX_ANSWER_CHARS = 1000
MAX_NUMBER_DIGITS = 300
_CONFLICTS_SHOWN = 4
_GSM8K = re.compile(r"####\s*+(?P<answer>[^\n<]++)")
_NUMBER = re.compile(r"[-+]?\d[\d,]*+(?:\.\d++)?(?:/\d++)?")
_DIGITS = re.compile(r"\d++")
_ITEM_MARKS = re.compile(r"([()\[\]{},;])")  # brackets and separators, kept by split
_HEDGE = re.compile(
    r"\b(?:or|either|possibly|maybe)\b|\\(?:lor|vee)\b|\\text\{\s*+or\s*+\}|\?", re.IGNORECASE
)
_CLOSERS = ".$)]}\\"  # may follow the number that ends a line, as may spaces
_SENTENCE_END = re.compile(r"(?<=[^\d\\])\.(?:\s|$)|\.\s")


@dataclass(frozen=True)
class Extraction:
    """The final answer found in a completion (normalised), or why there is none."""

    answer: str | None
    source: str
    raw: str = ""
    reason: str = ""
    out_of_bounds: bool = False  # the answer exceeds the Limits (`reason` says which)


@dataclass(frozen=True)
class Limits:
    """Bounds on a completion's answer, checked before it is normalised or compared. The
    defaults are far beyond any honest answer."""

    max_chars: int = MAX_ANSWER_CHARS
    max_digits: int = MAX_NUMBER_DIGITS

    def exceeded(self, answer: str) -> str:
        """Which bound `answer` exceeds, or "" when it is within them."""
        if len(answer) > self.max_chars:
            return f"answer longer than {self.max_chars} characters"
        if max(map(len, _DIGITS.findall(answer)), default=0) > self.max_digits:
            return f"answer has a number of more than {self.max_digits} digits"
        return ""


def extract_answer(
    completion: str,
    max_items: int = 1,
    on_conflict: str = "reject",
    prompt: str = "",
    limits: Limits = Limits(),
) -> Extraction:
    """The completion's final answer.

    `max_items` is how many comma-separated values the gold has (an answer listing more is
    shotgun); `on_conflict` is "reject" (several different explicit answers give none) or
    "last" (take the last one). `prompt` guards the weakest marker: a last line that
    only repeats the question ("Write 2/4 in lowest terms.") states no answer. An answer
    beyond `limits` gives none, with `out_of_bounds` set.
    """
    region = final_region(completion)
    found = _search(region, max_items, on_conflict, prompt, limits)
    if found.answer is None and not found.reason and region != completion:
        found = _search(completion, max_items, on_conflict, prompt, limits)
    return found


def _search(text: str, max_items: int, on_conflict: str, prompt: str, limits: Limits) -> Extraction:
    source, candidates = _candidates(text, prompt)
    if not candidates:
        return Extraction(None, "none", "", "")
    raw = candidates[-1]
    agree = source in ("answer_tag", "boxed") and on_conflict == "reject"
    # Explicit answers must all agree, so they are read until enough disagree; otherwise
    # the answer is the last one that is not empty once normalised, so they are read from
    # the end. A repeated spelling is read once.
    distinct: dict[str, None] = {}
    for candidate in dict.fromkeys(candidates if agree else reversed(candidates)):
        if reason := limits.exceeded(candidate):
            return Extraction(None, source, raw, reason, out_of_bounds=True)
        if normalized := normalize(candidate):
            distinct[normalized] = None
            if not agree or len(distinct) == _CONFLICTS_SHOWN:
                break
    if not distinct:
        return Extraction(None, source, raw, "empty answer")
    if len(distinct) > 1:
        shown = "; ".join(distinct)
        return Extraction(None, source, raw, f"conflicting final answers: {shown}")
    [answer] = distinct
    return _checked(answer, source, raw, max_items, limits)


def _candidates(text: str, prompt: str) -> tuple[str, list[str]]:
    """The candidate answers of the most explicit marker present, and the marker's name."""
    tags = answer_tag_contents(text)
    if tags:
        return "answer_tag", [(boxed_contents(tag) or [tag])[-1] for tag in tags]
    boxed = boxed_contents(text)
    if boxed:
        return "boxed", boxed
    phrases = [_cut_sentence(phrase) for phrase in answer_phrases(text)]
    if phrases:
        return "answer_phrase", phrases
    gsm8k = [m.group("answer") for m in _GSM8K.finditer(text)]
    if gsm8k:
        return "gsm8k", gsm8k
    return "final_number", _last_line_number(text, prompt)


def _cut_sentence(answer: str) -> str:
    """'12. So we are done' -> '12' (a dot after a number that ends a sentence)."""
    match = _SENTENCE_END.search(answer)
    return answer[: match.start()] if match else answer


def _last_line_number(text: str, prompt: str) -> list[str]:
    """The one number ending the last line ("x = 12", "So the total is 42."), unless that
    line is part of the question itself."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    if not lines or _restates(lines[-1], prompt):
        return []
    last = lines[-1].rsplit("=", 1)[-1]
    numbers = _NUMBER.findall(last)
    if len(numbers) != 1 or not _ends_with_number(last):
        return []
    return numbers


def _ends_with_number(line: str) -> bool:
    """Whether the line's last character, before spaces and closing delimiters, is a digit."""
    end = len(line)
    while end and (line[end - 1].isspace() or line[end - 1] in _CLOSERS):
        end -= 1
    return end > 0 and line[end - 1].isdecimal()


def _restates(line: str, prompt: str) -> bool:
    """A line of several words that appears in the question (a bare number does not count)."""
    words = line.lower().rstrip(".").split()
    return len(words) > 1 and " ".join(words) in " ".join(prompt.lower().split())


def _checked(answer: str, source: str, raw: str, max_items: int, limits: Limits) -> Extraction:
    if reason := limits.exceeded(answer):  # normalising joins digits: 1\,000\,000
        return Extraction(None, source, raw, reason, out_of_bounds=True)
    if _HEDGE.search(answer):
        return Extraction(None, source, raw, f"hedged answer: {answer}")
    items = _split_items(answer)
    if len(items) > max_items:
        return Extraction(None, source, raw, f"lists {len(items)} values; the gold has {max_items}")
    return Extraction(answer, source, raw)


def _split_items(answer: str) -> list[str]:
    """Top-level comma-separated items (commas inside brackets do not split)."""
    parts = _ITEM_MARKS.split(answer)  # text, mark, text, mark, ..., text
    items, current, depth = [], [parts[0]], 0
    for mark, text in zip(parts[1::2], parts[2::2], strict=True):
        if mark in ",;" and depth == 0:
            items.append("".join(current))
            current = [text]
            continue
        depth += 1 if mark in "([{" else -1 if mark in ")]}" else 0
        current += (mark, text)
    items.append("".join(current))
    return [item for item in items if item.strip()]


def count_items(gold: str) -> int:
    """How many top-level values a gold answer lists (1 for a single value)."""
    return max(1, len(_split_items(normalize(gold))))
