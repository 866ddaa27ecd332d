"""Finding the one final answer of a math completion, and refusing to guess.

Markers are tried in order of how explicitly they state a final answer: `<answer>` tags;
a "final answer" statement after the last box (Minerva's "Final Answer: The final answer
is X. I hope it is correct."); `\\boxed{}` / `\\fbox{}`; answer phrases ("the answer is
...", "Answer: ...", "Answer" before display math, and the same cues in Chinese,
Japanese, Spanish, French, German and Russian; see `text.answer_phrase_spans`), of which
the last decides, within a line as across lines; GSM8K's `#### ...`. A phrase written as
a sentence is reduced to the one value it states ("The largest $n$ is 34" gives 34).

Policies (`answer_policy`): "closing_sentence" (the default) also accepts an unmarked
answer: the one mathematical value the closing sentence states ("Therefore $x \\geq 5$
is the solution.", `math_prose`); "strict" requires a marker. `think` says what an answer
found only inside `<think>...</think>` is worth: "fallback" (the default) reads the
whole completion when the text after the last `</think>` has no answer; "ignore" reads
only the text after it (an answer that exists only inside the reasoning earns nothing).

A policy optimised against this reward will try to cover several answers at once. So a
completion gets no answer at all when its explicit final answers disagree (shotgun
boxing), when the answer hedges ("3 or 4", `3 \\lor 4`, "either"), negates or disowns
itself ("not 5", `\\boxed{5 is wrong}`), or lists more values than the gold has. When
the gold lists k parts (`math_parts`), several boxes together may list them; "or"
then separates parts, and exactly k parts must be listed. Master-key completions (":",
"Thought process:") contain no answer and so score nothing, and a closing line that
restates the question states no answer. Unicode minus signs and full-width digits are
read as ASCII everywhere.

Answers are bounded before they are normalised or compared (`Limits`: characters, and
digits in one number); every pattern here runs in linear time on any input.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rewardsmith.verify.math_normalize import normalize
from rewardsmith.verify.math_parts import Part, distinct, split_items, split_parts
from rewardsmith.verify.math_prose import closing_value, negated, reduce_phrase
from rewardsmith.verify.text import (
    answer_phrase_spans,
    answer_tag_contents,
    boxed_contents,
    final_region,
    plain_digits,
)

MAX_ANSWER_CHARS = 1000
MAX_NUMBER_DIGITS = 300
POLICIES = ("closing_sentence", "strict")
THINK_RULES = ("fallback", "ignore")
_CONFLICTS_SHOWN = 4
_GSM8K = re.compile(r"####\s*+(?P<answer>[^\n<]++)")
_DIGITS = re.compile(r"\d++")
_HEDGE = re.compile(r"\b(?:either|possibly|maybe)\b|\?", re.IGNORECASE)
_ALTERNATIVE = re.compile(r"\bor\b|\\(?:lor|vee)\b", re.IGNORECASE)  # a hedge for one value
# one number with a decimal comma (1000,99), not a thousands group: the equivalence layer
# reads it against a decimal gold; as a list it could not equal one value anyway
_DECIMAL_COMMA = re.compile(r"[-+]?+[0-9]++,(?:[0-9]{1,2}|[0-9]{4,})")
_SENTENCE_END = re.compile(r"(?<=[^\d\\])\.(?:\s|$)|\.\s|[。！？]")
_BOX_OPENERS = ("\\boxed", "\\fbox")


# the reasons below, by their first words
REASON_CODES = (
    ("negated answer", "negated_answer"),
    ("conflicting final answers", "conflicting_answers"),
    ("hedged answer", "hedged_answer"),
    ("lists ", "wrong_part_count"),
)


@dataclass(frozen=True)
class Extraction:
    """The final answer found in a completion (normalised), or why there is none. `parts`
    are the answer's parts when the gold lists several (else the answer alone)."""

    answer: str | None
    source: str
    raw: str = ""
    reason: str = ""
    out_of_bounds: bool = False  # the answer exceeds the Limits (`reason` says which)
    parts: tuple[Part, ...] = ()

    @property
    def code(self) -> str:
        """What kind of `reason` this is, machine-readable (summaries count these); ''
        when an answer was found."""
        if self.answer is not None:
            return ""
        if self.out_of_bounds:
            return "answer_out_of_bounds"
        return next(
            (code for start, code in REASON_CODES if self.reason.startswith(start)), "no_answer"
        )


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


@dataclass(frozen=True)
class Rules:
    """How an answer is looked for (see the module docstring)."""

    on_conflict: str = "reject"  # or "last": the last of several explicit answers
    policy: str = "closing_sentence"  # or "strict"
    think: str = "fallback"  # or "ignore"
    limits: Limits = Limits()


def extract_answer(
    completion: str, parts: int = 1, prompt: str = "", rules: Rules = Rules()
) -> Extraction:
    """The completion's final answer, for a gold of `parts` parts.

    `prompt` guards the weakest marker: a closing line that only repeats the question
    ("Write 2/4 in lowest terms.") states no answer. An answer beyond `rules.limits`
    gives none, with `out_of_bounds` set.
    """
    completion = plain_digits(completion)
    region = final_region(completion)
    found = _search(region, parts, prompt, rules)
    fallback = rules.think == "fallback" and region != completion
    if fallback and found.answer is None and not found.reason:
        found = _search(completion, parts, prompt, rules)
    return found


def _search(text: str, parts: int, prompt: str, rules: Rules) -> Extraction:
    source, candidates = _candidates(text, prompt, rules.policy)
    if not candidates:
        return Extraction(None, "none", "", "")
    raw = candidates[-1]
    agree = source in ("answer_tag", "boxed") and rules.on_conflict == "reject"
    # Explicit answers must all agree, so they are read until enough disagree; otherwise
    # the answer is the last one that is not empty once normalised, so they are read from
    # the end. A repeated spelling is read once.
    found: dict[str, str] = {}  # normalised spelling -> the candidate as written
    for candidate in dict.fromkeys(candidates if agree else reversed(candidates)):
        if reason := rules.limits.exceeded(candidate):
            return Extraction(None, source, raw, reason, out_of_bounds=True)
        if source == "answer_phrase":  # a sentence reduced to its value, once it is read
            candidate = reduce_phrase(candidate)
        if negated(candidate):
            return Extraction(None, source, candidate, f"negated answer: {candidate.strip()}")
        if normalized := normalize(candidate):
            found.setdefault(normalized, candidate)
            if not agree or (parts == 1 and len(found) == _CONFLICTS_SHOWN):
                break
    if not found:
        return Extraction(None, source, raw, "empty answer")
    if parts > 1:
        return _parted(list(found.values()), source, raw, parts, rules.limits)
    if len(found) > 1:
        shown = "; ".join(found)
        return Extraction(None, source, raw, f"conflicting final answers: {shown}")
    [answer] = found
    return _checked(answer, source, raw, rules.limits)


def _candidates(text: str, prompt: str, policy: str) -> tuple[str, list[str]]:
    """The candidate answers of the most explicit marker present, and the marker's name."""
    tags = answer_tag_contents(text)
    if tags:
        return "answer_tag", [(boxed_contents(tag) or [tag])[-1] for tag in tags]
    boxed = boxed_contents(text)
    phrases = answer_phrase_spans(text)
    last_box = max(text.rfind(opener) for opener in _BOX_OPENERS)
    if boxed and not any(phrase.final and phrase.start > last_box for phrase in phrases):
        return "boxed", boxed
    if phrases:
        return "answer_phrase", [_cut_sentence(phrase.text) for phrase in phrases]
    gsm8k = [m.group("answer") for m in _GSM8K.finditer(text)]
    if gsm8k:
        return "gsm8k", gsm8k
    if policy == "strict" or _restates(_last_line(text), prompt):
        return "none", []
    value = closing_value(text, prompt)
    return "closing_sentence", [value] if value is not None else []


def _cut_sentence(answer: str) -> str:
    """'12. So we are done' -> '12' (a dot after a number that ends a sentence)."""
    match = _SENTENCE_END.search(answer)
    return answer[: match.start()] if match else answer


def _last_line(text: str) -> str:
    return text.rstrip().rsplit("\n", 1)[-1].strip()


def _restates(line: str, prompt: str) -> bool:
    """A line of several words that appears in the question (a bare number does not count)."""
    if not prompt:
        return False
    words = line.lower().rstrip(".").split()
    return len(words) > 1 and " ".join(words) in " ".join(prompt.lower().split())


def _checked(answer: str, source: str, raw: str, limits: Limits) -> Extraction:
    if reason := limits.exceeded(answer):  # normalising joins digits: 1\,000\,000
        return Extraction(None, source, raw, reason, out_of_bounds=True)
    if _HEDGE.search(answer) or _ALTERNATIVE.search(answer):
        return Extraction(None, source, raw, f"hedged answer: {answer}")
    if len(split_items(answer, most=1)) > 1 and not _DECIMAL_COMMA.fullmatch(answer):
        return Extraction(None, source, raw, "lists several values; the gold has 1")
    return Extraction(answer, source, raw, parts=(("", answer),))


def _parted(answers: list[str], source: str, raw: str, parts: int, limits: Limits) -> Extraction:
    """The parts that several agreeing or complementary answers (as written) list
    together."""
    joined = ", ".join(normalize(answer) for answer in answers)
    if reason := limits.exceeded(joined):
        return Extraction(None, source, raw, reason, out_of_bounds=True)
    if _HEDGE.search(joined):
        return Extraction(None, source, raw, f"hedged answer: {joined}")
    found = distinct([item for answer in answers for item in split_parts(answer)])
    if len(found) != parts:
        return Extraction(None, source, raw, f"lists {len(found)} values; the gold has {parts}")
    return Extraction(joined, source, raw, parts=found)
