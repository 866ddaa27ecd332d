"""Answers in several parts: a gold that lists k values, and an answer that must list
the same k values.

A gold lists several parts when it has several `\\boxed{}` (`\\boxed{1}\\boxed{2}`),
several math segments joined by words (`$1$ and $2$ and $3$`), a set literal
(`\\{1, 2, 3\\}`), or values separated at the top level (outside brackets) by commas,
semicolons, "and", "or" or `\\quad`: `(2, 2), (6, 2)`, `1,-2`, `6 \\text{ and } 8`.

An answer matches a k-part gold when it lists exactly k parts (a spelling repeated
counts once) and they match the gold's:
- by name, when the gold names each part with a different variable (`k = 45, n = 2`)
  and the answer names them too; in the gold's order when the answer does not;
- in order, when the dataset says the parts are ordered (`{"answer": ..., "ordered":
  true}` in the reference, or the reward's `ordered_parts: true`);
- otherwise as a set (solution sets, roots; `x_1 = .., x_2 = ..` are roots too). A
  point or tuple in brackets, `(2, 2)`, is one part and is always compared in order.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from rewardsmith.verify.math_normalize import SCIENTIFIC_REL_TOL, fast_equal, normalize
from rewardsmith.verify.math_prose import math_pieces
from rewardsmith.verify.math_symbolic import symbolic_equal
from rewardsmith.verify.text import boxed_spans

Part = tuple[str, str]  # (variable name or "", normalised value)
Equal = Callable[[str, str], bool | None]
_SEPARATOR = r"(?:[,;]|\\q?quad|\\lor|\\vee|(?<![A-Za-z\\])(?:and|or)(?![A-Za-z]))"
# a bracket, or a run of separators (one mark for ",,, and"); starts at a mark, so linear
_MARKS = re.compile(rf"[()\[\]{{}}]|{_SEPARATOR}(?:\s*+{_SEPARATOR})*+")
_OPENERS, _CLOSERS = "([{", ")]}"
_JOINER = re.compile(r"[\s,;.&\"'\\]*+(?:(?:and|or|y|et|und|и|和|或)(?![A-Za-z])[\s,;.\"'\\]*+)?")
_GAP_NOISE = re.compile(r"\\(?:text|mathrm)\{|\\q?quad|\\[()\[\]]")
_WORD = re.compile(r"(?<![\\\w])[^\W\d_]{2,}+")  # a word, not a command or variable
_MAX_LIST_WORDS = 2  # boxes this few words apart list parts together ("1 papers and 2")
_NAMED = re.compile(r"\s*+(?P<name>[A-Za-z](?:_\{?\w++\}?)?)\s*+=(?!=)\s*+(?P<value>[^=]++)")
_SET = re.compile(r"^(?:\\\{(?P<escaped>.*)\\\}|\{(?P<plain>.*)\})$", re.DOTALL)


def gold_parts(reference: str) -> tuple[Part, ...]:
    """The parts a gold lists (one part for a single value). Boxes no more than
    `_MAX_LIST_WORDS` words apart list parts together; of boxes further apart, the last
    run counts (a solution's intermediate boxes are not parts of its answer)."""
    boxes = boxed_spans(reference)
    run: list[str] = []
    for index, (start, _, content) in enumerate(boxes):
        gap = reference[boxes[index - 1][1] : start] if index else ""
        if len(_WORD.findall(_GAP_NOISE.sub(" ", gap))) > _MAX_LIST_WORDS:
            run = []
        run.append(content)
    chunks = run or [reference]
    return distinct([part for chunk in chunks for part in split_parts(chunk)])


def split_parts(written: str) -> list[Part]:
    """The top-level parts of one answer as written: its math segments when only joining
    words stand between them (`$1$ and $2$`); else its top-level items, unless it is
    prose (a sentence is one part). A set literal lists its items, and a lone assignment
    (`b = 8`) keeps its name."""
    segments = math_pieces(written)
    math = [text for is_math, text in segments if is_math]
    if len(math) > 1 and all(is_math or _JOINER.fullmatch(text) for is_math, text in segments):
        return [part for segment in math for part in split_parts(segment)]
    if len(_WORD.findall(_GAP_NOISE.sub(" ", written))) > 2 * _MAX_LIST_WORDS + 2:
        return [("", normalize(written))]
    if (single := _NAMED.fullmatch(written.strip().strip("$"))) and len(
        split_items(single["value"], most=1)
    ) == 1:
        return [(_bare_name(single["name"]), normalize(written))]  # "y = 2x" stays an equation
    answer = normalize(written)
    if (whole := _SET.match(answer)) is not None:
        inner = whole.group("escaped") if whole.group("escaped") is not None else whole["plain"]
        if len(items := split_items(inner)) > 1:
            return [_part(item) for item in items]
    return [_part(item) for item in split_items(answer)]


def split_items(text: str, most: int | None = None) -> list[str]:
    """The top-level items of `text`: separated by commas, semicolons, "and", "or" or
    `\\quad` outside brackets. With `most`, reading stops after `most + 1` items."""
    items: list[str] = []
    start = depth = 0
    for mark in _MARKS.finditer(text):
        symbol = mark.group()
        if symbol in _OPENERS or symbol in _CLOSERS:
            depth += 1 if symbol in _OPENERS else -1
        elif depth == 0:
            if item := text[start : mark.start()].strip():
                items.append(item)
                if most is not None and len(items) > most:
                    return items
            start = mark.end()
    if item := text[start:].strip():
        items.append(item)
    return items


def _part(item: str) -> Part:
    named = _NAMED.fullmatch(item)
    if named is None:
        return "", normalize(item)
    return _bare_name(named["name"]), normalize(named["value"])


def _bare_name(name: str) -> str:
    return name.replace("{", "").replace("}", "")


def distinct(parts: list[Part]) -> tuple[Part, ...]:
    """`parts` without repeated spellings (spaces aside), in order."""
    unique = {(name, value.replace(" ", "")): (name, value) for name, value in parts if value}
    return tuple(unique.values())


def match_parts(
    gold: tuple[Part, ...], answer: tuple[Part, ...], ordered: bool, equal: Equal
) -> bool | None:
    """Whether `answer` lists the parts of `gold` (see the module), deciding each pair
    with `equal`; None when `equal` leaves a needed pair undecided."""
    if len(gold) != len(answer):
        return False
    names = [name for name, _ in gold]
    by_name = all(names) and len(set(names)) == len(names) and len({n[0] for n in names}) > 1
    if by_name and all(name for name, _ in answer):
        found = dict(answer)
        if set(found) != set(names):
            return False
        return _all(equal(value, found[name]) for name, value in gold)
    if by_name or ordered:
        return _all(equal(g, a) for (_, g), (_, a) in zip(gold, answer, strict=True))
    return _as_sets([value for _, value in gold], [value for _, value in answer], equal)


def _all(verdicts: Iterable[bool | None]) -> bool | None:
    undecided = False
    for verdict in verdicts:
        if verdict is False:
            return False
        undecided = undecided or verdict is None
    return None if undecided else True


def _as_sets(gold: list[str], answer: list[str], equal: Equal) -> bool | None:
    """Each gold part paired with a different answer part (greedily, in order)."""
    unmatched = list(answer)
    undecided = False
    for value in gold:
        verdicts = [equal(value, candidate) for candidate in unmatched]
        if True in verdicts:
            unmatched.pop(verdicts.index(True))
        elif None in verdicts:
            undecided = True
        else:
            return False
    return None if undecided else True


def parts_equal(
    gold: tuple[Part, ...],
    answer: tuple[Part, ...],
    ordered: bool,
    rel_tol: float = SCIENTIFIC_REL_TOL,
) -> tuple[bool, str]:
    """`match_parts` with math-verify deciding what the fast path leaves open (run in a
    worker process, as `symbolic_equal`)."""

    def equal(gold_value: str, value: str) -> bool:
        fast = fast_equal(gold_value, value, rel_tol)
        return fast if fast is not None else symbolic_equal(gold_value, value)[0] is True

    return bool(match_parts(gold, answer, ordered, equal)), ""
