"""Why a sample got no reward, as a countable word: the `code` its Score carries, else
its reason text with the values taken out."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from rewardsmith.core.types import Score

REASON_KEYS = ("error", "reason", "guard")
_VALUES = re.compile(r"'[^']*'|\"[^\"]*\"|`[^`]*`|-?\d+(?:\.\d+)?(?:e-?\d+)?|\\\S+")
_SPACE = re.compile(r"\s+")


def reasons(score: Score) -> list[str]:
    """The codes in `score.info` (at any depth), or its stripped reason text."""
    codes = sorted(set(_find(score.info, "code")))
    if codes:
        return codes
    text = reason_text(score)
    return [reason_kind(text)] if text else ["no_reason_given"]


def reason_text(score: Score) -> str:
    """The first human-readable reason in `score.info` (error, reason or guard), or ''."""
    return next((text for key in REASON_KEYS for text in _find(score.info, key)), "")


def reason_kind(text: str) -> str:
    """`text` with quoted values, numbers and LaTeX taken out, so that the same kind of
    problem reads the same: "chose B, gold is 'C'" -> "chose B, gold is …"."""
    kind = _VALUES.sub("…", text)
    return _SPACE.sub(" ", kind).strip()[:120]


def _find(info: Any, key: str) -> Iterator[str]:
    if isinstance(info, dict):
        for name, value in info.items():
            if name == key and isinstance(value, str):
                yield value
            else:
                yield from _find(value, key)
