"""Cutting a completion into reasoning steps, each with its character (and token) span.

Ways to cut (`by`):
- `blank_line`: paragraphs separated by one or more blank lines;
- `step_marker`: a step starts at each line beginning "Step k:" / "Step k." / "Step k)"
  (any case); text before the first marker is not a step;
- `sentence`: a sentence ends at `.`, `!` or `?` followed by whitespace (so `3.5` and
  `e.g.x` do not split);
- `regex`: `pattern` separates steps (as `re.split` would). It is the config's, searched
  through the whole completion by Python's backtracking engine, so its author keeps it
  linear: a pattern that starts with a repetition (`\\s+\\n`) is retried from every
  character of a long run of what it repeats (quadratic time) unless anchored to the
  run's start (`(?<!\\s)\\s+\\n`), and overlapping repetitions (`(\\w|\\d)+`, `\\s*\\s*x`) need
  possessive quantifiers (`*+`, `++`) or atomic groups (`(?>...)`);
- `given`: the sample's own `steps`, found in the completion in order.

Spans never include the whitespace around a step. With token offsets (the character span
of every completion token), each step also gets the half-open token range of the tokens
that start inside it; tokens that start between steps go to the step before them (to the
first step when they come before it), so step token ranges partition the completion's
tokens.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Segmentation = Literal["blank_line", "step_marker", "sentence", "regex", "given"]

_SEPARATORS = {
    "blank_line": re.compile(r"\n[ \t]*+\n\s*+"),
    "sentence": re.compile(r"(?<=[.!?])\s++"),
}
_STEP_MARKER = re.compile(r"^[ \t]*+step\s*+\d++\s*+[:.)]", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class Step:
    """One step: its text's span in the completion, and its token range when known."""

    start: int
    end: int
    token_start: int | None = None
    token_end: int | None = None


class SegmentationError(ValueError):
    """The completion cannot be cut as asked (the message names the field)."""


def segment(
    completion: str,
    by: Segmentation = "blank_line",
    pattern: str | None = None,
    steps: Sequence[str] | None = None,
    token_offsets: Sequence[Sequence[int]] | None = None,
) -> list[Step]:
    """The steps of `completion`, in order, cut as `by` says."""
    if by == "given":
        spans = _given_spans(completion, steps)
    elif by == "step_marker":
        starts = [match.start() for match in _STEP_MARKER.finditer(completion)]
        spans = list(zip(starts, [*starts[1:], len(completion)][: len(starts)], strict=True))
    else:
        if by == "regex" and not pattern:
            raise SegmentationError("pattern: required when steps are cut by 'regex'")
        separator = re.compile(pattern) if by == "regex" and pattern else _SEPARATORS[by]
        spans = _between(completion, separator)
    trimmed = [span for span in (_trim(completion, a, b) for a, b in spans) if span[0] < span[1]]
    if token_offsets is None:
        return [Step(a, b) for a, b in trimmed]
    return _with_tokens(trimmed, token_offsets)


def _between(text: str, separator: re.Pattern[str]) -> list[tuple[int, int]]:
    spans, position = [], 0
    for match in separator.finditer(text):
        if match.end() == match.start():
            continue  # an empty match separates nothing
        spans.append((position, match.start()))
        position = match.end()
    spans.append((position, len(text)))
    return spans


def _given_spans(completion: str, steps: Sequence[str] | None) -> list[tuple[int, int]]:
    if not steps:
        raise SegmentationError("steps: expected a non-empty list of step texts")
    spans, position = [], 0
    for index, text in enumerate(steps):
        if not isinstance(text, str) or not text.strip():
            raise SegmentationError(f"steps[{index}]: expected non-empty text")
        found = completion.find(text.strip(), position)
        if found < 0:
            raise SegmentationError(
                f"steps[{index}]: not found in the completion after character {position}"
            )
        spans.append((found, found + len(text.strip())))
        position = spans[-1][1]
    return spans


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def _with_tokens(
    spans: list[tuple[int, int]], token_offsets: Sequence[Sequence[int]]
) -> list[Step]:
    """Give each step the tokens starting in it or in the gap after it."""
    starts = [offset[0] for offset in token_offsets]
    if starts != sorted(starts):
        raise SegmentationError("token_offsets: expected spans in increasing order")
    firsts = [bisect_left(starts, a) for a, _ in spans]  # how many tokens start before a
    if firsts:
        firsts[0] = 0
    ends = [*firsts[1:], len(starts)][: len(firsts)]  # no steps: no ranges
    return [Step(a, b, first, end) for (a, b), first, end in zip(spans, firsts, ends, strict=True)]
