"""Locating answers in completions: the final region, `\\boxed{}` contents, `<answer>` tags.

Shared by the verifiers; written for speed (plain string scans, precompiled regexes),
since a batch holds thousands of long completions. Every pattern here runs in linear time
on any input: quantifiers that could give back what a neighbour also matches are
possessive (`*+`, `++`), so a failed attempt never retries the same run of characters.
"""

from __future__ import annotations

import re

_ANSWER_PHRASE = re.compile(
    r"(?:final answer|the answer|answer)\s*+(?:is|:|=)\s*+:?\s*+"
    r"(?P<answer>(?:[^\n<]|<(?!/?[A-Za-z][\w-]*+>))++)",  # to the line end or the next tag
    re.IGNORECASE,
)
_ANSWER_OPEN = re.compile("<answer>", re.IGNORECASE)
_ANSWER_CLOSE = re.compile("</answer>", re.IGNORECASE)
_BOX_OPENER = re.compile(r"\\(?:boxed|fbox)")
_BRACE = re.compile(r"(?<!\\)[{}]")
_BARE_TOKEN = re.compile(r"[ \t]++([^\s${}\\]++)")
_GAP = re.compile(r"[ \t]*")


def final_region(completion: str) -> str:
    """The text after the last `</think>`, or the whole completion when there is none."""
    end = completion.rfind("</think>")
    return completion[end + len("</think>") :] if end >= 0 else completion


def boxed_contents(text: str) -> list[str]:
    """Contents of every `\\boxed{..}` / `\\fbox{..}` (or `\\boxed 5`), in order.

    Braces are balanced (escaped `\\{` `\\}` do not count); an unclosed box is ignored, and
    a box nested inside another is part of the outer box's contents.
    """
    found: list[str] = []
    if "\\boxed" not in text and "\\fbox" not in text:
        return found
    closing: dict[int, int] | None = None  # brace pairs from the first box on, built once
    opener = _BOX_OPENER.search(text)
    while opener:
        start = resume = opener.end()
        if text.startswith("{", gap := _GAP.match(text, start).end()):
            if closing is None:
                closing = _brace_pairs(text, gap)
            end = closing.get(gap)
            if end is not None:
                found.append(text[gap + 1 : end])
                resume = end + 1
        elif bare := _BARE_TOKEN.match(text, start):
            found.append(bare.group(1))
            resume = bare.end()
        opener = _BOX_OPENER.search(text, resume)
    return found


def _brace_pairs(text: str, start: int) -> dict[int, int]:
    """Every balanced `{` from `start` on, mapped to its `}` (one pass, for many boxes)."""
    pairs: dict[int, int] = {}
    stack: list[int] = []
    for brace in _BRACE.finditer(text, start):
        if brace.group() == "{":
            stack.append(brace.start())
        elif stack:
            pairs[stack.pop()] = brace.start()
    return pairs


def answer_tag_contents(text: str) -> list[str]:
    """Contents of every `<answer>...</answer>` (case-insensitive), in order.

    Same result as a lazy `<answer>(.*?)</answer>` regex, in linear time.
    """
    found: list[str] = []
    opening = _ANSWER_OPEN.search(text) if "<" in text else None
    while opening:
        closing = _ANSWER_CLOSE.search(text, opening.end())
        if closing is None:  # no later opening tag can be closed either
            break
        found.append(text[opening.end() : closing.start()])
        opening = _ANSWER_OPEN.search(text, closing.end())
    return found


def answer_phrases(text: str) -> list[str]:
    """What follows every "the answer is" / "Final answer:" / "Answer =", to the line end
    (or the next tag); the answer may start on a later line, and a phrase followed by
    nothing but spaces gives nothing."""
    return [match.group("answer") for match in _ANSWER_PHRASE.finditer(text)]


_FENCE_LANGUAGE = re.compile(r"[\w+-]*+")


def fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(language, body) of every closed ``` fenced block, in order.

    A fence opens at ``` and its info string runs to the line end (the language is the
    info string's leading run of word characters, `+` and `-`); the body runs from the
    next line to the next ```. The blocks the regex r"```([\\w+-]*)[^\\n]*\\n(.*?)```"
    (DOTALL) finds, by a plain scan: that regex backtracks quadratically on an unclosed
    fence or on many ``` in one line.
    """
    blocks: list[tuple[str, str]] = []
    opening = text.find("```")
    while opening != -1:
        line_end = text.find("\n", opening + 3)
        closing = text.find("```", line_end + 1) if line_end != -1 else -1
        if closing == -1:  # no later fence can close either
            break
        language = _FENCE_LANGUAGE.match(text, opening + 3, line_end).group()
        blocks.append((language, text[line_end + 1 : closing]))
        opening = text.find("```", closing + 3)
    return blocks
