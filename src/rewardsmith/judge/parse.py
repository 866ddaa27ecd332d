"""Reading a judge's structured (JSON) answer.

Strict JSON first; then, for models that wrap or surround their answer, the last fenced
```json block, and then the last top-level {...} object in the text.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

_FENCE = re.compile(r"```[ \t]*(?:json|JSON)?[ \t]*\n?(.*?)```", re.DOTALL)
_DECODER = json.JSONDecoder()


def parse_json_answer(
    text: str | None, schema_keys: Iterable[str] | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    """(object, None) when `text` holds a JSON object with every key of `schema_keys`;
    otherwise (None, reason)."""
    if text is None or not text.strip():
        return None, "empty answer"
    keys = list(schema_keys or [])
    stripped = text.strip()

    try:
        value = json.loads(stripped)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return _check_keys(value, keys)

    for block in reversed(_FENCE.findall(stripped)):
        try:
            value = json.loads(block.strip())
        except ValueError:
            continue
        if isinstance(value, dict):
            return _check_keys(value, keys)

    value = _last_object(stripped)
    if value is None:
        return None, "no JSON object in the answer"
    return _check_keys(value, keys)


def _last_object(text: str) -> dict[str, Any] | None:
    """The last top-level JSON object in `text` (objects nested in it are skipped)."""
    last = None
    i = text.find("{")
    while i != -1:
        try:
            value, end = _DECODER.raw_decode(text, i)
        except ValueError:
            i = text.find("{", i + 1)
            continue
        if isinstance(value, dict):
            last = value
        i = text.find("{", end)
    return last


def _check_keys(obj: dict[str, Any], keys: list[str]) -> tuple[dict[str, Any] | None, str | None]:
    missing = [k for k in keys if k not in obj]
    if missing:
        return None, f"JSON answer lacks key(s): {', '.join(missing)}"
    return obj, None
