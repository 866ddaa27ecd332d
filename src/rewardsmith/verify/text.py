"""Locating answers in completions: the final region, `\\boxed{}` contents, `<answer>` tags.

Shared by the verifiers; written for speed (plain string scans, precompiled regexes),
since a batch holds thousands of long completions.
"""

from __future__ import annotations

import re

_ANSWER_PHRASE = re.compile(
    r"(?:final answer|the answer|answer)\s*(?:is|:|=)\s*:?\s*(?P<answer>[^\n<]+)", re.IGNORECASE
)
_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.IGNORECASE | re.DOTALL)
_BOX_OPENERS = ("\\boxed", "\\fbox")
_BARE_TOKEN = re.compile(r"\s+([^\s${}\\]+)")


def final_region(completion: str) -> str:
    """The text after the last `</think>`, or the whole completion when there is none."""
    end = completion.rfind("</think>")
    return completion[end + len("</think>") :] if end >= 0 else completion


def boxed_contents(text: str) -> list[str]:
    """Contents of every `\\boxed{..}` / `\\fbox{..}` (or `\\boxed 5`), in order.

    Braces are balanced; an unclosed box is ignored.
    """
    found: list[tuple[int, str]] = []
    for opener in _BOX_OPENERS:
        start = text.find(opener)
        while start >= 0:
            after = start + len(opener)
            content, end = _group_after(text, after)
            if content is not None:
                found.append((start, content))
            start = text.find(opener, max(end, after))
    return [content for _, content in sorted(found)]


def _group_after(text: str, position: int) -> tuple[str | None, int]:
    """The balanced `{...}` (or a bare token after a space) starting at `position`."""
    if position < len(text) and text[position] == "{":
        depth = 0
        for index in range(position, len(text)):
            char = text[index]
            if char == "{" and text[index - 1] != "\\":
                depth += 1
            elif char == "}" and text[index - 1] != "\\":
                depth -= 1
                if depth == 0:
                    return text[position + 1 : index], index + 1
        return None, len(text)
    bare = _BARE_TOKEN.match(text, position)
    if bare:
        return bare.group(1), bare.end()
    return None, position


def answer_tag_contents(text: str) -> list[str]:
    """Contents of every `<answer>...</answer>` (case-insensitive), in order."""
    return _ANSWER_TAG.findall(text)


def answer_phrases(text: str) -> list[str]:
    """What follows every "the answer is" / "Final answer:" / "Answer =", to the line end."""
    return [match.group("answer") for match in _ANSWER_PHRASE.finditer(text)]
