"""Reading a judge's structured (JSON) answer.

Strict JSON first; then, for models that wrap or surround their answer, the last fenced
```json block, and then the last top-level {...} object in the text. A judge's reply may
echo what the policy wrote, so all of it runs in linear time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

_FENCE = re.compile(r"```[ \t]*+(?:json|JSON)?+[ \t]*+\n?+(.*?)```", re.DOTALL)


def _int(digits: str) -> int | float:
    """A JSON integer; one too long for int() reads as a float, as `1e5000` already does."""
    try:
        return int(digits)
    except ValueError:
        return float(digits)


_DECODER = json.JSONDecoder(parse_int=_int)
_WS = r"[ \t\n\r]*+"
_STRING = r'"(?:[^"\\]++|\\.)*+"'
_NUMBER = r"-?+(?:0|[1-9][0-9]*+)(?:\.[0-9]++)?+(?:[eE][-+]?+[0-9]++)?+"
_SCALAR = f"(?:{_STRING}|{_NUMBER}|true|false|null|NaN|-?+Infinity)"
# How a JSON object starts: `{}`, or `{`, a key, `:` and a value that is an object or an
# array, or a plain value then `,` or `}`. Any other `{` fails to decode at once (as many
# do in hostile text, an exception each), so it is not tried.
_OBJECT_START = re.compile(
    f"\\{{{_WS}(?:\\}}|{_STRING}{_WS}:{_WS}(?:[{{\\[]|{_SCALAR}{_WS}[,}}]))", re.DOTALL
)
_WINDOW = 256  # characters decoded at first from each `{`
_LOOKAHEAD = 16  # the most the decoder reads past where it reports an error ("-Infinity")
# The strings (perhaps cut off where the prefix ends) and brackets of valid JSON text.
_LEXEME = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)|[{}\[\]]', re.DOTALL)


def parse_json_answer(
    text: str | None, schema_keys: Iterable[str] | None = None
) -> tuple[dict[str, Any] | None, str | None]:
    """(object, None) when `text` holds a JSON object with every key of `schema_keys`;
    otherwise (None, reason)."""
    if text is None or not text.strip():
        return None, "empty answer"
    try:
        value = _json_object(text.strip())
    except RecursionError:  # the json module's answer to nesting deeper than the stack
        return None, "the JSON answer is nested too deeply"
    if value is None:
        return None, "no JSON object in the answer"
    return _check_keys(value, list(schema_keys or []))


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = _DECODER.decode(text)
    except ValueError:
        value = None
    if isinstance(value, dict):
        return value
    for block in reversed(_FENCE.findall(text)):
        try:
            value = _DECODER.decode(block.strip())
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return _last_object(text)


def _last_object(text: str) -> dict[str, Any] | None:
    """The last top-level JSON object in `text` (objects nested in it are skipped).

    Where decoding from a `{` fails, the objects closed inside the part that did decode
    count too; they are found by lexing that part once (braces inside its strings are
    text), not by decoding again from each `{` in it, which would cost the nesting depth
    times the length.
    """
    last = None
    failed: list[tuple[int, int]] = []  # the failed decodes after `last`: (start, where)
    found = _OBJECT_START.search(text)
    while found:
        start = found.start()
        value, end, ok = _decode_at(text, start)
        if ok:
            last, failed = value, []
        else:
            failed.append((start, end))
        found = _OBJECT_START.search(text, max(end, start + 1))
    for start, end in reversed(failed):
        inner = _last_closed_object(text, start, end)
        if inner is not None:
            return _decode_at(text, inner)[0]
    return last


def _decode_at(text: str, start: int) -> tuple[Any, int, bool]:
    """(value, end, True) for the JSON value at `start`, else (None, where decoding
    failed, False).

    Decodes a window of `text` that doubles until the outcome cannot depend on what lies
    past it: a JSONDecodeError counts the lines of the whole string it was given, so
    decoding `text` itself from each of many `{` would cost quadratic time.
    """
    size = _WINDOW
    while True:
        window = text[start : start + size]
        try:
            value, end = _DECODER.raw_decode(window)
            return value, start + end, True
        except json.JSONDecodeError as exc:
            read_to_end = exc.pos >= len(window) - _LOOKAHEAD or exc.msg.startswith(
                "Unterminated string"
            )
            if not read_to_end or start + size >= len(text):
                return None, start + exc.pos, False
        size *= 2


def _last_closed_object(text: str, start: int, stop: int) -> int | None:
    """Where the last object closed within `text[start:stop]`, a valid JSON prefix,
    starts (None when none is): the last top-level object the prefix holds."""
    opened: list[int] = []
    last = None
    for lexeme in _LEXEME.finditer(text, start, stop):
        token = lexeme.group()
        if token in ("{", "["):
            opened.append(lexeme.start())
        elif token in ("}", "]") and opened:
            position = opened.pop()
            if token == "}":
                last = position
    return last


def _check_keys(obj: dict[str, Any], keys: list[str]) -> tuple[dict[str, Any] | None, str | None]:
    missing = [k for k in keys if k not in obj]
    if missing:
        return None, f"JSON answer lacks key(s): {', '.join(missing)}"
    return obj, None
