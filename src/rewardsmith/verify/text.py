"""Locating answers in completions: the final region, `\\boxed{}` contents, `<answer>` tags.

Shared by the verifiers; written for speed (plain string scans, precompiled regexes),
since a batch holds thousands of long completions. Every pattern here runs in linear time
on any input: quantifiers that could give back what a neighbour also matches are
possessive (`*+`, `++`), so a failed attempt never retries the same run of characters.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass

# Answer cues: a cue word, not inside a longer word, then what must follow it ("the answer
# is", "Final answer:", "Answer =", "答案是", "La réponse est", ...). Cue words are found
# first (a plain alternation of literals, which the regex engine scans fast), and each
# is then checked where it stands: constant work per cue, so linear time.
_CUE_WORDS = r"answer|respuesta|réponse|antwort|ответ|答案|答え|解答"
_CUE_WORD = re.compile(_CUE_WORDS, re.IGNORECASE)
_LOWER_CUE_WORD = re.compile(_CUE_WORDS)  # in lower-cased text: about 5x faster
_CUE_END = {
    "answer": r"\s*+(?:is(?![A-Za-z])|[:：=])\s*+[:：]?",
    "respuesta": r"(?:\s++final)?\s*+(?:es(?![A-Za-z])|[:：])",
    "réponse": r"(?:\s++finale)?\s*+(?:est(?![A-Za-z])|[:：])",
    "antwort": r"\s*+(?:(?:ist|lautet)(?![A-Za-z])|[:：])",
    "ответ": r"\s*+(?:[:：=—]|равен|это)",
    "答案": r"\s*+(?:是|为|[:：])",
    "答え": r"\s*+(?:は|[:：])",
    "解答": r"\s*+[:：]",
}
MAX_CUES = 64
_CUE_ENDS = {word: re.compile(end, re.IGNORECASE) for word, end in _CUE_END.items()}
_DISPLAY_NEXT = re.compile(r"[ \t]*+(?=\$|\\[\[(])")  # "Answer" alone before display math
_LETTER = re.compile(r"[^\W\d_]")
_FINAL_CUE = re.compile(r"final|最终|最終|endgültig|окончательн", re.IGNORECASE)
_TAG = re.compile(r"</?[A-Za-z][\w-]*+>")
_LEADING_SPACE = re.compile(r"\s*+")
_DISPLAY = (("$$", "$$"), ("\\[", "\\]"), ("\\(", "\\)"), ("$", "$"))
_PLAIN = str.maketrans(
    {"\u2212": "-", "\uff0d": "-", "\uff0b": "+", **{chr(0xFF10 + d): str(d) for d in range(10)}}
)
_NOT_PLAIN = re.compile("[\u2212\uff0d\uff0b\uff10-\uff19]")
_ANSWER_OPEN = re.compile("<answer>", re.IGNORECASE)
_ANSWER_CLOSE = re.compile("</answer>", re.IGNORECASE)
_BOX_OPENER = re.compile(r"\\(?:boxed|fbox)")
_BRACE = re.compile(r"(?<!\\)[{}]")
_BARE_TOKEN = re.compile(r"[ \t]++([^\s${}\\]++)")
_GAP = re.compile(r"[ \t]*")


def plain_digits(text: str) -> str:
    """`text` with Unicode minus signs and full-width digits and signs written in ASCII, so
    that "−5" and "５" read as -5 and 5 wherever numbers are read."""
    if text.isascii() or not _NOT_PLAIN.search(text):
        return text  # (a search is ~10x faster than translating text with nothing to do)
    return text.translate(_PLAIN)


def final_region(completion: str) -> str:
    """The text after the last `</think>`, or the whole completion when there is none."""
    end = completion.rfind("</think>")
    return completion[end + len("</think>") :] if end >= 0 else completion


def boxed_contents(text: str) -> list[str]:
    """Contents of every `\\boxed{..}` / `\\fbox{..}` (or `\\boxed 5`), in order.

    Braces are balanced (escaped `\\{` `\\}` do not count); an unclosed box is ignored, and
    a box nested inside another is part of the outer box's contents.
    """
    return [content for _, _, content in boxed_spans(text)]


def boxed_spans(text: str) -> list[tuple[int, int, str]]:
    """(start, end, contents) of every box `boxed_contents` finds."""
    found: list[tuple[int, int, str]] = []
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
                found.append((opener.start(), end + 1, text[gap + 1 : end]))
                resume = end + 1
        elif bare := _BARE_TOKEN.match(text, start):
            found.append((opener.start(), bare.end(), bare.group(1)))
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


@dataclass(frozen=True)
class Phrase:
    """What follows one answer cue, and the cue with a few characters before it."""

    text: str
    start: int  # where the cue starts
    cue: str

    @property
    def final(self) -> bool:
        """Whether the cue says "final answer" (or 最终答案, "réponse finale", ...)."""
        return _FINAL_CUE.search(self.cue) is not None


def answer_phrases(text: str) -> list[str]:
    """What follows every answer cue (see `answer_phrase_spans`), in order."""
    return [phrase.text for phrase in answer_phrase_spans(text)]


def answer_phrase_spans(text: str) -> list[Phrase]:
    """What follows every "the answer is" / "Final answer:" / "Answer =" / "答案是" ...

    The answer may start on a later line and runs to the line end, the next tag or the
    next cue, whichever comes first (so with two cues on a line, each gets its own text
    and the last one can decide); display math opened on the cue's line and closed on a
    later one extends it to the closing line. A cue followed by nothing but spaces gives
    nothing. Only the last `MAX_CUES` cues, among the last 4 * `MAX_CUES` cue words, are
    read (the last phrase is what decides); each cue's text is scanned once.
    """
    cues: list[tuple[int, int]] = []
    lowered = text.lower()
    # lower-casing keeps positions unless a character grows (e.g. "İ"); then match as is
    same = len(lowered) == len(text)
    words = _LOWER_CUE_WORD.finditer(lowered) if same else _CUE_WORD.finditer(text)
    for word in reversed(deque(words, maxlen=4 * MAX_CUES)):
        if cue := _cue(text, word):
            cues.append(cue)
            if len(cues) == MAX_CUES:
                break
    cues.reverse()
    phrases: list[Phrase] = []
    for index, cue in enumerate(cues):
        limit = cues[index + 1][0] if index + 1 < len(cues) else len(text)
        start = _LEADING_SPACE.match(text, cue[1], limit).end()
        end = _line_end(text, _display_end(text, start, limit), limit)
        if text.find("<", start, end) >= 0 and (tag := _TAG.search(text, start, end)):
            end = tag.start()
        if start < end:
            phrases.append(Phrase(text[start:end], cue[0], text[max(0, cue[0] - 16) : cue[1]]))
    return phrases


def _cue(text: str, word: re.Match[str]) -> tuple[int, int] | None:
    """(start, end) of the cue that `word` begins, or None where it is none."""
    start, end = word.span()
    key = word.group().lower()
    if start and key[0] not in "答解" and _LETTER.match(text, start - 1):
        return None  # part of a longer word ("wanswer")
    if found := _CUE_ENDS[key].match(text, end):
        return start, found.end()
    if key == "answer" and _DISPLAY_NEXT.match(text, end) and _line_start(text, start):
        return start, end
    if key == "答案" and text.startswith("最终", start - 2):
        return start, end
    return None


def _line_start(text: str, position: int) -> bool:
    """Whether only spaces and tabs stand between `position` and the start of its line."""
    while position and text[position - 1] in " \t":
        position -= 1
    return position == 0 or text[position - 1] == "\n"


def _display_end(text: str, start: int, limit: int) -> int:
    """Where display math opening at `start` closes (or `start` when none opens there)."""
    if start >= limit or text[start] not in "$\\":
        return start
    for opener, closer in _DISPLAY:
        if text.startswith(opener, start, limit):
            close = text.find(closer, start + len(opener), limit)
            return close + len(closer) if close >= 0 else start
    return start


def _line_end(text: str, start: int, limit: int) -> int:
    end = text.find("\n", start, limit)
    return end if end >= 0 else limit


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
