"""Symbolic equivalence through math-verify, run inside worker processes.

math-verify's own timeouts use `signal.alarm`, which only works in a main thread; here
they are switched off (`parsing_timeout=None`, `timeout_seconds=None`) and the caller's
worker pool enforces the time limit by killing the process instead. Parses are cached
per worker, bounded by entries and by an estimate of the bytes the expressions hold.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from rewardsmith.core.cache import cached

PARSE_CACHE_ENTRIES, PARSE_CACHE_BYTES = 8192, 64 << 20


def warm_up() -> None:
    """Worker initializer: import math-verify and its LaTeX parser once, quietly."""
    logging.getLogger("math_verify").setLevel(logging.ERROR)
    _parse("1")


def _parsed_size(args: tuple[str], parsed: list[Any]) -> int:
    """Bytes a cached parse holds, roughly: the answer, and every node of every parsed
    expression (matrices included) with its tuple of arguments."""
    from sympy import Basic, MatrixBase, preorder_traversal

    total = sys.getsizeof(args[0])
    for item in parsed:
        expr = item.as_immutable() if isinstance(item, MatrixBase) else item
        nodes = preorder_traversal(expr) if isinstance(expr, Basic) else [expr]
        total += sum(
            sys.getsizeof(node) + sys.getsizeof(getattr(node, "args", ())) for node in nodes
        )
    return total


@cached(PARSE_CACHE_ENTRIES, PARSE_CACHE_BYTES, sizeof=_parsed_size)
def _parse(answer: str) -> list[Any]:
    from math_verify import parse

    return parse(f"${answer}$", parsing_timeout=None)


def symbolic_equal(gold: str, pred: str) -> tuple[bool | None, str]:
    """(equivalent, note) for two normalised answers; None when the gold cannot be parsed.

    Parsed golds are cached per worker, so a group's samples share one parse.
    """
    from math_verify import verify

    gold_parsed = _parse(gold)
    if not gold_parsed:
        return None, "reference: could not be parsed as a math answer"
    pred_parsed = _parse(pred)
    if not pred_parsed:
        return False, "answer could not be parsed"
    return bool(verify(gold_parsed, pred_parsed, timeout_seconds=None)), ""
