"""Finding the one final answer of a math completion, and refusing to guess.

Markers are tried in order of how explicitly they state a final answer: `<answer>` tags,
`\\boxed{}` / `\\fbox{}`, "the answer is ..." / "Answer: ...", GSM8K's `#### ...`, and
last a lone number on the last line. The text after `</think>` is searched first.

A policy optimised against this reward will try to cover several answers at once. So a
completion gets no answer at all when its explicit final answers disagree (shotgun
boxing), when the answer hedges ("3 or 4", `3 \\lor 4`, "either"), or when it lists
more values than the gold has. Master-key completions (":", "Thought process:",
"Let's solve this problem step by step.") contain no answer and so score nothing.
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

_GSM8K = re.compile(r"####\s*(?P<answer>[^\n<]+)")
_NUMBER = re.compile(r"[-+]?\d[\d,]*(?:\.\d+)?(?:/\d+)?")
_HEDGE = re.compile(
    r"\bor\b|\beither\b|\\lor\b|\\vee\b|\\text\{\s*or\s*\}|\bpossibly\b|\bmaybe\b|\?",
    re.IGNORECASE,
)
_ENDS_WITH_NUMBER = re.compile(r"\d[\s.$)\]}\\]*$")  # closing delimiters may follow
_SENTENCE_END = re.compile(r"(?<=[^\d\\])\.(?:\s|$)|\.\s")


@dataclass(frozen=True)
class Extraction:
    """The final answer found in a completion (normalised), or why there is none."""

    answer: str | None
    source: str
    raw: str = ""
    reason: str = ""


def extract_answer(
    completion: str, max_items: int = 1, on_conflict: str = "reject", prompt: str = ""
) -> Extraction:
    """The completion's final answer.

    `max_items` is how many comma-separated values the gold has (an answer listing more is
    shotgun); `on_conflict` is "reject" (several different explicit answers give none) or
    "last" (take the last one). `prompt` guards the weakest marker: a last line that
    only repeats the question ("Write 2/4 in lowest terms.") states no answer.
    """
    region = final_region(completion)
    found = _search(region, max_items, on_conflict, prompt)
    if found.answer is None and not found.reason and region != completion:
        found = _search(completion, max_items, on_conflict, prompt)
    return found


def _search(text: str, max_items: int, on_conflict: str, prompt: str) -> Extraction:
    source, candidates = _candidates(text, prompt)
    if candidates:
        normalized = [normalize(c) for c in candidates]
        distinct = list(dict.fromkeys(c for c in normalized if c))
        if not distinct:
            return Extraction(None, source, candidates[-1], "empty answer")
        explicit = source in ("answer_tag", "boxed")
        if len(distinct) > 1 and explicit and on_conflict == "reject":
            shown = "; ".join(distinct[:4])
            return Extraction(None, source, candidates[-1], f"conflicting final answers: {shown}")
        return _checked(normalized[-1] or distinct[-1], source, candidates[-1], max_items)
    return Extraction(None, "none", "", "")


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
    if len(numbers) != 1 or not _ENDS_WITH_NUMBER.search(last):
        return []
    return numbers


def _restates(line: str, prompt: str) -> bool:
    """A line of several words that appears in the question (a bare number does not count)."""
    words = line.lower().rstrip(".").split()
    return len(words) > 1 and " ".join(words) in " ".join(prompt.lower().split())


def _checked(answer: str, source: str, raw: str, max_items: int) -> Extraction:
    if _HEDGE.search(answer):
        return Extraction(None, source, raw, f"hedged answer: {answer}")
    items = _split_items(answer)
    if len(items) > max_items:
        return Extraction(None, source, raw, f"lists {len(items)} values; the gold has {max_items}")
    return Extraction(answer, source, raw)


def _split_items(answer: str) -> list[str]:
    """Top-level comma-separated items (commas inside brackets do not split)."""
    depth, items, current = 0, [], []
    for char in answer:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char in ",;" and depth == 0:
            items.append("".join(current))
            current = []
        else:
            current.append(char)
    items.append("".join(current))
    return [item for item in items if item.strip()]


def count_items(gold: str) -> int:
    """How many top-level values a gold answer lists (1 for a single value)."""
    return max(1, len(_split_items(normalize(gold))))
