"""The 25 verifiable instructions of IFEval (Zhou et al., "Instruction-Following
Evaluation for Large Language Models", arXiv 2311.07911), one check each, written here
from the paper's definitions and the dataset's instruction ids and kwargs.

`CHECKS[instruction_id](response, kwargs)` is True when the response follows the
instruction. Where IFEval's own code uses NLTK's sentence tokenizer (a model downloaded
at run time), sentences are counted here by a rule (text up to `.`, `!` or `?` followed
by a space or the end); languages are detected with `langdetect` (seeded), as IFEval
does, on the first 20,000 characters in lower case (IFEval reads all-capital English as
it is, which langdetect takes for another language). Every check is linear in the
response.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from langdetect import DetectorFactory, LangDetectException, detect

DetectorFactory.seed = 0  # langdetect is random unless seeded

Check = Callable[[str, Mapping[str, Any]], bool]
LANGUAGE_SAMPLE = 20_000  # characters: detection time grows with the text
CONSTRAINED_OPTIONS = ("My answer is yes.", "My answer is no.", "My answer is maybe.")
_WORD = re.compile(r"\w+")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")
_DIVIDER = re.compile(r"\s?\*\s?\*\s?\*\s?")
_PLACEHOLDER = re.compile(r"\[[^\[\]\n]*\]")
_STAR_BULLET = re.compile(r"^[ \t]*\*[^\*\n]", re.MULTILINE)
_DASH_BULLET = re.compile(r"^[ \t]*-", re.MULTILINE)
_HIGHLIGHT = re.compile(r"\*[^\n\*]*\*")
_TITLE = re.compile(r"<<[^\n<>]+>>")


def compare(count: int, relation: str, target: int) -> bool:
    """IFEval's relations: 'less than' (count < target) and 'at least' (count >= target)."""
    if relation == "less than":
        return count < target
    if relation == "at least":
        return count >= target
    raise ValueError(f"relation: expected 'less than' or 'at least', got {relation!r}")


def language_of(text: str) -> str:
    """The language langdetect finds in the first LANGUAGE_SAMPLE characters, read in
    lower case (langdetect takes all-capital English for other languages)."""
    try:
        return detect(text[:LANGUAGE_SAMPLE].lower())
    except LangDetectException:  # no letters to judge by
        return ""


def count_sentences(text: str) -> int:
    ends = len(_SENTENCE_END.findall(text))
    tail = text[_last_end(text) :].strip()
    return ends + bool(_WORD.search(tail))


def _last_end(text: str) -> int:
    last = 0
    for match in _SENTENCE_END.finditer(text):
        last = match.end()
    return last


def _keywords_exist(response: str, kw: Mapping[str, Any]) -> bool:
    lower = response.lower()
    return all(str(word).lower() in lower for word in kw["keywords"])


def _keyword_frequency(response: str, kw: Mapping[str, Any]) -> bool:
    count = response.lower().count(str(kw["keyword"]).lower())
    return compare(count, kw["relation"], int(kw["frequency"]))


def _forbidden_words(response: str, kw: Mapping[str, Any]) -> bool:
    words = {word.lower() for word in _WORD.findall(response)}
    return not any(str(word).lower() in words for word in kw["forbidden_words"])


def _letter_frequency(response: str, kw: Mapping[str, Any]) -> bool:
    count = response.lower().count(str(kw["letter"]).lower())
    return compare(count, kw["let_relation"], int(kw["let_frequency"]))


def _response_language(response: str, kw: Mapping[str, Any]) -> bool:
    return language_of(response) == kw["language"]


def _number_sentences(response: str, kw: Mapping[str, Any]) -> bool:
    return compare(count_sentences(response), kw["relation"], int(kw["num_sentences"]))


def _number_paragraphs(response: str, kw: Mapping[str, Any]) -> bool:
    paragraphs = _DIVIDER.split(response)
    count = len(paragraphs)
    for index, paragraph in enumerate(paragraphs):
        if not paragraph.strip():
            if 0 < index < len(paragraphs) - 1:
                return False  # an empty paragraph between dividers
            count -= 1
    return count == int(kw["num_paragraphs"])


def _number_words(response: str, kw: Mapping[str, Any]) -> bool:
    return compare(len(_WORD.findall(response)), kw["relation"], int(kw["num_words"]))


def _nth_paragraph_first_word(response: str, kw: Mapping[str, Any]) -> bool:
    paragraphs = [p for p in re.split(r"\n\n", response) if p.strip()]
    nth = int(kw["nth_paragraph"])
    if len(paragraphs) != int(kw["num_paragraphs"]) or not 0 < nth <= len(paragraphs):
        return False
    words = _WORD.findall(paragraphs[nth - 1])
    return bool(words) and words[0].lower() == str(kw["first_word"]).lower()


def _number_placeholders(response: str, kw: Mapping[str, Any]) -> bool:
    return len(_PLACEHOLDER.findall(response)) >= int(kw["num_placeholders"])


def _postscript(response: str, kw: Mapping[str, Any]) -> bool:
    marker = str(kw["postscript_marker"]).strip()
    if marker.upper() == "P.S.":
        pattern = r"p\.\s?s\."
    elif marker.upper() == "P.P.S":
        pattern = r"p\.\s?p\.\s?s"
    else:
        pattern = re.escape(marker.lower())
    return re.search(pattern, response.lower()) is not None


def _number_bullet_lists(response: str, kw: Mapping[str, Any]) -> bool:
    bullets = len(_STAR_BULLET.findall(response)) + len(_DASH_BULLET.findall(response))
    return bullets == int(kw["num_bullets"])


def _constrained_response(response: str, kw: Mapping[str, Any]) -> bool:
    stripped = response.strip()
    return any(option in stripped for option in CONSTRAINED_OPTIONS)


def _number_highlighted_sections(response: str, kw: Mapping[str, Any]) -> bool:
    highlights = [h for h in _HIGHLIGHT.findall(response) if h.strip("*").strip()]
    return len(highlights) >= int(kw["num_highlights"])


def _multiple_sections(response: str, kw: Mapping[str, Any]) -> bool:
    splitter = str(kw["section_spliter"]).strip()  # (IFEval's spelling)
    sections = re.split(r"\s?" + re.escape(splitter) + r"\s?\d+\s?", response)
    return len(sections) - 1 >= int(kw["num_sections"])


def _json_format(response: str, kw: Mapping[str, Any]) -> bool:
    text = response.strip()
    for fence in ("```json", "```Json", "```JSON", "```"):
        text = text.removeprefix(fence)
    text = text.removesuffix("```").strip()
    try:
        json.loads(text)
    except (ValueError, RecursionError):  # (nesting past the recursion limit)
        return False
    return True


def _title(response: str, kw: Mapping[str, Any]) -> bool:
    return any(title[2:-2].strip() for title in _TITLE.findall(response))


def _two_responses(response: str, kw: Mapping[str, Any]) -> bool:
    parts = response.split("******")
    kept = [part.strip() for part in parts if part.strip()]
    empty_inside = any(not part.strip() for part in parts[1:-1])
    return len(kept) == 2 and not empty_inside and kept[0] != kept[1]


def _repeat_prompt(response: str, kw: Mapping[str, Any]) -> bool:
    return response.strip().lower().startswith(str(kw["prompt_to_repeat"]).strip().lower())


def _end_checker(response: str, kw: Mapping[str, Any]) -> bool:
    return response.strip().lower().endswith(str(kw["end_phrase"]).strip().lower())


def _capital_word_frequency(response: str, kw: Mapping[str, Any]) -> bool:
    capitals = [word for word in _WORD.findall(response) if word.isupper()]
    return compare(len(capitals), kw["capital_relation"], int(kw["capital_frequency"]))


def _english_capital(response: str, kw: Mapping[str, Any]) -> bool:
    return response.isupper() and language_of(response) == "en"


def _english_lowercase(response: str, kw: Mapping[str, Any]) -> bool:
    return response.islower() and language_of(response) == "en"


def _no_comma(response: str, kw: Mapping[str, Any]) -> bool:
    return "," not in response


def _quotation(response: str, kw: Mapping[str, Any]) -> bool:
    text = response.strip()
    return len(text) > 1 and text[0] == '"' and text[-1] == '"'


CHECKS: dict[str, Check] = {
    "keywords:existence": _keywords_exist,
    "keywords:frequency": _keyword_frequency,
    "keywords:forbidden_words": _forbidden_words,
    "keywords:letter_frequency": _letter_frequency,
    "language:response_language": _response_language,
    "length_constraints:number_sentences": _number_sentences,
    "length_constraints:number_paragraphs": _number_paragraphs,
    "length_constraints:number_words": _number_words,
    "length_constraints:nth_paragraph_first_word": _nth_paragraph_first_word,
    "detectable_content:number_placeholders": _number_placeholders,
    "detectable_content:postscript": _postscript,
    "detectable_format:number_bullet_lists": _number_bullet_lists,
    "detectable_format:constrained_response": _constrained_response,
    "detectable_format:number_highlighted_sections": _number_highlighted_sections,
    "detectable_format:multiple_sections": _multiple_sections,
    "detectable_format:json_format": _json_format,
    "detectable_format:title": _title,
    "combination:two_responses": _two_responses,
    "combination:repeat_prompt": _repeat_prompt,
    "startend:end_checker": _end_checker,
    "change_case:capital_word_frequency": _capital_word_frequency,
    "change_case:english_capital": _english_capital,
    "change_case:english_lowercase": _english_lowercase,
    "punctuation:no_comma": _no_comma,
    "startend:quotation": _quotation,
}

# the kwargs each instruction needs (others in the dataset's rows are None or absent)
REQUIRED: dict[str, tuple[str, ...]] = {
    "keywords:existence": ("keywords",),
    "keywords:frequency": ("keyword", "frequency", "relation"),
    "keywords:forbidden_words": ("forbidden_words",),
    "keywords:letter_frequency": ("letter", "let_frequency", "let_relation"),
    "language:response_language": ("language",),
    "length_constraints:number_sentences": ("num_sentences", "relation"),
    "length_constraints:number_paragraphs": ("num_paragraphs",),
    "length_constraints:number_words": ("num_words", "relation"),
    "length_constraints:nth_paragraph_first_word": (
        "num_paragraphs",
        "nth_paragraph",
        "first_word",
    ),
    "detectable_content:number_placeholders": ("num_placeholders",),
    "detectable_content:postscript": ("postscript_marker",),
    "detectable_format:number_bullet_lists": ("num_bullets",),
    "detectable_format:number_highlighted_sections": ("num_highlights",),
    "detectable_format:multiple_sections": ("section_spliter", "num_sections"),
    "combination:repeat_prompt": ("prompt_to_repeat",),
    "startend:end_checker": ("end_phrase",),
    "change_case:capital_word_frequency": ("capital_frequency", "capital_relation"),
}


def loose_variants(response: str) -> list[str]:
    """IFEval's loose reading: the response, without its first line, its last line, or
    both, each also without markdown asterisks."""
    lines = response.split("\n")
    cut = [response, "\n".join(lines[1:]).strip(), "\n".join(lines[:-1]).strip(),
           "\n".join(lines[1:-1]).strip()]  # fmt: skip
    return [v for text in cut for v in (text, text.replace("*", "")) if v.strip()]
